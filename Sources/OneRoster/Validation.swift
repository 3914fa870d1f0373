import Foundation

/// How serious a validation issue is.
public enum Severity: String, OneRosterEnumeration, Comparable {
    /// The row (or file) was not loaded.
    case error
    /// Loaded, but something is off and should be fixed at the source.
    case warning
    /// Worth knowing; nothing to fix.
    case info

    var rank: Int {
        switch self {
        case .error: return 0
        case .warning: return 1
        case .info: return 2
        }
    }

    /// Errors first, then warnings, then infos.
    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}

/// Stable machine-readable code of a validation issue.
public enum IssueCode: String, OneRosterEnumeration {
    /// A required column is present but the row's value is blank.
    case missingRequiredValue = "missing-required-value"
    /// A column whose value is required is not in the header at all; every row of the file is quarantined.
    case missingRequiredColumn = "missing-required-column"
    /// A value is not one of the enumeration's allowed values.
    case unknownEnumValue = "unknown-enum-value"
    /// A date is not `YYYY-MM-DD` or a timestamp is not ISO 8601 with a zone.
    case badDate = "bad-date"
    /// A timestamp was given as a bare date or without a zone; read as UTC.
    case impreciseTimestamp = "imprecise-timestamp"
    /// An end date is before the start date.
    case endBeforeStart = "end-before-start"
    /// A boolean is not `true` or `false`.
    case badBoolean = "bad-boolean"
    /// A school year is not a four-digit year.
    case badYear = "bad-year"
    /// A `{type:id}` user identifier is malformed.
    case badUserId = "bad-user-id"
    /// A grade is not a CEDS grade-level code.
    case nonstandardGrade = "nonstandard-grade"
    /// A reference names a record that is neither in the bundle nor already held.
    case danglingReference = "dangling-reference"
    /// The same sourcedId appears twice in one file.
    case duplicateSourcedId = "duplicate-sourced-id"
    /// A header looks like a misspelling of a defined column.
    case misspeltHeader = "misspelt-header"
    /// The same header appears twice.
    case duplicateHeader = "duplicate-header"
    /// A column the standard does not define and that is not a `metadata.*` column.
    case unknownColumn = "unknown-column"
    /// A row has more or fewer fields than the header.
    case wrongFieldCount = "wrong-field-count"
    /// A value, a row or a row's number of values passes the caps of ``InputLimits``; the row was cut and quarantined.
    case rowTooLarge = "row-too-large"
    /// A field is not valid UTF-8.
    case invalidUTF8 = "invalid-utf8"
    /// A quoted field contains a line break (forbidden by OneRoster, but parsed).
    case lineBreakInField = "line-break-in-field"
    /// A stray or unterminated double quote.
    case badQuoting = "bad-quoting"
    /// A value contains a NUL byte (kept as read).
    case nulByte = "nul-byte"
    /// The legacy status `inactive` was read as `tobedeleted`.
    case legacyStatus = "legacy-status"
    /// A 1.2 user has no role in roles.csv.
    case userWithoutRole = "user-without-role"
    /// The bundle has no manifest.csv.
    case manifestMissing = "manifest-missing"
    /// A manifest value is not allowed (unknown mode, missing or unsupported version...).
    case manifestBadValue = "manifest-bad-value"
    /// The manifest names a file this version does not define.
    case manifestUnknownFile = "manifest-unknown-file"
    /// The manifest says a file is bulk or delta but the file is not in the bundle.
    case manifestMissingFile = "manifest-missing-file"
    /// A CSV file is in the bundle but the manifest marks it absent or does not list it; it was ignored.
    case fileNotInManifest = "file-not-in-manifest"
    /// A bulk or delta file has no data rows.
    case emptyFile = "empty-file"
    /// A file is present but not read (not a rostering file).
    case fileNotRead = "file-not-read"
    /// The files sit in a folder inside the zip instead of at its root.
    case filesInSubfolder = "files-in-subfolder"
    /// A record from a REST provider is not a JSON object, or one of its fields has a JSON shape OneRoster does not
    /// allow there (e.g. an object where a name belongs).
    case malformedRecord = "malformed-record"
}

/// Where a validation issue was found: a position in a file (CSV bundles), or a record reference for a source that has
/// no files (a OneRoster REST endpoint: the entity, the record's sourcedId and the page it came on).
///
/// Encoded as an object with a `kind` of `file` (`file`, `line`, `column`) or `record` (`entity`, `sourcedId`, `page`).
public enum IssueLocation: Sendable, Equatable, Codable {
    /// A file, with the 1-based physical line of the row (1 for the header; `nil` for file-level issues) and the column
    /// (header name) when the issue is about one value.
    case file(name: String, line: Int?, column: String?)
    /// A record: its entity (e.g. `users`), its sourcedId, and the 1-based page it was read on, when the source pages.
    case record(entity: String, sourcedId: String, page: Int?)

