import Foundation

/// Caps on what one bundle may make RosterFlow read, extract or keep: bundles come from thousands of districts'
/// exports and are treated as untrusted.
///
/// The defaults fit a district with 2,000,000 enrollments (its enrollments.csv is a few hundred MB, compressed
/// about ten to one) with room to spare, and stop a zip bomb, a runaway line or a spreadsheet pasted into one cell.
/// Each can be changed with an environment variable (see ``fromEnvironment(_:)``), read when
/// ``OneRosterBundleReader/Options`` is created.
public struct InputLimits: Sendable, Equatable {
    /// Largest uncompressed size of one zip entry, in bytes. Default 2 GiB (`ROSTERFLOW_MAX_ZIP_ENTRY_MB`).
    public var maxZipEntryBytes: Int64
    /// Largest uncompressed size of all entries read from one zip, in bytes. Default 4 GiB (`ROSTERFLOW_MAX_ZIP_TOTAL_MB`).
    public var maxZipTotalBytes: Int64
    /// Largest ratio of uncompressed to compressed size of one zip entry (checked once an entry passes 1 MiB).
    /// Default 200 (`ROSTERFLOW_MAX_ZIP_RATIO`); CSV exports compress about 5–20 to one, zip bombs a thousand.
    public var maxZipRatio: Int64
    /// Longest value of one CSV field, in bytes. Default 64 KiB (`ROSTERFLOW_MAX_FIELD_KB`).
    public var maxFieldBytes: Int
    /// Longest CSV row, in bytes. Default 1 MiB (`ROSTERFLOW_MAX_ROW_KB`).
    public var maxRowBytes: Int
    /// Most columns in a header (and fields in a row). Default 2,000 (`ROSTERFLOW_MAX_COLUMNS`).
    public var maxColumns: Int

    /// Creates limits; every argument defaults to the built-in default.
    public init(maxZipEntryBytes: Int64 = 2 << 30, maxZipTotalBytes: Int64 = 4 << 30, maxZipRatio: Int64 = 200,
                maxFieldBytes: Int = 64 << 10, maxRowBytes: Int = 1 << 20, maxColumns: Int = 2_000) {
        self.maxZipEntryBytes = maxZipEntryBytes
        self.maxZipTotalBytes = maxZipTotalBytes
        self.maxZipRatio = maxZipRatio
        self.maxFieldBytes = maxFieldBytes
        self.maxRowBytes = maxRowBytes
        self.maxColumns = maxColumns
    }

    /// The built-in defaults.
    public static let defaults = InputLimits()

    /// The environment variables that override the defaults, with the unit each is given in.
    public static let environmentKnobs: [(name: String, unit: String)] = [
        ("ROSTERFLOW_MAX_ZIP_ENTRY_MB", "MiB"), ("ROSTERFLOW_MAX_ZIP_TOTAL_MB", "MiB"), ("ROSTERFLOW_MAX_ZIP_RATIO", "ratio"),
        ("ROSTERFLOW_MAX_FIELD_KB", "KiB"), ("ROSTERFLOW_MAX_ROW_KB", "KiB"), ("ROSTERFLOW_MAX_COLUMNS", "columns"),
    ]

    /// The defaults, with each limit whose environment variable is set to a positive whole number replaced by it.
    /// A variable set to anything else is a mistake the caller should report: see ``environmentProblems(_:)``.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> InputLimits {
        var limits = InputLimits()
        func value(_ name: String) -> Int64? {
            guard let text = env[name], let n = Int64(text.trimmingCharacters(in: .whitespaces)), n > 0 else { return nil }
            return n
        }
        if let n = value("ROSTERFLOW_MAX_ZIP_ENTRY_MB") { limits.maxZipEntryBytes = n.multipliedReportingOverflow(by: 1 << 20).partialValue }
        if let n = value("ROSTERFLOW_MAX_ZIP_TOTAL_MB") { limits.maxZipTotalBytes = n.multipliedReportingOverflow(by: 1 << 20).partialValue }
        if let n = value("ROSTERFLOW_MAX_ZIP_RATIO") { limits.maxZipRatio = n }
        if let n = value("ROSTERFLOW_MAX_FIELD_KB") { limits.maxFieldBytes = Int(clamping: n.multipliedReportingOverflow(by: 1 << 10).partialValue) }
        if let n = value("ROSTERFLOW_MAX_ROW_KB") { limits.maxRowBytes = Int(clamping: n.multipliedReportingOverflow(by: 1 << 10).partialValue) }
        if let n = value("ROSTERFLOW_MAX_COLUMNS") { limits.maxColumns = Int(clamping: n) }
        return limits
    }

    /// One sentence per limit variable that is set but is not a positive whole number (empty when all are fine).
    public static func environmentProblems(_ env: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        environmentKnobs.compactMap { knob in
            guard let text = env[knob.name] else { return nil }
            if let n = Int64(text.trimmingCharacters(in: .whitespaces)), n > 0 { return nil }
            return "\(knob.name) is `\(reportExcerpt(text))`, which is not a positive whole number of \(knob.unit); the default is used"
        }
    }
}

/// A value short enough to quote in a report, an e-mail or a terminal line: at most `limit` characters, followed by
/// `… (N bytes)` when it was cut.
public func reportExcerpt(_ value: String, limit: Int = 80) -> String {
    // Cheap test first: a value of at most `limit` bytes has at most `limit` characters. Cut by Unicode scalars, so a
    // value of one huge grapheme cluster costs no more than its length.
    if value.utf8.count <= limit { return value }
    let scalars = value.unicodeScalars
    guard let end = scalars.index(scalars.startIndex, offsetBy: limit, limitedBy: scalars.endIndex),
          end != scalars.endIndex else { return value }
    return String(scalars[..<end]) + "… (\(value.utf8.count) bytes)"
}
