import Foundation
import OneRoster

/// A rostering collection of a OneRoster REST provider.
enum RESTEntity: String, CaseIterable, Sendable {
    case orgs, academicSessions, courses, classes, users, demographics, enrollments

    /// The collection's path under the API root.
    var path: String { "/" + rawValue }
    /// The key of the list in a page's body.
    var key: String { rawValue }
    /// The CSV file the records are laid out as.
    var fileName: String { rawValue + ".csv" }

    /// The entity's place in `allCases`.
    var ordinal: Int {
        switch self {
        case .orgs: 0
        case .academicSessions: 1
        case .courses: 2
        case .classes: 3
        case .users: 4
        case .demographics: 5
        case .enrollments: 6
        }
    }

    /// The collections a pull reads, in the order references need them.
    static func pulled(demographics: Bool) -> [RESTEntity] {
        [.orgs, .academicSessions, .courses, .classes, .users] + (demographics ? [.demographics] : []) + [.enrollments]
    }
}

/// How a CSV column's value is found in a record's JSON.
enum FieldSource: Sendable {
    /// A scalar under one of these keys (the first present).
    case scalar([String])
    /// A GUIDRef object or a bare sourcedId.
    case ref(String)
    /// A list of GUIDRefs or sourcedIds, joined with commas.
    case refs(String)
    /// A list of strings (or one comma-separated string), joined with commas.
    case list(String)
    /// `userIds`: `[{type, identifier}]` as `{type:identifier}` items.
    case userIds
    /// 1.1 `role` (from `role`, or the primary entry of a 1.2-style `roles` list).
    case legacyRole
    /// 1.1 `orgSourcedIds` (from `orgs`, or the orgs of a 1.2-style `roles` list).
    case legacyOrgs
}

/// The pulled records of one pull, kept per entity (one copy per sourcedId, the latest), laid out as the rows of a
/// bundle's CSV files, with where each row came from.
struct RESTBundleLayout {
    let version: RESTSourceConfig.Version
    /// Per entity: rows in arrival order, and the index of each sourcedId's row.
    private var tables: [RESTEntity: Table] = [:]
    /// Issues about the JSON itself (records that are not objects, fields of the wrong shape).
    private(set) var shapeIssues: [ValidationIssue] = []
    /// Decodes records given as ``JSONValue``s.
    private let decoder: RecordDecoder

    struct Row {
        var sourcedId: String
        var dateLastModified: String
        var page: Int
        var fields: [String]
        var metadata: [String: String]
        /// 1.2: the user's roles, as roles.csv rows.
        var roles: [[String]]
    }

    struct Table {
        var rows: [Row?] = []
        var index: [String: Int] = [:]
        var metadataKeys: Set<String> = []
    }

    /// Each entity's columns (``columns(_:)``), worked out once.
    private let columnTable: [[(String, FieldSource)]]

    init(version: RESTSourceConfig.Version) {
        self.version = version
        columnTable = RESTEntity.allCases.map { Self.columns($0, version: version) }
        decoder = RecordDecoder(version: version)
    }

    /// The CSV columns of an entity's file in this version, each with where its value comes from.
    func columns(_ entity: RESTEntity) -> [(String, FieldSource)] {
        // By ordinal: `allCases.firstIndex(of:)` made and searched an array for every record.
        columnTable[entity.ordinal]
    }