    private enum Kind: String, Codable { case file, record }
    private enum CodingKeys: String, CodingKey { case kind, file, line, column, entity, sourcedId, page }

    /// Decodes either shape (see the type's description).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(Kind.self, forKey: .kind) {
        case .file:
            self = .file(name: try c.decode(String.self, forKey: .file), line: try c.decodeIfPresent(Int.self, forKey: .line),
                         column: try c.decodeIfPresent(String.self, forKey: .column))
        case .record:
            self = .record(entity: try c.decode(String.self, forKey: .entity),
                           sourcedId: try c.decode(String.self, forKey: .sourcedId),
                           page: try c.decodeIfPresent(Int.self, forKey: .page))
        }
    }

    /// Encodes the shape described on the type.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .file(let name, let line, let column):
            try c.encode(Kind.file, forKey: .kind)
            try c.encode(name, forKey: .file)
            try c.encodeIfPresent(line, forKey: .line)
            try c.encodeIfPresent(column, forKey: .column)
        case .record(let entity, let sourcedId, let page):
            try c.encode(Kind.record, forKey: .kind)
            try c.encode(entity, forKey: .entity)
            try c.encode(sourcedId, forKey: .sourcedId)
            try c.encodeIfPresent(page, forKey: .page)
        }
    }

    /// `file:line` (or just the file), or `record ID of ENTITY` (`, page N`).
    public var text: String {
        switch self {
        case .file(let name, let line, _):
            if let line { return "\(name):\(line)" }
            return name
        case .record(let entity, let sourcedId, let page):
            return "record \(sourcedId) of \(entity)" + (page.map { ", page \($0)" } ?? "")
        }
    }
}

/// One problem found in a bundle, phrased for the district's OneRoster administrator.
///
/// Its ``location`` is a file position (``file``, ``line``, ``column``) or, for a source without files, a record
/// reference; a record-located issue's ``file`` is the entity, so reports group it like a file.
public struct ValidationIssue: Sendable, Equatable, Codable {
    /// Error (row or file not loaded), warning or info.
    public var severity: Severity
    /// Stable code.
    public var code: IssueCode
    /// File name, e.g. `enrollments.csv`; for an issue located by record reference, the entity, e.g. `users`.
    public var file: String
    /// 1-based physical line of the row (1 for the header); `nil` for file-level issues and record references.
    public var line: Int?
    /// Column (header name, or field name for a record reference), if the issue is about one value.
    public var column: String?
    /// The offending value.
    public var value: String?
    /// The row's sourcedId, when known.
    public var sourcedId: String?
    /// What is wrong, in plain words.
    public var message: String
    /// How to fix it at the source.
    public var fix: String
    /// The record reference of an issue a file-less source found (`nil` for file positions).
    private var record: IssueLocation?

    /// Where the issue was found: a file position from ``file``, ``line`` and ``column``, or a record reference.
    public var location: IssueLocation {
        record ?? .file(name: file, line: line, column: column)
    }

    /// Creates an issue at a file position. Values from the bundle are cut to a short excerpt
    /// (``reportExcerpt(_:limit:)``): the value, the column, the sourcedId, and every `quoted` value inside the message
    /// and fix, so a report, and the e-mails and webhooks that carry it, stay small whatever a bundle holds.
    public init(severity: Severity, code: IssueCode, file: String, line: Int? = nil, column: String? = nil,
                value: String? = nil, sourcedId: String? = nil, message: String, fix: String) {
        self.severity = severity
        self.code = code
        self.file = reportExcerpt(file)
        self.line = line
        self.column = column.map { reportExcerpt($0) }
        self.value = value.map { reportExcerpt($0) }
        self.sourcedId = sourcedId.map { reportExcerpt($0) }
        self.message = Self.bounded(message)
        self.fix = Self.bounded(fix)
    }

    /// Creates an issue about a record, for a source without files (e.g. a REST endpoint): `entity` (e.g. `users`)
    /// also stands as its ``file``, `sourcedId` as its ``sourcedId``; `page` is the 1-based page the record came on.
    /// Values are cut as by the file-position initializer.
    public init(severity: Severity, code: IssueCode, entity: String, sourcedId: String, page: Int? = nil,
                column: String? = nil, value: String? = nil, message: String, fix: String) {
        self.init(severity: severity, code: code, file: entity, column: column, value: value, sourcedId: sourcedId,
                  message: message, fix: fix)
        self.record = .record(entity: self.file, sourcedId: self.sourcedId ?? "", page: page)
    }

    private enum CodingKeys: String, CodingKey {
        case severity, code, file, line, column, value, sourcedId, message, fix, location
    }

