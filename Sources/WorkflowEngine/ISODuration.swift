import Foundation

/// An ISO 8601 duration such as `P3D`, `PT12H` or `P1DT30M`, as used by workflow timers.
///
/// Years and months are refused: their length depends on the calendar, and a reminder must mean the
/// same span every time. Weeks, days, hours, minutes and seconds are accepted.
public struct ISODuration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The duration in seconds.
    public let seconds: Int
    /// The text it was parsed from.
    public let text: String

    public var description: String { text }

    /// Parses `text`; returns nil when it is not a duration of weeks, days, hours, minutes and seconds.
    public init?(_ text: String) {
        let chars = Array(text.uppercased())
        guard chars.first == "P", chars.count > 1 else { return nil }
        var total = 0
        var number = ""
        var inTime = false
        var sawComponent = false
        var lastRank = -1
        for c in chars.dropFirst() {
            if c.isNumber {
                number.append(c)
                continue
            }
            if c == "T" {
                guard !inTime, number.isEmpty else { return nil }
                inTime = true
                lastRank = 3
                continue
            }
            guard let value = Int(number) else { return nil }
            number = ""
            let (rank, unit): (Int, Int)
            switch (c, inTime) {
            case ("W", false): (rank, unit) = (1, 7 * 86_400)
            case ("D", false): (rank, unit) = (2, 86_400)
            case ("H", true): (rank, unit) = (4, 3_600)
            case ("M", true): (rank, unit) = (5, 60)
            case ("S", true): (rank, unit) = (6, 1)
            default: return nil
            }
            guard rank > lastRank else { return nil }
            lastRank = rank
            let (product, overflow) = value.multipliedReportingOverflow(by: unit)
            guard !overflow else { return nil }
            total += product
            sawComponent = true
        }
        guard number.isEmpty, sawComponent, total > 0 else { return nil }
        self.seconds = total
        self.text = text
    }

    /// Decodes a duration from its text, e.g. `P3D`.
    ///
    /// - Throws: `DecodingError.dataCorrupted` when the text is not a duration ``init(_:)`` accepts.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = ISODuration(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad duration \(text)"))
        }
        self = parsed
    }

    /// Encodes the duration as the text it was parsed from.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}