    static func columns(_ entity: RESTEntity, version: RESTSourceConfig.Version) -> [(String, FieldSource)] {
        let common: [(String, FieldSource)] = [
            ("sourcedId", .scalar(["sourcedId"])), ("status", .scalar(["status"])), ("dateLastModified", .scalar(["dateLastModified"])),
        ]
        func s(_ name: String, _ keys: String...) -> (String, FieldSource) { (name, .scalar(keys.isEmpty ? [name] : keys)) }
        switch entity {
        case .orgs:
            return common + [s("name"), s("type"), s("identifier"), ("parentSourcedId", .ref("parent"))]
        case .academicSessions:
            return common + [s("title"), s("type"), s("startDate"), s("endDate"), ("parentSourcedId", .ref("parent")), s("schoolYear")]
        case .courses:
            return common + [("schoolYearSourcedId", .ref("schoolYear")), s("title"), s("courseCode"), ("grades", .list("grades")),
                             ("orgSourcedId", .ref("org")), ("subjects", .list("subjects")), ("subjectCodes", .list("subjectCodes"))]
        case .classes:
            return common + [s("title"), ("grades", .list("grades")), ("courseSourcedId", .ref("course")), s("classCode"),
                             s("classType"), s("location"), ("schoolSourcedId", .ref("school")), ("termSourcedIds", .refs("terms")),
                             ("subjects", .list("subjects")), ("subjectCodes", .list("subjectCodes")), ("periods", .list("periods"))]
        case .users:
            switch version {
            case .v1_1:
                return common + [s("enabledUser"), ("orgSourcedIds", .legacyOrgs), ("role", .legacyRole), s("username"),
                                 ("userIds", .userIds), s("givenName"), s("familyName"), s("middleName"), s("identifier"), s("email"),
                                 s("sms"), s("phone"), ("agentSourcedIds", .refs("agents")), ("grades", .list("grades")), s("password")]
            case .v1_2:
                return common + [s("enabledUser"), s("username"), ("userIds", .userIds), s("givenName"), s("familyName"),
                                 s("middleName"), s("identifier"), s("email"), s("sms"), s("phone"), ("agentSourcedIds", .refs("agents")),
                                 ("grades", .list("grades")), s("password"), s("userMasterIdentifier"),
                                 s("preferredGivenName", "preferredFirstName", "preferredGivenName"), s("preferredMiddleName"),
                                 s("preferredFamilyName", "preferredLastName", "preferredFamilyName"),
                                 ("primaryOrgSourcedId", .ref("primaryOrg")), s("pronouns")]
            }
        case .demographics:
            return common + ["birthDate", "sex", "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
                             "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
                             "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation", "cityOfBirth",
                             "publicSchoolResidenceStatus"].map { s($0) }
        case .enrollments:
            return common + [("classSourcedId", .ref("class")), ("schoolSourcedId", .ref("school")), ("userSourcedId", .ref("user")),
                             s("role"), s("primary"), s("beginDate"), s("endDate")]
        }
    }

    static let roleColumns = ["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
                              "endDate", "orgSourcedId", "userProfileSourcedId"]

    // MARK: adding records

    /// Adds the records of a decoded page of `entity`, and the issues about their JSON.
    mutating func add(_ page: RecordDecoder.Page, entity: RESTEntity) {
        shapeIssues += page.issues
        for row in page.rows {
            // Changed in place in the dictionary (a copy out and back would copy every row so far, each time).
            Self.insert(row, into: &tables[entity, default: Table()])
        }
    }

    /// Adds one record of `entity` that came on `page` (decoded as a page holding only it would be).
    mutating func add(_ record: JSONValue, entity: RESTEntity, page: Int) {
        add(decoder.decode(record: record, entity: entity, number: page), entity: entity)
    }

    private static func insert(_ row: Row, into table: inout Table) {
        for key in row.metadata.keys { table.metadataKeys.insert(key) }
        let sourcedId = row.sourcedId
        if !sourcedId.isEmpty, let at = table.index[sourcedId], let earlier = table.rows[at] {
            // Seen already (pages shifted under the pull, or a delta overlap): keep the later modification; an equal one
            // is the same record twice.
            if row.dateLastModified > earlier.dateLastModified {
                table.rows[at] = nil
                table.index[sourcedId] = table.rows.count
                table.rows.append(row)
            }
        } else {
            if !sourcedId.isEmpty { table.index[sourcedId] = table.rows.count }
            table.rows.append(row)
        }
    }

    static func malformed(_ key: String, _ value: JSONValue, _ expected: String, entity: RESTEntity, sourcedId: String,
                          page: Int, issues: inout [ValidationIssue]) -> String {
        issues.append(ValidationIssue(
            severity: .warning, code: .malformedRecord, entity: entity.key, sourcedId: sourcedId, page: page, column: key,
            value: value.jsonText,
            message: "`\(key)` is \(Self.shape(value)) where OneRoster has \(expected); it was read as its JSON text.",
            fix: "Ask the provider to send `\(key)` as \(expected)."))
        return value.jsonText
    }