    /// Decodes an issue; reports stored before issues carried a `location` are read as file positions.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        severity = try c.decode(Severity.self, forKey: .severity)
        code = try c.decode(IssueCode.self, forKey: .code)
        file = try c.decode(String.self, forKey: .file)
        line = try c.decodeIfPresent(Int.self, forKey: .line)
        column = try c.decodeIfPresent(String.self, forKey: .column)
        value = try c.decodeIfPresent(String.self, forKey: .value)
        sourcedId = try c.decodeIfPresent(String.self, forKey: .sourcedId)
        message = try c.decode(String.self, forKey: .message)
        fix = try c.decode(String.self, forKey: .fix)
        let location = try c.decodeIfPresent(IssueLocation.self, forKey: .location)
        if case .record? = location { record = location }
    }

    /// Encodes today's fields (`file`, `line`, `column`, ...) and, for a record reference only, the ``location``: a
    /// file position is already those fields, and reports with thousands of issues stay as small as they were.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(severity, forKey: .severity)
        try c.encode(code, forKey: .code)
        try c.encode(file, forKey: .file)
        try c.encodeIfPresent(line, forKey: .line)
        try c.encodeIfPresent(column, forKey: .column)
        try c.encodeIfPresent(value, forKey: .value)
        try c.encodeIfPresent(sourcedId, forKey: .sourcedId)
        try c.encode(message, forKey: .message)
        try c.encode(fix, forKey: .fix)
        try c.encodeIfPresent(record, forKey: .location)
    }

    /// The longest a message or fix may be once its quoted values are cut (a backstop; messages are a few lines).
    static let maxTextBytes = 2_000

    /// `text` with every backtick-quoted span longer than an excerpt cut to one, and at most ``maxTextBytes`` long.
    static func bounded(_ text: String) -> String {
        if text.utf8.count <= 400 { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "`") {
            out += rest[...open]
            let after = rest.index(after: open)
            guard let close = rest[after...].firstIndex(of: "`") else { rest = rest[after...]; break }
            out += reportExcerpt(String(rest[after..<close]))
            out += "`"
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        if out.utf8.count > maxTextBytes { out = reportExcerpt(out, limit: maxTextBytes / 2) }
        return out
    }

    /// `file:line` (or just the file), or `record ID of ENTITY, page N` (see ``IssueLocation/text``).
    public var locationText: String { location.text }
}

/// A row that was not loaded because of at least one error.
public struct QuarantinedRow: Sendable, Equatable, Codable {
    /// File name.
    public var file: String
    /// 1-based physical line.
    public var line: Int
    /// The row's sourcedId, if it had one.
    public var sourcedId: String?
    /// The row's values keyed by header name (invalid UTF-8 shown with replacement characters).
    public var values: [String: String]
    /// Codes of the errors that quarantined the row.
    public var reasons: [IssueCode]
}

/// Per-file reading summary.
public struct FileSummary: Sendable, Equatable, Codable {
    /// File name.
    public var file: String
    /// Mode from the manifest.
    public var mode: FileMode
    /// Whether the file was present in the bundle.
    public var present: Bool
    /// Data rows read (header excluded).
    public var rowsRead: Int
    /// Rows loaded into the valid set.
    public var rowsLoaded: Int
    /// Rows quarantined.
    public var rowsQuarantined: Int
    /// Issues not listed individually because the per-file, per-code cap was reached (counted here).
    public var issuesNotListed: [String: Int]

    /// Creates a summary.
    public init(file: String, mode: FileMode, present: Bool, rowsRead: Int = 0, rowsLoaded: Int = 0,
                rowsQuarantined: Int = 0, issuesNotListed: [String: Int] = [:]) {
        self.file = file
        self.mode = mode
        self.present = present
        self.rowsRead = rowsRead
        self.rowsLoaded = rowsLoaded
        self.rowsQuarantined = rowsQuarantined
        self.issuesNotListed = issuesNotListed
    }
}

/// The result of validating a bundle: every issue, per-file counts, and totals.
public struct ValidationReport: Sendable, Equatable, Codable {
    /// Issues in reading order (bundle/manifest issues first, then file by file).
    public var issues: [ValidationIssue]
    /// Per-file summaries.
    public var files: [FileSummary]
    /// Number of errors, including ones not listed individually.
    public var errorCount: Int
    /// Number of warnings, including ones not listed individually.
    public var warningCount: Int
    /// Number of infos.
    public var infoCount: Int
    /// Number of issues per code (including ones not listed individually).
    public var countsByCode: [String: Int]

    /// Creates an empty report.
    public init() {
        issues = []
        files = []
        errorCount = 0
        warningCount = 0
        infoCount = 0
        countsByCode = [:]
    }

    /// Whether any error was found.
    public var hasErrors: Bool { errorCount > 0 }

