import Foundation

// What a reader loads with a warning instead of quarantining, decided on parsed values (not on CSV text) so that any
// ``RosterSource`` — a CSV bundle, a OneRoster REST endpoint — applies the same tolerances the same way.

extension IssueCode {
    /// The tolerances: faults a reader loads past with a warning saying what it assumed. An integration's policy can
    /// make any of them an error (`rosterflow integrations policy ID --strict CODE…`), which quarantines the row again.
    public static let tolerances: [IssueCode] = [
        .danglingOptionalReference, .enumLetterCase, .nonISOTimestamp, .unreadableTimestamp, .impreciseTimestamp,
        .legacyStatus,
    ]

    /// Whether the code is one of the ``tolerances``.
    public var isTolerance: Bool { Self.tolerances.contains(self) }
}

/// Which tolerances a read applies: every one of ``IssueCode/tolerances`` except those made strict.
public struct ReadingTolerance: Sendable, Equatable {
    /// Tolerances reported as errors (the row is quarantined) instead of warnings.
    public var strict: Set<IssueCode>

    /// Tolerant of everything but `strict`.
    public init(strict: Set<IssueCode> = []) { self.strict = strict }

    /// Whether `code` is tolerated (loaded with a warning) rather than an error.
    public func tolerates(_ code: IssueCode) -> Bool { !strict.contains(code) }

    /// The severity a tolerated fault of `code` is reported with.
    public func severity(of code: IssueCode) -> Severity { tolerates(code) ? .warning : .error }

    /// The sentence added to an issue made an error by policy.
    public static func strictNote(_ code: IssueCode) -> String {
        "This integration's policy makes `\(code.rawValue)` an error (`--strict`), so the row was not loaded."
    }
}

extension OneRosterEnumeration {
    /// The standard value `raw` names when only its letter case differs (`Scheduled` → `scheduled`); `nil` when it
    /// is exact, or names no standard value in any case. Extension (`ext:`) tokens are never folded.
    public static func letterCaseMatch(_ raw: String) -> Self? {
        guard Self(rawValue: raw) == nil else { return nil }
        let folded = raw.lowercased()
        return allCases.first { $0.rawValue.lowercased() == folded }
    }
}

/// A `true`/`false` value read with its letter case ignored, and whether its case was off (`TRUE`, `False`).
public func oneRosterBoolean(_ raw: String) -> (value: Bool, letterCase: Bool)? {
    switch raw {
    case "true": return (true, false)
    case "false": return (false, false)
    default:
        switch raw.lowercased() {
        case "true": return (true, true)
        case "false": return (false, true)
        default: return nil
        }
    }
}

/// How a `dateLastModified` value was read when it is not the ISO 8601 date-time with zone OneRoster asks for.
///
/// `dateLastModified` is bookkeeping, not roster data: a value that cannot be read without guessing is kept as unknown
/// and never costs the row.
public enum LenientTimestamp: Sendable, Equatable {
    /// ISO 8601 with a zone: nothing to say.
    case exact(Date)
    /// A bare date or a `T` date-time without zone (``IssueCode/impreciseTimestamp``), read as UTC.
    case imprecise(Date, dateOnly: Bool)
    /// A date-time written with a space instead of `T` (`2017-05-06 08:01:05`), read as UTC when it has no zone
    /// (``IssueCode/nonISOTimestamp``).
    case spaceSeparated(Date)
    /// Ambiguous or unreadable (`1/05/2023`): kept as unknown (``IssueCode/unreadableTimestamp``).
    case unreadable

    /// Reads `text`.
    public init(_ text: String) {
        switch OneRosterTimestamp.parse(text) {
        case .dateTime(let d)?: self = .exact(d)
        case .dateOnly(let d)?: self = .imprecise(d, dateOnly: true)
        case .noZone(let d)?: self = .imprecise(d, dateOnly: false)
        case nil:
            // `YYYY-MM-DD HH:MM[:SS[.fff]][zone]`: the ISO form with a space for the `T`.
            let bytes = Array(text.utf8)
            if bytes.count > 11, bytes[10] == 0x20 {
                var iso = bytes
                iso[10] = 0x54
                switch OneRosterTimestamp.parse(String(decoding: iso, as: UTF8.self)) {
                case .dateTime(let d)?, .noZone(let d)?:
                    self = .spaceSeparated(d)
                    return
                default: break
                }
            }
            self = .unreadable
        }
    }

    /// The instant read, or `nil` when unknown.
    public var date: Date? {
        switch self {
        case .exact(let d), .imprecise(let d, _), .spaceSeparated(let d): return d
        case .unreadable: return nil
        }
    }

    /// The tolerance code that applies, `nil` for an exact value.
    public var tolerance: IssueCode? {
        switch self {
        case .exact: return nil
        case .imprecise: return .impreciseTimestamp
        case .spaceSeparated: return .nonISOTimestamp
        case .unreadable: return .unreadableTimestamp
        }
    }
}

/// The calendar readings of a date written day and month in either order (`1/05/2023`, `13.05.2023`, `05-01-2023`),
/// for a message that names them: both when both are real dates, one when only one is.
public func possibleDateReadings(_ text: String) -> (monthFirst: OneRosterDate?, dayFirst: OneRosterDate?)? {
    let parts = text.split(whereSeparator: { $0 == "/" || $0 == "." || $0 == "-" }).map(String.init)
    guard parts.count == 3, parts[2].count == 4, (1...2).contains(parts[0].count), (1...2).contains(parts[1].count),
          let a = Int(parts[0]), let b = Int(parts[1]), let y = Int(parts[2]) else { return nil }
    let monthFirst = OneRosterDate(year: y, month: a, day: b)
    let dayFirst = OneRosterDate(year: y, month: b, day: a)
    guard monthFirst != nil || dayFirst != nil else { return nil }
    return (monthFirst, dayFirst)
}