    /// The value of a column whose source is not a single value or reference, from the record's values of other shapes.
    static func value(_ source: FieldSource, of object: [String: JSONValue], column: String, entity: RESTEntity,
                      sourcedId: String, page: Int, issues: inout [ValidationIssue]) -> String {
        func malformed(_ key: String, _ value: JSONValue, _ expected: String) -> String {
            Self.malformed(key, value, expected, entity: entity, sourcedId: sourcedId, page: page, issues: &issues)
        }
        switch source {
        case .scalar(let keys):
            for key in keys {
                guard let value = object[key] else { continue }
                if value == .null { return "" }
                if let text = value.scalarText { return text }
                return malformed(key, value, "a single value")
            }
            return ""
        case .ref(let key):
            guard let value = object[key], value != .null else { return "" }
            return reference(value) ?? malformed(key, value, "a GUIDRef object with a sourcedId, or a sourcedId")
        case .refs(let key):
            guard let value = object[key], value != .null else { return "" }
            if case .array(let items) = value {
                var ids: [String] = []
                for item in items {
                    guard let id = reference(item) else {
                        return malformed(key, value, "a list of GUIDRef objects with sourcedIds")
                    }
                    ids.append(id)
                }
                return ids.joined(separator: ",")
            }
            return reference(value) ?? malformed(key, value, "a list of GUIDRef objects with sourcedIds")
        case .list(let key):
            guard let value = object[key], value != .null else { return "" }
            if case .array(let items) = value {
                let texts = items.compactMap(\.scalarText)
                if texts.count == items.count { return texts.joined(separator: ",") }
                return malformed(key, value, "a list of strings")
            }
            return value.scalarText ?? malformed(key, value, "a list of strings")
        case .userIds:
            guard let value = object["userIds"], value != .null else { return "" }
            guard case .array(let items) = value else { return malformed("userIds", value, "a list of {type, identifier} objects") }
            var out: [String] = []
            for item in items {
                if let type = item["type"]?.scalarText, let identifier = item["identifier"]?.scalarText {
                    out.append("{\(type):\(identifier)}")
                } else if let text = item.scalarText {
                    out.append(text)
                } else {
                    return malformed("userIds", value, "a list of {type, identifier} objects")
                }
            }
            return out.joined(separator: ",")
        case .legacyRole:
            if let role = object["role"], role != .null { return role.scalarText ?? malformed("role", role, "a role name") }
            if case .array(let roles)? = object["roles"] {
                let primary = roles.first { $0["roleType"]?.scalarText == "primary" } ?? roles.first
                return primary?["role"]?.scalarText ?? ""
            }
            return ""
        case .legacyOrgs:
            if let orgs = object["orgs"], orgs != .null {
                return value(.refs("orgs"), of: object, column: column, entity: entity, sourcedId: sourcedId, page: page,
                             issues: &issues)
            }
            if case .array(let roles)? = object["roles"] {
                var seen = Set<String>()
                return roles.compactMap { $0["org"].flatMap(reference) }.filter { seen.insert($0).inserted }.joined(separator: ",")
            }
            return ""
        }
    }

    /// The sourcedId of a GUIDRef object, or a bare sourcedId.
    static func reference(_ value: JSONValue) -> String? {
        if case .object = value { return value["sourcedId"]?.scalarText }
        return value.scalarText
    }

    static func shape(_ value: JSONValue) -> String {
        switch value {
        case .object: "an object"
        case .array: "a list"
        default: "a single value"
        }
    }

    /// 1.2 roles of a user as roles.csv rows: its `roles` list, or (a 1.1-style record) its `role` in each of its `orgs`.
    static func roleRows(_ object: [String: JSONValue], sourcedId: String) -> [[String]] {
        let status = object["status"]?.scalarText ?? ""
        let modified = object["dateLastModified"]?.scalarText ?? ""
        var rows: [[String]] = []
        if case .array(let roles)? = object["roles"] {
            for (i, role) in roles.enumerated() {
                rows.append(["\(sourcedId)#role\(i + 1)", status, modified, sourcedId, role["roleType"]?.scalarText ?? "",
                             role["role"]?.scalarText ?? "", role["beginDate"]?.scalarText ?? "", role["endDate"]?.scalarText ?? "",
                             role["org"].flatMap(reference) ?? "", role["userProfile"].flatMap(reference) ?? ""])
            }
        } else if let role = object["role"]?.scalarText, case .array(let orgs)? = object["orgs"] {
            for (i, org) in orgs.enumerated() {
                rows.append(["\(sourcedId)#role\(i + 1)", status, modified, sourcedId, "primary", role, "", "",
                             reference(org) ?? "", ""])
            }
        }
        return rows
    }

