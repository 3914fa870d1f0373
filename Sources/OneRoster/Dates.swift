import Foundation

/// A calendar date without time or zone (`YYYY-MM-DD`), as OneRoster uses for start, end and birth dates.
///
/// Stored in four bytes; encodes to and decodes from the `YYYY-MM-DD` string form.
public struct OneRosterDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The year (1...9999).
    public var year: Int16
    /// The month (1...12).
    public var month: UInt8
    /// The day of the month (1...31, valid for the month).
    public var day: UInt8

    /// Creates a date if the components form a real calendar date.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
              day >= 1, day <= OneRosterDate.daysIn(month: month, year: year) else { return nil }
        self.year = Int16(year)
        self.month = UInt8(month)
        self.day = UInt8(day)
    }

    /// Parses exactly `YYYY-MM-DD`; returns `nil` for anything else (including `2023-2-1` or `1/05/2023`).
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ OneRosterDate.parse($0, 0) }), parsed.1 == text.utf8.count else { return nil }
        self = parsed.0
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        var bytes = [UInt8](repeating: 0x30, count: 10)
        OneRosterDate.write(Int(year), digits: 4, into: &bytes, at: 0)
        bytes[4] = 0x2D
        OneRosterDate.write(Int(month), digits: 2, into: &bytes, at: 5)
        bytes[7] = 0x2D
        OneRosterDate.write(Int(day), digits: 2, into: &bytes, at: 8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int { OneRosterDate.daysFromCivil(Int(year), Int(month), Int(day)) }

    /// Chronological order.
    public static func < (lhs: OneRosterDate, rhs: OneRosterDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Decodes from a `YYYY-MM-DD` string.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let d = OneRosterDate(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a YYYY-MM-DD date: \(s)")
        }
        self = d
    }

    /// Encodes as a `YYYY-MM-DD` string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func write(_ value: Int, digits: Int, into bytes: inout [UInt8], at offset: Int) {
        var v = value
        for k in stride(from: digits - 1, through: 0, by: -1) {
            bytes[offset + k] = UInt8(0x30 + v % 10)
            v /= 10
        }
    }

    /// Parses `YYYY-MM-DD` at `start`; returns the date and the index after it.
    static func parse(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> (OneRosterDate, Int)? {
        guard b.count - start >= 10, b[start + 4] == 0x2D, b[start + 7] == 0x2D,
              let y = digits(b, start, 4), let m = digits(b, start + 5, 2), let d = digits(b, start + 8, 2),
              let date = OneRosterDate(year: y, month: m, day: d) else { return nil }
        return (date, start + 10)
    }

    static func digits(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ n: Int) -> Int? {
        guard start + n <= b.count else { return nil }
        var v = 0
        for k in start..<(start + n) {
            let c = b[k]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            v = v * 10 + Int(c - 0x30)
        }
        return v
    }

    /// Howard Hinnant's days_from_civil.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }
}

/// Parsing of OneRoster `dateLastModified` timestamps.
public enum OneRosterTimestamp {
    /// The outcome of parsing a timestamp.
    public enum Parsed: Sendable, Equatable {
        /// A full ISO 8601 date-time with a zone (`Z` or `±HH:MM`).
        case dateTime(Date)
        /// A bare `YYYY-MM-DD`, read as midnight UTC (tolerated, but not what the standard asks for).
        case dateOnly(Date)
        /// A date-time without a zone, read as UTC (tolerated with a warning).
        case noZone(Date)
    }

    /// Parses `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM|±HHMM)`, or a bare date, or a zone-less date-time.
    /// Returns `nil` for anything else.
    public static func parse(_ text: String) -> Parsed? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Parsed? {
        guard let (date, afterDate) = OneRosterDate.parse(b, 0) else { return nil }
        let dayStart = Double(date.daysSinceEpoch) * 86_400
        if afterDate == b.count { return .dateOnly(Date(timeIntervalSince1970: dayStart)) }
        var i = afterDate
        guard b[i] == 0x54 || b[i] == 0x74 else { return nil } // T or t
        i += 1
        guard let hh = OneRosterDate.digits(b, i, 2), i + 2 < b.count, b[i + 2] == 0x3A,
              let mm = OneRosterDate.digits(b, i + 3, 2), hh < 24, mm < 60 else { return nil }
        i += 5
        var seconds = Double(hh * 3600 + mm * 60)
        if i < b.count, b[i] == 0x3A {
            guard let ss = OneRosterDate.digits(b, i + 1, 2), ss <= 60 else { return nil }
            seconds += Double(ss)
            i += 3
            if i < b.count, b[i] == 0x2E || b[i] == 0x2C {
                i += 1
                var scale = 0.1
                let fracStart = i
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    seconds += Double(b[i] - 0x30) * scale
                    scale /= 10
                    i += 1
                }
                guard i > fracStart else { return nil }
            }
        }
        if i == b.count { return .noZone(Date(timeIntervalSince1970: dayStart + seconds)) }
        if (b[i] == 0x5A || b[i] == 0x7A) && i + 1 == b.count {
            return .dateTime(Date(timeIntervalSince1970: dayStart + seconds))
        }
        guard b[i] == 0x2B || b[i] == 0x2D else { return nil }
        let sign: Double = b[i] == 0x2B ? 1 : -1
        i += 1
        guard let oh = OneRosterDate.digits(b, i, 2) else { return nil }
        i += 2
        var om = 0
        if i < b.count, b[i] == 0x3A { i += 1 }
        if i < b.count {
            guard let m = OneRosterDate.digits(b, i, 2) else { return nil }
            om = m
            i += 2
        }
        guard i == b.count, oh < 24, om < 60 else { return nil }
        return .dateTime(Date(timeIntervalSince1970: dayStart + seconds - sign * Double(oh * 3600 + om * 60)))
    }

    /// Formats a date as `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC).
    public static func format(_ date: Date) -> String {
        let totalMillis = Int((date.timeIntervalSince1970 * 1000).rounded())
        var days = totalMillis >= 0 ? totalMillis / 86_400_000 : (totalMillis - 86_399_999) / 86_400_000
        let msOfDay = totalMillis - days * 86_400_000
        // civil_from_days
        days += 719468
        let era = (days >= 0 ? days : days - 146096) / 146097
        let doe = days - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int, _ n: Int) -> String {
            let s = String(v)
            return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
        }
        let h = msOfDay / 3_600_000, mi = (msOfDay / 60_000) % 60, s = (msOfDay / 1000) % 60, ms = msOfDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }
}
