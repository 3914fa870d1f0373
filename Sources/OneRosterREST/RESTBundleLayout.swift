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
enum FieldSource {
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

/// The pulled records of one pull, kept per entity (one copy per sourcedId, the latest), laid out as a bundle's CSV
/// files, with where each row came from so issues can be located by record again.
struct RESTBundleLayout {
    let version: RESTSourceConfig.Version
    /// Per entity: rows in arrival order, and the index of each sourcedId's row.
    private var tables: [RESTEntity: Table] = [:]
    /// Issues about the JSON itself (records that are not objects, fields of the wrong shape).
    private(set) var shapeIssues: [ValidationIssue] = []
    /// Per written file: the (sourcedId, entity, page) of the row starting on each line.
    private var origins: [String: [Int: (entity: String, sourcedId: String, page: Int)]] = [:]

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

    /// Adds one record of `entity` that came on `page`.
    mutating func add(_ record: JSONValue, entity: RESTEntity, page: Int) {
        guard case .object(let object) = record else {
            shapeIssues.append(ValidationIssue(
                severity: .error, code: .malformedRecord, entity: entity.key, sourcedId: "", page: page,
                value: record.jsonText,
                message: "An item of the \(entity.key) list is not a JSON object, so it is not a record; it was not loaded.",
                fix: "Ask the provider to send each \(entity.key) item as an object with a sourcedId."))
            return
        }
        let sourcedId = object["sourcedId"]?.scalarText ?? ""
        var fields: [String] = []
        let columns = columns(entity)
        fields.reserveCapacity(columns.count)
        for (column, source) in columns {
            fields.append(value(source, of: object, column: column, entity: entity, sourcedId: sourcedId, page: page))
        }
        var metadata: [String: String] = [:]
        if case .object(let extensions)? = object["metadata"] {
            for (key, value) in extensions { metadata["metadata." + key] = value.scalarText ?? (value == .null ? "" : value.jsonText) }
        }
        var roles: [[String]] = []
        if entity == .users && version == .v1_2 { roles = roleRows(object, sourcedId: sourcedId, entity: entity, page: page) }
        let row = Row(sourcedId: sourcedId, dateLastModified: object["dateLastModified"]?.scalarText ?? "", page: page,
                      fields: fields, metadata: metadata, roles: roles)
        // Changed in place in the dictionary (a copy out and back would copy every row so far, each time).
        Self.insert(row, metadataKeys: metadata.keys, into: &tables[entity, default: Table()])
    }

    private static func insert(_ row: Row, metadataKeys: Dictionary<String, String>.Keys, into table: inout Table) {
        table.metadataKeys.formUnion(metadataKeys)
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

    private mutating func value(_ source: FieldSource, of object: [String: JSONValue], column: String, entity: RESTEntity,
                                sourcedId: String, page: Int) -> String {
        func malformed(_ key: String, _ value: JSONValue, _ expected: String) -> String {
            shapeIssues.append(ValidationIssue(
                severity: .warning, code: .malformedRecord, entity: entity.key, sourcedId: sourcedId, page: page, column: key,
                value: value.jsonText,
                message: "`\(key)` is \(Self.shape(value)) where OneRoster has \(expected); it was read as its JSON text.",
                fix: "Ask the provider to send `\(key)` as \(expected)."))
            return value.jsonText
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
                return value(.refs("orgs"), of: object, column: column, entity: entity, sourcedId: sourcedId, page: page)
            }
            if case .array(let roles)? = object["roles"] {
                var seen = Set<String>()
                return roles.compactMap { $0["org"].flatMap(reference) }.filter { seen.insert($0).inserted }.joined(separator: ",")
            }
            return ""
        }
    }

    /// The sourcedId of a GUIDRef object, or a bare sourcedId.
    func reference(_ value: JSONValue) -> String? {
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
    private mutating func roleRows(_ object: [String: JSONValue], sourcedId: String, entity: RESTEntity, page: Int) -> [[String]] {
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

    /// Marks `entity` as pulled, even with no records (its file is then written, header only).
    mutating func ensure(_ entity: RESTEntity) {
        if tables[entity] == nil { tables[entity] = Table() }
    }

    /// Forgets what was pulled of `entity` (its file is then marked absent).
    mutating func drop(_ entity: RESTEntity) {
        tables[entity] = nil
    }

    // MARK: writing

    /// Writes manifest.csv and a CSV file per entity pulled (plus roles.csv for 1.2) into `folder`, each marked `mode`.
    mutating func write(to folder: URL, mode: FileMode) throws {
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
            let pulled = RESTEntity(rawValue: file).map { tables[$0] != nil } ?? (file == "roles" && tables[.users] != nil)
            manifest += "file.\(file),\(pulled ? mode.rawValue : "absent")\n"
        }
        manifest += "source.systemName,OneRoster REST\n"
        try Data(manifest.utf8).write(to: folder.appendingPathComponent("manifest.csv"))
        for entity in RESTEntity.allCases {
            guard let table = tables[entity] else { continue }
            let metadataKeys = table.metadataKeys.sorted()
            let header = columns(entity).map(\.0) + metadataKeys
            var origin: [Int: (entity: String, sourcedId: String, page: Int)] = [:]
            var roleOrigin: [Int: (entity: String, sourcedId: String, page: Int)] = [:]
            let writer = try CSVFileWriter(url: folder.appendingPathComponent(entity.fileName), header: header)
            let roles = entity == .users && version == .v1_2
                ? try CSVFileWriter(url: folder.appendingPathComponent("roles.csv"), header: Self.roleColumns) : nil
            for case let row? in table.rows {
                origin[writer.line] = (entity.key, row.sourcedId, row.page)
                try writer.write(row.fields + metadataKeys.map { row.metadata[$0] ?? "" })
                if let roles {
                    for role in row.roles {
                        roleOrigin[roles.line] = ("users", row.sourcedId, row.page)
                        try roles.write(role)
                    }
                }
            }
            try writer.close()
            try roles?.close()
            origins[entity.fileName] = origin
            if roles != nil { origins["roles.csv"] = roleOrigin }
        }
        tables = [:]
    }

    // MARK: issues

    /// `issues` with each row-located issue moved to its record: entity, sourcedId and page (and "line N of F.csv" in the
    /// text said as the record it is).
    func relocate(_ issues: [ValidationIssue]) -> [ValidationIssue] {
        issues.map { issue in
            guard let line = issue.line, let origin = origins[issue.file]?[line] else { return issue }
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
                if let origin = origins[file]?[number] {
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