    /// Takes the issues about the JSON found so far, forgetting them here.
    mutating func takeShapeIssues() -> [ValidationIssue] {
        defer { shapeIssues = [] }
        return shapeIssues
    }

    /// Marks `entity` as pulled, even with no records (its file is then read, header only).
    mutating func ensure(_ entity: RESTEntity) {
        if tables[entity] == nil { tables[entity] = Table() }
    }

    /// Forgets what was pulled of `entity` (its file is then marked absent).
    mutating func drop(_ entity: RESTEntity) {
        tables[entity] = nil
    }

    // MARK: handing over

    /// An entity's records as the rows of its bundle file (and, for 1.2 users, of roles.csv), with where each row came
    /// from.
    struct PulledEntity: Sendable {
        var entity: RESTEntity
        var table: RosterRowTable
        /// (sourcedId, page) of each row of `table`, in order.
        var origins: [(sourcedId: String, page: Int)]
        /// 1.2 users: their roles.csv rows.
        var roles: RosterRowTable?
        var roleOrigins: [(sourcedId: String, page: Int)] = []
    }

    /// Takes what was pulled of `entity` as rows (`nil` when nothing was, not even an empty list), forgetting it here.
    mutating func take(_ entity: RESTEntity) -> PulledEntity? {
        guard let table = tables.removeValue(forKey: entity) else { return nil }
        let metadataKeys = table.metadataKeys.sorted()
        let header = columns(entity).map(\.0) + metadataKeys
        var rows: [[String]] = []
        var origins: [(sourcedId: String, page: Int)] = []
        rows.reserveCapacity(table.rows.count)
        origins.reserveCapacity(table.rows.count)
        let withRoles = entity == .users && version == .v1_2
        var roles: [[String]] = []
        var roleOrigins: [(sourcedId: String, page: Int)] = []
        for case let row? in table.rows {
            origins.append((row.sourcedId, row.page))
            rows.append(metadataKeys.isEmpty ? row.fields : row.fields + metadataKeys.map { row.metadata[$0] ?? "" })
            if withRoles {
                for role in row.roles {
                    roles.append(role)
                    roleOrigins.append((row.sourcedId, row.page))
                }
            }
        }
        return PulledEntity(entity: entity, table: RosterRowTable(header: header, rows: rows), origins: origins,
                            roles: withRoles ? RosterRowTable(header: Self.roleColumns, rows: roles) : nil, roleOrigins: roleOrigins)
    }

    // MARK: writing

    /// The manifest.csv of a bundle of `version` whose pulled files (`pulled`, by file name without `.csv`) are `mode`.
    static func manifest(version: RESTSourceConfig.Version, pulled: Set<String>, mode: FileMode) -> String {
        let files: [String]
        switch version {
        case .v1_1:
            files = ["academicSessions", "categories", "classes", "classResources", "courses", "courseResources", "demographics",
                     "enrollments", "lineItems", "orgs", "resources", "results", "users"]
        case .v1_2:
            files = ["academicSessions", "categories", "classes", "classResources", "courses", "courseResources", "demographics",
                     "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales", "orgs", "resources",
                     "resultLearningObjectiveIds", "results", "resultScoreScales", "roles", "scoreScales", "userProfiles",
                     "userResources", "users"]
        }
        var manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,\(version.rawValue)\n"
        for file in files {
            manifest += "file.\(file),\(pulled.contains(file) ? mode.rawValue : "absent")\n"
        }
        return manifest + "source.systemName,OneRoster REST\n"
    }

    /// Writes `table` as the CSV file `name` in `folder`.
    static func write(_ table: RosterRowTable, name: String, to folder: URL) throws {
        let writer = try CSVFileWriter(url: folder.appendingPathComponent(name), header: table.header)
        for row in table.rows { try writer.write(row) }
        try writer.close()
    }

}