    /// Issues with a given code.
    public func issues(withCode code: IssueCode) -> [ValidationIssue] { issues.filter { $0.code == code } }

    /// Issues of a given file.
    public func issues(inFile file: String) -> [ValidationIssue] { issues.filter { $0.file == file } }

    /// Adds an issue to the list and to the counts (for a ``RosterSource`` that builds its own report).
    public mutating func add(_ issue: ValidationIssue) {
        issues.append(issue)
        count(issue.severity, issue.code)
    }

    mutating func count(_ severity: Severity, _ code: IssueCode) {
        switch severity {
        case .error: errorCount += 1
        case .warning: warningCount += 1
        case .info: infoCount += 1
        }
        countsByCode[code.rawValue, default: 0] += 1
    }

    /// JSON for `--json` output (pretty-printed, keys sorted, dates ISO 8601).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    /// ``rendered(maxPerFile:)`` cut to at most `maxBytes` (at a line end, keeping the totals), with `more` — a
    /// command or link to the full report — said when anything was left out. For e-mails and webhooks.
    public func rendered(maxPerFile: Int, maxBytes: Int, more: String) -> String {
        let full = rendered(maxPerFile: maxPerFile)
        guard full.utf8.count > maxBytes else { return full }
        let lines = full.split(separator: "\n", omittingEmptySubsequences: false)
        // The totals (last two lines) are kept; issue lines are kept in order while they fit.
        let tailStart = lines.lastIndex { $0.hasPrefix("Totals: ") } ?? lines.count
        let tail = lines[tailStart...].joined(separator: "\n")
        let note = "… the report is longer than this message can carry; see \(more) for all of it\n"
        var budget = maxBytes - tail.utf8.count - note.utf8.count
        var out = ""
        for line in lines[..<tailStart] {
            let cost = line.utf8.count + 1
            if cost > budget { break }
            out += line + "\n"
            budget -= cost
        }
        return out + note + tail
    }

    /// A human-readable rendering grouped by file: one line per issue with location, column, value,
    /// message and fix, followed by totals.
    /// - Parameter maxPerFile: At most this many issues are printed per file; the rest are counted.
    public func rendered(maxPerFile: Int = 200) -> String {
        var out = ""
        let rowsRead = files.reduce(0) { $0 + $1.rowsRead }
        let loaded = files.reduce(0) { $0 + $1.rowsLoaded }
        let quarantined = files.reduce(0) { $0 + $1.rowsQuarantined }
        var byFile: [String: [ValidationIssue]] = [:]
        var firstSeen: [String] = []
        for issue in issues {
            if byFile[issue.file] == nil { firstSeen.append(issue.file) }
            byFile[issue.file, default: []].append(issue)
        }
        // Bundle-level issues first, then the files in reading order, then any other file with issues.
        var order: [String] = byFile["manifest.csv"] != nil ? ["manifest.csv"] : []
        for summary in files where summary.present || byFile[summary.file] != nil {
            if !order.contains(summary.file) { order.append(summary.file) }
        }
        for file in firstSeen where !order.contains(file) { order.append(file) }
        let summaries = Dictionary(files.map { ($0.file, $0) }, uniquingKeysWith: { a, _ in a })
        for file in order {
            var title = file
            if let s = summaries[file] {
                title += s.present
                    ? " (\(s.mode.rawValue): \(s.rowsRead) row\(s.rowsRead == 1 ? "" : "s"), \(s.rowsLoaded) loaded, \(s.rowsQuarantined) quarantined)"
                    : " (\(s.mode.rawValue), not in bundle)"
            }
            out += title + "\n"
            let list = byFile[file] ?? []
            if list.isEmpty { out += "  no issues\n" }
            for issue in list.prefix(maxPerFile) {
                var lineText = "  \(issue.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(issue.locationText)"
                if let c = issue.column { lineText += " column \(c)" }
                if let v = issue.value { lineText += " value \"\(v)\"" }
                lineText += " [\(issue.code.rawValue)]: \(issue.message) Fix: \(issue.fix)"
                out += lineText + "\n"
            }
            if list.count > maxPerFile { out += "  … and \(list.count - maxPerFile) more issues in \(file)\n" }
            if let notListed = summaries[file]?.issuesNotListed, !notListed.isEmpty {
                for (code, n) in notListed.sorted(by: { $0.key < $1.key }) {
                    out += "  … and \(n) more [\(code)] issues in \(file) not listed individually\n"
                }
            }
        }
        out += "Totals: \(errorCount) error\(errorCount == 1 ? "" : "s"), \(warningCount) warning\(warningCount == 1 ? "" : "s"), "
        out += "\(infoCount) info; \(rowsRead) rows read, \(loaded) loaded, \(quarantined) quarantined.\n"
        if !countsByCode.isEmpty {
            out += "By code: " + countsByCode.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        }
        return out
    }
}
