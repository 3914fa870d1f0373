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
    /// An optional reference (`parentSourcedId`, `primaryOrgSourcedId`, `schoolYearSourcedId`, `agentSourcedIds`,
    /// `userProfileSourcedId`) names a record that is neither in the bundle nor held: the row was loaded, the reference
    /// left unresolved. A tolerance (see ``IssueCode/tolerances``).
    case danglingOptionalReference = "dangling-optional-reference"
    /// An enumerated value (or boolean) differs from the standard one only in letter case (`Scheduled`, `TRUE`); it
    /// was read as the standard value. A tolerance.
    case enumLetterCase = "enum-letter-case"
    /// `dateLastModified` is written with a space instead of `T` (`2017-05-06 08:01:05`); read as UTC when it has no
    /// zone. A tolerance.
    case nonISOTimestamp = "non-iso-timestamp"
    /// `dateLastModified` is ambiguous or unreadable (`1/05/2023`); kept as unknown, the row loaded. A tolerance.
    case unreadableTimestamp = "unreadable-timestamp"
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
    /// For a row not loaded only because a row it refers to was not loaded: the ``RootCause/id`` of the problem it
    /// follows from (listed under it in ``ValidationReport/rootCauses``). `nil` for a problem of the row itself.
    public var rootCause: String?

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
        case severity, code, file, line, column, value, sourcedId, message, fix, location, rootCause
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
        rootCause = try c.decodeIfPresent(String.self, forKey: .rootCause)
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
        try c.encodeIfPresent(rootCause, forKey: .rootCause)
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
    /// The ``RootCause/id`` of the problem the row was quarantined for (its own, or one it follows from).
    public var rootCause: String?
}

/// One problem that cost rows, with the rows that were not loaded only because of it: a quarantined row, the rows
/// that refer to it (and to those, transitively), or a file-level fault such as a missing required column.
///
/// "org `X` was not loaded: 1 fix → 214 users, 9 classes, 3,100 enrollments follow".
public struct RootCause: Sendable, Equatable, Codable {
    /// Stable within a report: `file:line` for a row, `file` for a file-level fault.
    public var id: String
    /// The file of the row (or the file at fault).
    public var file: String
    /// The row's line, `nil` for a file-level fault.
    public var line: Int?
    /// The row's sourcedId, when it has one.
    public var sourcedId: String?
    /// The codes of the row's own errors.
    public var codes: [IssueCode]
    /// The first of its errors, in plain words.
    public var message: String
    /// How to fix it.
    public var fix: String
    /// Rows quarantined only because of this one, per file (e.g. `users.csv: 214`).
    public var followers: [String: Int]
    /// Rows this problem costs: its own quarantined rows and every follower.
    public var rows: Int

    /// Creates a root cause with no followers yet.
    public init(id: String, file: String, line: Int?, sourcedId: String?, codes: [IssueCode], message: String, fix: String,
                rows: Int = 1, followers: [String: Int] = [:]) {
        self.id = id
        self.file = file
        self.line = line
        self.sourcedId = sourcedId
        self.codes = codes
        self.message = message
        self.fix = fix
        self.rows = rows
        self.followers = followers
    }

    /// `214 users, 9 classes, 3,100 enrollments`, in reading order of the files.
    public var followersText: String {
        let order = OneRosterFile.rosteringFiles(in: .v1_2).map(\.fileName)
        return followers.sorted { (order.firstIndex(of: $0.key) ?? .max, $0.key) < (order.firstIndex(of: $1.key) ?? .max, $1.key) }
            .map { file, n in
                let noun = OneRosterFile(rawValue: String(file.dropLast(4)))?.entity?.noun ?? file
                let plural = n == 1 ? noun : (noun.hasSuffix("s") ? noun + "es" : noun + "s")
                return "\(groupedDigits(n)) \(plural)"
            }.joined(separator: ", ")
    }

    /// One line: what was not loaded, the fix, and what follows from it.
    public var summary: String {
        var what: String
        if let line {
            let noun = OneRosterFile(rawValue: String(file.dropLast(4)))?.entity?.noun ?? "row"
            what = sourcedId.map { "\(noun) `\($0)` (\(file):\(line))" } ?? "\(file):\(line)"
            what += " was not loaded"
        } else {
            what = "\(file): \(groupedDigits(rows - followers.values.reduce(0, +))) rows not loaded"
        }
        var text = "\(what) [\(codes.map(\.rawValue).joined(separator: ", "))]: \(message) Fix: \(fix)"
        if !followers.isEmpty { text += " → 1 fix → \(followersText) follow" }
        return text
    }
}