/// Where each row of the files a pull read came from, to locate the reader's issues by record again.
struct RecordLocator {
    /// Per file read: the (sourcedId, page) of each row, in order (row `k` is line `k + 2`).
    private var origins: [String: [(sourcedId: String, page: Int)]] = [:]

    /// Remembers where the rows of `pulled` came from, for ``relocate(_:)``.
    mutating func remember(_ pulled: RESTBundleLayout.PulledEntity) {
        origins[pulled.entity.fileName] = pulled.origins
        if pulled.roles != nil { origins["roles.csv"] = pulled.roleOrigins }
    }

    /// Remembers where the next rows of `file` came from (a streamed entity, page by page).
    mutating func append(_ rows: [(sourcedId: String, page: Int)], file: String) {
        origins[file, default: []].append(contentsOf: rows)
    }

    private func origin(_ file: String, line: Int) -> (entity: String, sourcedId: String, page: Int)? {
        guard let rows = origins[file], line >= 2, line - 2 < rows.count else { return nil }
        let row = rows[line - 2]
        return (file == "roles.csv" ? "users" : String(file.dropLast(4)), row.sourcedId, row.page)
    }

    /// `issues` with each row-located issue moved to its record: entity, sourcedId and page (and "line N of F.csv" in the
    /// text said as the record it is).
    func relocate(_ issues: [ValidationIssue]) -> [ValidationIssue] {
        issues.map { issue in
            guard let line = issue.line, let origin = origin(issue.file, line: line) else { return issue }
            return ValidationIssue(
                severity: issue.severity, code: issue.code, entity: origin.entity, sourcedId: origin.sourcedId, page: origin.page,
                column: issue.column, value: issue.value, message: relocateText(issue.message), fix: relocateText(issue.fix))
        }
    }

    /// "line N of users.csv" → "record ID of users (page P)".
    func relocateText(_ text: String) -> String {
        guard text.contains(".csv") else { return text }
        var out = ""
        var rest = Substring(text)
        while let range = rest.range(of: "line ") {
            out += rest[..<range.lowerBound]
            var cursor = range.upperBound
            let digits = rest[cursor...].prefix { $0.isNumber }
            cursor = rest.index(cursor, offsetBy: digits.count)
            let tail = rest[cursor...]
            if let number = Int(digits), tail.hasPrefix(" of "),
               let fileEnd = tail.range(of: ".csv") {
                let file = String(tail[tail.index(tail.startIndex, offsetBy: 4)..<fileEnd.upperBound])
                if let origin = origin(file, line: number) {
                    out += "record `\(origin.sourcedId)` of \(origin.entity) (page \(origin.page))"
                    rest = tail[fileEnd.upperBound...]
                    continue
                }
            }
            out += rest[range]
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}

/// Writes an RFC 4180 CSV file (quoting only what needs it), tracking the physical line the next row starts on.
final class CSVFileWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    /// The 1-based physical line the next row starts on.
    private(set) var line = 1

    init(url: URL, header: [String]) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw OneRosterRESTError(.configuration, "cannot write the pulled records to \(url.deletingLastPathComponent().path)")
        }
        handle = try FileHandle(forWritingTo: url)
        buffer.reserveCapacity(1 << 20 + 65_536)
        try write(header)
    }

    func write(_ fields: [String]) throws {
        var breaks = 0
        for (i, field) in fields.enumerated() {
            if i > 0 { buffer.append(UInt8(ascii: ",")) }
            var needsQuotes = false
            for byte in field.utf8 {
                switch byte {
                case UInt8(ascii: ","), UInt8(ascii: "\""): needsQuotes = true
                case UInt8(ascii: "\n"): needsQuotes = true; breaks += 1
                case UInt8(ascii: "\r"): needsQuotes = true
                default: break
                }
            }
            if needsQuotes {
                buffer.append(UInt8(ascii: "\""))
                for byte in field.utf8 {
                    if byte == UInt8(ascii: "\"") { buffer.append(byte) }
                    buffer.append(byte)
                }
                buffer.append(UInt8(ascii: "\""))
            } else {
                var field = field
                field.withUTF8 { buffer.append(contentsOf: $0) }
            }
        }
        buffer.append(UInt8(ascii: "\n"))
        line += 1 + breaks
        if buffer.count > 1 << 20 { try flush() }
    }

    private func flush() throws {
        try handle.write(contentsOf: Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.close()
    }
}