/// `3100` as `3,100`.
func groupedDigits(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
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
    /// The problems that cost rows, the costliest first: each row quarantined for a fault of its own (or each
    /// file-level fault), with the rows quarantined only because of it.
    public var rootCauses: [RootCause]
    /// Root causes left out of ``rootCauses`` (the cheapest ones of a very broken bundle; their rows are issues).
    public var rootCausesNotListed: Int

    /// Creates an empty report.
    public init() {
        issues = []
        files = []
        errorCount = 0
        warningCount = 0
        infoCount = 0
        countsByCode = [:]
        rootCauses = []
        rootCausesNotListed = 0
    }

    private enum CodingKeys: String, CodingKey {
        case issues, files, errorCount, warningCount, infoCount, countsByCode, rootCauses, rootCausesNotListed
    }

    /// Decodes a report; reports stored before root causes were kept have none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        issues = try c.decode([ValidationIssue].self, forKey: .issues)
        files = try c.decode([FileSummary].self, forKey: .files)
        errorCount = try c.decode(Int.self, forKey: .errorCount)
        warningCount = try c.decode(Int.self, forKey: .warningCount)
        infoCount = try c.decode(Int.self, forKey: .infoCount)
        countsByCode = try c.decode([String: Int].self, forKey: .countsByCode)
        rootCauses = try c.decodeIfPresent([RootCause].self, forKey: .rootCauses) ?? []
        rootCausesNotListed = try c.decodeIfPresent(Int.self, forKey: .rootCausesNotListed) ?? 0
    }

    /// Sorts ``rootCauses`` by the rows each costs (then by file and line), as reports list them.
    public mutating func orderRootCauses() {
        let order = OneRosterFile.rosteringFiles(in: .v1_2).map(\.fileName)
        rootCauses.sort {
            ($1.rows, order.firstIndex(of: $0.file) ?? .max, $0.line ?? 0) < ($0.rows, order.firstIndex(of: $1.file) ?? .max, $1.line ?? 0)
        }
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

    /// A human-readable rendering: the root causes first (costliest first, each with what follows from it), then one
    /// line per issue grouped by file with location, column, value, message and fix, followed by totals. Rows not loaded
    /// only because of a root cause are counted under it and listed only with `all`.
    /// - Parameters:
    ///   - maxPerFile: At most this many issues are printed per file; the rest are counted.
    ///   - all: Also list, file by file, each row not loaded only because of a root cause.
    public func rendered(maxPerFile: Int = 200, all: Bool = false) -> String {
        var out = ""
        let followersTotal = rootCauses.reduce(0) { $0 + $1.followers.values.reduce(0, +) }
        if !rootCauses.isEmpty {
            out += "Root causes (\(groupedDigits(rootCauses.count))), by rows they cost:\n"
            for cause in rootCauses.prefix(maxPerFile) {
                out += "  \(groupedDigits(cause.rows)) row\(cause.rows == 1 ? "" : "s"): \(cause.summary)\n"
            }
            let more = rootCauses.count - min(rootCauses.count, maxPerFile) + rootCausesNotListed
            if more > 0 {
                out += "  … and \(groupedDigits(more)) more root causes, each costing fewer rows (listed below as issues)\n"
            }
        }
        let rowsRead = files.reduce(0) { $0 + $1.rowsRead }
        let loaded = files.reduce(0) { $0 + $1.rowsLoaded }
        let quarantined = files.reduce(0) { $0 + $1.rowsQuarantined }
        var byFile: [String: [ValidationIssue]] = [:]
        var firstSeen: [String] = []
        var following: [String: Int] = [:]
        for issue in issues {
            if issue.rootCause != nil && !all {
                following[issue.file, default: 0] += 1
                continue
            }
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
            if list.isEmpty && following[file] == nil { out += "  no issues\n" }
            for issue in list.prefix(maxPerFile) {
                var lineText = "  \(issue.severity.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(issue.locationText)"
                if let c = issue.column { lineText += " column \(c)" }
                if let v = issue.value { lineText += " value \"\(v)\"" }
                lineText += " [\(issue.code.rawValue)]: \(issue.message) Fix: \(issue.fix)"
                out += lineText + "\n"
            }
            if list.count > maxPerFile { out += "  … and \(list.count - maxPerFile) more issues in \(file)\n" }
            if let n = following[file] {
                out += "  … and \(groupedDigits(n)) row\(n == 1 ? "" : "s") not loaded only because of a root cause above (`--all` lists them)\n"
            }
            if let notListed = summaries[file]?.issuesNotListed, !notListed.isEmpty {
                for (code, n) in notListed.sorted(by: { $0.key < $1.key }) {
                    out += "  … and \(n) more [\(code)] issues in \(file) not listed individually\n"
                }
            }
        }
        out += "Totals: \(errorCount) error\(errorCount == 1 ? "" : "s"), \(warningCount) warning\(warningCount == 1 ? "" : "s"), "
        out += "\(infoCount) info; \(rowsRead) rows read, \(loaded) loaded, \(quarantined) quarantined"
        out += rootCauses.isEmpty ? ".\n"
            : " (\(groupedDigits(rootCauses.count + rootCausesNotListed)) root cause\(rootCauses.count + rootCausesNotListed == 1 ? "" : "s"), \(groupedDigits(followersTotal)) rows following from them).\n"
        if !countsByCode.isEmpty {
            out += "By code: " + countsByCode.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        }
        return out
    }
}
