import Foundation

/// Header of one file: where each defined column is, and which columns are extensions.
struct ColumnMap {
    let header: [String]
    /// First position of each header name.
    let index: [String: Int]
    /// Positions of columns kept as extensions.
    let extIndices: [Int]
    /// Position of each known column (by ``Col`` raw value), -1 if absent.
    let pos: [Int]

    init(header: [String], index: [String: Int], extIndices: [Int]) {
        self.header = header
        self.index = index
        self.extIndices = extIndices
        var pos = [Int](repeating: -1, count: Col.allCases.count)
        for (name, i) in index { if let c = Col.byName[name] { pos[c.rawValue] = i } }
        self.pos = pos
    }
}

/// A reference from a row to another record, checked after the row is decoded.
struct PendingRef {
    let column: Col
    let value: String
    let entity: OneRosterEntity
    /// An optional reference that may dangle: the row loads with a warning, the reference left unresolved (false for
    /// required references, and for optional ones when the policy makes `dangling-optional-reference` strict).
    var soft = false
    /// The column is optional (reported with ``IssueCode/danglingOptionalReference`` when it dangles).
    var optional = false
}

@inline(__always)
func isBlank(_ s: String) -> Bool {
    s.isEmpty || s.utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 }
}

/// Decoding state of one data row: typed getters that record issues as they go.
struct RowContext {
    let file: OneRosterFile
    let line: Int
    let fields: [String]
    let map: ColumnMap
    let version: OneRosterVersion
    let mode: FileMode
    let checkGrades: Bool
    var tolerance = ReadingTolerance()
    var issues: [ValidationIssue] = []
    /// The first quarantined record this row refers to (a row quarantined only for such references follows from it).
    var followsFrom: (entity: OneRosterEntity, sourcedId: String)?
    /// Errors of this row that are not "refers to a quarantined row".
    var ownErrors = 0
    var reasons: [IssueCode] = []
    var failed = false
    var sourcedId: String?
    var status: RecordStatus = .active
    var refs: [PendingRef] = []

    init(file: OneRosterFile, line: Int, fields: [String], map: ColumnMap, version: OneRosterVersion, mode: FileMode,
         checkGrades: Bool) {
        self.file = file
        self.line = line
        self.fields = fields
        self.map = map
        self.version = version
        self.mode = mode
        self.checkGrades = checkGrades
    }

    var fileName: String { file.fileName }

    // MARK: issues

    mutating func add(_ severity: Severity, _ code: IssueCode, column: Col?, value: String?, _ message: String, fix: String) {
        add(severity, code, columnName: column?.name, value: value, message, fix: fix)
    }

    mutating func add(_ severity: Severity, _ code: IssueCode, columnName: String?, value: String?, _ message: String,
                      fix: String) {
        issues.append(ValidationIssue(severity: severity, code: code, file: fileName, line: line, column: columnName,
                                      value: value, sourcedId: sourcedId, message: message, fix: fix))
        if severity == .error {
            ownErrors += 1
            failed = true
            if !reasons.contains(code) { reasons.append(code) }
        }
    }

    mutating func error(_ code: IssueCode, column: Col?, value: String?, _ message: String, fix: String) {
        add(.error, code, column: column, value: value, message, fix: fix)
    }

    mutating func warn(_ code: IssueCode, column: Col?, value: String?, _ message: String, fix: String) {
        add(.warning, code, column: column, value: value, message, fix: fix)
    }

    /// A tolerated fault: a warning saying what was assumed, or, when the policy makes `code` strict, an error that
    /// quarantines the row.
    mutating func tolerate(_ code: IssueCode, column: Col?, value: String?, _ message: String, fix: String) {
        if tolerance.tolerates(code) {
            warn(code, column: column, value: value, message, fix: fix)
        } else {
            error(code, column: column, value: value, message + " " + ReadingTolerance.strictNote(code), fix: fix)
        }
    }

    /// `raw` read as `value` because only its letter case was off.
    mutating func letterCase(_ column: Col, raw: String, as value: String) {
        tolerate(.enumLetterCase, column: column, value: raw,
                 "`\(column.name)` values are case-sensitive; `\(raw)` was read as `\(value)`.",
                 fix: "Export \(column.name) as `\(value)` (exact letter case).")
    }

    // MARK: raw values

    /// The raw value, or `nil` if the column is not in the header.
    func value(_ column: Col) -> String? {
        let i = map.pos[column.rawValue]
        return i < 0 ? nil : fields[i]
    }

    /// A required value; blank or missing → error (and "" returned).
    mutating func required(_ column: Col) -> String {
        guard let v = value(column) else {
            // Reported once per file as missing-required-column.
            failed = true
            ownErrors += 1
            if !reasons.contains(.missingRequiredColumn) { reasons.append(.missingRequiredColumn) }
            return ""
        }
        if isBlank(v) {
            let what = v.isEmpty ? "is empty" : "contains only spaces"
            var why = "every \(file.rawValue) row needs it"
            if mode == .delta && (column == .status || column == .dateLastModified) {
                why = "rows of a delta file must say their status and when they changed"
            }
            error(.missingRequiredValue, column: column, value: v.isEmpty ? nil : v,
                  "`\(column.name)` \(what), but \(why). The row was not loaded.",
                  fix: "Fill in \(column.name) for this row in the source system and export again.")
            return ""
        }
        return v
    }

    /// An optional value; blank → `nil`.
    func optional(_ column: Col) -> String? {
        guard let v = value(column), !isBlank(v) else { return nil }
        return v
    }

    mutating func string(_ column: Col, required isRequired: Bool) -> String? {
        if isRequired {
            let v = required(column)
            return v.isEmpty ? nil : v
        }
        return optional(column)
    }

    // MARK: typed values

    mutating func enumValue<E: OneRosterEnumeration>(_ column: Col, required isRequired: Bool, as type: E.Type = E.self) -> E? {
        guard let raw = string(column, required: isRequired) else { return nil }
        if let v = E(rawValue: raw) { return v }
        if let v = E.letterCaseMatch(raw) {
            letterCase(column, raw: raw, as: v.rawValue)
            return failed ? nil : v
        }
        reportUnknown(column: column, raw: raw, allowed: E.allCases.map(\.rawValue))
        return nil
    }

    mutating func reportUnknown(column: Col, raw: String, allowed: [String], note: String = "") {
        let list = allowed.map { "`\($0)`" }
        let allowedText = list.count > 1 ? list.dropLast().joined(separator: ", ") + " or " + list.last! : (list.first ?? "")
        var message = "`\(column.name)` must be \(allowedText); `\(raw)` is not allowed."
        let folded = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if let near = allowed.first(where: { $0.lowercased() == folded }) {
            message += " Did you mean `\(near)`? (values are case-sensitive)"
        }
        if !note.isEmpty { message += " " + note }
        message += " The row was not loaded."
        error(.unknownEnumValue, column: column, value: raw, message,
              fix: "Change \(column.name) to one of the allowed values (vendor-specific values must start with `ext:`).")
    }

    mutating func userRole(_ column: Col, required isRequired: Bool) -> UserRole? {
        guard let raw = string(column, required: isRequired) else { return nil }
        let allowed = (version == .v1_1 ? UserRole.version1_1 : UserRole.version1_2)
        if let v = UserRole(rawValue: raw), v.isAllowed(in: version) { return v }
        if let v = UserRole.letterCaseMatch(raw), v.isAllowed(in: version) {
            letterCase(column, raw: raw, as: v.rawValue)
            return failed ? nil : v
        }
        var note = ""
        if version == .v1_2 && raw == "administrator" {
            note = "OneRoster 1.2 replaced `administrator` with `districtAdministrator`, `siteAdministrator` and `systemAdministrator`."
        } else if version == .v1_1, UserRole(rawValue: raw) != nil {
            note = "`\(raw)` is a OneRoster 1.2 role; this bundle is 1.1."
        }
        reportUnknown(column: column, raw: raw, allowed: allowed.map(\.rawValue), note: note)
        return nil
    }

    mutating func gender(_ column: Col) -> Gender? {
        guard let raw = optional(column) else { return nil }
        if let v = Gender(rawValue: raw), v.isAllowed(in: version) { return v }
        if let v = Gender.letterCaseMatch(raw), v.isAllowed(in: version) {
            letterCase(column, raw: raw, as: v.rawValue)
            return failed ? nil : v
        }
        let allowed: [Gender] = version == .v1_1 ? [.male, .female] : Gender.allCases
        reportUnknown(column: column, raw: raw, allowed: allowed.map(\.rawValue),
                      note: version == .v1_1 && Gender(rawValue: raw) != nil ? "`\(raw)` exists only in OneRoster 1.2." : "")
        return nil
    }

    mutating func readStatus() -> RecordStatus {
        guard let raw = string(.status, required: mode == .delta) else { return .active }
        switch raw {
        case "active": status = .active
        case "tobedeleted": status = .tobedeleted
        default:
            let folded = raw.lowercased()
            if folded == "inactive" {
                tolerate(.legacyStatus, column: .status, value: raw,
                     "`inactive` is the OneRoster 1.0 status; it was read as `tobedeleted` (the record will be treated as deleted).",
                     fix: "Export `tobedeleted` instead of `inactive`.")
                status = .tobedeleted
            } else if folded == "active" || folded == "tobedeleted" {
                status = folded == "active" ? .active : .tobedeleted
                letterCase(.status, raw: raw, as: folded)
            } else {
                reportUnknown(column: .status, raw: raw, allowed: ["active", "tobedeleted"])
            }
        }
        return status
    }

    mutating func dateLastModified() -> Date? {
        guard let raw = string(.dateLastModified, required: mode == .delta) else { return nil }
        let read = LenientTimestamp(raw)
        switch read {
        case .exact(let d):
            return d
        case .imprecise(let d, let dateOnly):
            tolerate(.impreciseTimestamp, column: .dateLastModified, value: raw,
                     dateOnly ? "`dateLastModified` is a date without a time; it was read as midnight UTC."
                        : "`dateLastModified` has no time zone; it was read as UTC.",
                     fix: dateOnly ? "Export dateLastModified as an ISO 8601 date-time with zone, e.g. 2024-05-01T18:25:43.511Z."
                        : "Add the zone (`Z` for UTC), e.g. 2024-05-01T18:25:43.511Z.")
            return d
        case .spaceSeparated(let d):
            tolerate(.nonISOTimestamp, column: .dateLastModified, value: raw,
                     "`dateLastModified` is not ISO 8601 (a space instead of `T`); it was read as \(OneRosterTimestamp.format(d)) (UTC when it gives no zone).",
                     fix: "Export dateLastModified as YYYY-MM-DDTHH:MM:SS.sssZ.")
            return d
        case .unreadable:
            var message = "`dateLastModified` must be an ISO 8601 date-time with zone such as 2024-05-01T18:25:43.511Z; `\(raw)` is not"
            if let readings = possibleDateReadings(raw) {
                message += " (" + Self.readingsText(readings) + ")"
            }
            message += ". It is bookkeeping, not roster data: it was kept as unknown and the row loaded."
            tolerate(.unreadableTimestamp, column: .dateLastModified, value: raw, message,
                     fix: "Export dateLastModified as YYYY-MM-DDTHH:MM:SS.sssZ.")
            return nil
        }
    }

    /// "it could be 2023-01-05 (month first) or 2023-05-01 (day first)", or the one reading that is a real date.
    static func readingsText(_ readings: (monthFirst: OneRosterDate?, dayFirst: OneRosterDate?)) -> String {
        switch (readings.monthFirst, readings.dayFirst) {
        case let (m?, d?) where m != d: return "it could be \(m) (month first) or \(d) (day first)"
        case let (m?, _): return "read month first it would be \(m)"
        case let (nil, d?): return "read day first it would be \(d)"
        default: return ""
        }
    }

    mutating func date(_ column: Col, required isRequired: Bool) -> OneRosterDate? {
        guard let raw = string(column, required: isRequired) else { return nil }
        if let d = OneRosterDate(raw) { return d }
        var why = ""
        if let readings = possibleDateReadings(raw) {
            why = " (" + Self.readingsText(readings) + "; a roster date is not guessed)"
        }
        error(.badDate, column: column, value: raw,
              "`\(column.name)` must be a real date written YYYY-MM-DD (e.g. 2024-08-15); `\(raw)` is not\(why). The row was not loaded.",
              fix: "Export \(column.name) as YYYY-MM-DD.")
        return nil
    }

    mutating func checkRange(start: OneRosterDate?, end: OneRosterDate?, startColumn: Col, endColumn: Col) {
        guard let start, let end, end < start else { return }
        error(.endBeforeStart, column: endColumn, value: end.description,
              "`\(endColumn.name)` \(end) is before `\(startColumn.name)` \(start). The row was not loaded.",
              fix: "Correct the dates so that \(endColumn.name) is on or after \(startColumn.name).")
    }

    mutating func bool(_ column: Col, required isRequired: Bool) -> Bool? {
        guard let raw = string(column, required: isRequired) else { return nil }
        switch oneRosterBoolean(raw) {
        case let (value, letterCase)?:
            if letterCase { self.letterCase(column, raw: raw, as: value ? "true" : "false") }
            return value
        case nil:
            error(.badBoolean, column: column, value: raw,
                  "`\(column.name)` must be `true` or `false`; `\(raw)` is not. The row was not loaded.",
                  fix: "Export \(column.name) as true or false.")
            return nil
        }
    }

    mutating func year(_ column: Col) -> Int? {
        guard let raw = string(column, required: true) else { return nil }
        if raw.utf8.count == 4, raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let y = Int(raw), y >= 1900 { return y }
        error(.badYear, column: column, value: raw,
              "`\(column.name)` must be the four-digit year in which the school year ends (2025 for 2024–25); `\(raw)` is not. The row was not loaded.",
              fix: "Export \(column.name) as a four-digit year.")
        return nil
    }

    /// A comma-separated list (quoted in the CSV), items trimmed, empty items dropped.
    func list(_ column: Col) -> [String] {
        guard let v = optional(column) else { return [] }
        return splitList(v)
    }

    mutating func requiredList(_ column: Col) -> [String] {
        let v = required(column)
        if v.isEmpty { return [] }
        let items = splitList(v)
        if items.isEmpty {
            error(.missingRequiredValue, column: column, value: v,
                  "`\(column.name)` lists no sourcedIds. The row was not loaded.",
                  fix: "List at least one sourcedId in \(column.name), separated by commas and quoted.")
        }
        return items
    }

    mutating func grades(_ column: Col) -> [String] {
        let items = list(column)
        if checkGrades {
            for g in items where !cedsGrades.contains(g) {
                var hint = ""
                if g.count == 1, g.first!.isNumber { hint = " Use two digits, e.g. `0\(g)`." }
                warn(.nonstandardGrade, column: column, value: g,
                     "`\(g)` is not a CEDS grade-level code (IT, PR, PK, TK, KG, 01–13, PS, UG, Other).\(hint)",
                     fix: "Map grades to CEDS codes in the export.")
            }
        }
        return items
    }

    mutating func reference(_ value: String?, to entity: OneRosterEntity, column: Col, optional: Bool = false) {
        guard let value, !value.isEmpty else { return }
        refs.append(PendingRef(column: column, value: value, entity: entity,
                               soft: optional && tolerance.tolerates(.danglingOptionalReference), optional: optional))
    }

    mutating func references(_ values: [String], to entity: OneRosterEntity, column: Col, optional: Bool = false) {
        for v in values { reference(v, to: entity, column: column, optional: optional) }
    }

    /// Non-empty values of extension columns.
    func extensions() -> [String: String] {
        if map.extIndices.isEmpty { return [:] }
        var d: [String: String] = [:]
        for i in map.extIndices where !fields[i].isEmpty { d[map.header[i]] = fields[i] }
        return d
    }

    mutating func common() -> (String, RecordStatus, Date?) {
        let id = required(.sourcedId)
        sourcedId = id.isEmpty ? nil : id
        let st = readStatus()
        let dlm = dateLastModified()
        return (id, st, dlm)
    }
}

/// Splits a comma-separated list, trimming spaces and tabs around items and dropping empty items.
/// Works on UTF-8 bytes (commas, spaces and tabs are ASCII, so every cut is on a character boundary).
func splitList(_ v: String) -> [String] {
    var out: [String] = []
    let u = v.utf8
    var itemStart = u.startIndex
    var i = u.startIndex
    while i < u.endIndex {
        if u[i] == 0x2C {
            if let item = trimmedItem(v, itemStart, i) { out.append(item) }
            itemStart = u.index(after: i)
        }
        i = u.index(after: i)
    }
    if let item = trimmedItem(v, itemStart, u.endIndex) { out.append(item) }
    return out
}

/// `v[start..<end]` without surrounding spaces and tabs, or `nil` if nothing is left.
@inline(__always)
func trimmedItem(_ v: String, _ start: String.Index, _ end: String.Index) -> String? {
    let u = v.utf8
    var a = start, b = end
    while a < b, u[a] == 0x20 || u[a] == 0x09 { a = u.index(after: a) }
    while b > a {
        let p = u.index(before: b)
        if u[p] == 0x20 || u[p] == 0x09 { b = p } else { break }
    }
    guard a < b else { return nil }
    if a == u.startIndex && b == u.endIndex { return v }
    return String(v[a..<b])
}

// MARK: - Entity decoders

extension RowContext {
    mutating func decodeOrg() -> Org? {
        let (id, status, dlm) = common()
        let name = string(.name, required: true)
        let type: OrgType? = enumValue(.type, required: true)
        let parent = optional(.parentSourcedId)
        reference(parent, to: .org, column: .parentSourcedId, optional: true)
        guard !failed, let name, let type else { return nil }
        return Org(sourcedId: id, status: status, dateLastModified: dlm, name: name, type: type,
                   identifier: optional(.identifier), parentSourcedId: parent, extensions: extensions())
    }

    mutating func decodeAcademicSession() -> AcademicSession? {
        let (id, status, dlm) = common()
        let title = string(.title, required: true)
        let type: SessionType? = enumValue(.type, required: true)
        let start = date(.startDate, required: true)
        let end = date(.endDate, required: true)
        checkRange(start: start, end: end, startColumn: .startDate, endColumn: .endDate)
        let parent = optional(.parentSourcedId)
        reference(parent, to: .academicSession, column: .parentSourcedId, optional: true)
        let year = year(.schoolYear)
        guard !failed, let title, let type, let start, let end, let year else { return nil }
        return AcademicSession(sourcedId: id, status: status, dateLastModified: dlm, title: title, type: type,
                               startDate: start, endDate: end, parentSourcedId: parent, schoolYear: year,
                               extensions: extensions())
    }

    mutating func decodeCourse() -> Course? {
        let (id, status, dlm) = common()
        let schoolYear = optional(.schoolYearSourcedId)
        reference(schoolYear, to: .academicSession, column: .schoolYearSourcedId, optional: true)
        let title = string(.title, required: true)
        let grades = grades(.grades)
        let org = string(.orgSourcedId, required: true)
        reference(org, to: .org, column: .orgSourcedId)
        guard !failed, let title, let org else { return nil }
        return Course(sourcedId: id, status: status, dateLastModified: dlm, schoolYearSourcedId: schoolYear, title: title,
                      courseCode: optional(.courseCode), grades: grades, orgSourcedId: org, subjects: list(.subjects),
                      subjectCodes: list(.subjectCodes), extensions: extensions())
    }

    mutating func decodeClass() -> RosterClass? {
        let (id, status, dlm) = common()
        let title = string(.title, required: true)
        let grades = grades(.grades)
        let course = string(.courseSourcedId, required: true)
        reference(course, to: .course, column: .courseSourcedId)
        let classType: ClassType? = enumValue(.classType, required: true)
        let school = string(.schoolSourcedId, required: true)
        reference(school, to: .org, column: .schoolSourcedId)
        let terms = requiredList(.termSourcedIds)
        references(terms, to: .academicSession, column: .termSourcedIds)
        guard !failed, let title, let course, let classType, let school else { return nil }
        return RosterClass(sourcedId: id, status: status, dateLastModified: dlm, title: title, grades: grades,
                           courseSourcedId: course, classCode: optional(.classCode), classType: classType,
                           location: optional(.location), schoolSourcedId: school, termSourcedIds: terms,
                           subjects: list(.subjects), subjectCodes: list(.subjectCodes), periods: list(.periods),
                           extensions: extensions())
    }

    mutating func decodeUser() -> User? {
        let (id, status, dlm) = common()
        let enabled = bool(.enabledUser, required: true)
        let username = string(.username, required: version == .v1_1)
        var userIds: [UserIdentifier] = []
        for item in list(.userIds) {
            if let u = UserIdentifier(item) {
                userIds.append(u)
            } else {
                warn(.badUserId, column: .userIds, value: item,
                     "`\(item)` is not a `{type:identifier}` item (e.g. `{LDAP:12}`); it was ignored.",
                     fix: "Write each userIds item as {type:identifier}.")
            }
        }
        let given = string(.givenName, required: true)
        let family = string(.familyName, required: true)
        let agents = list(.agentSourcedIds)
        references(agents, to: .user, column: .agentSourcedIds, optional: true)
        let grades = grades(.grades)
        var role: UserRole?
        var orgs: [String] = []
        var roles: [RoleAssignment] = []
        if version == .v1_1 {
            orgs = requiredList(.orgSourcedIds)
            references(orgs, to: .org, column: .orgSourcedIds)
            role = userRole(.role, required: true)
            if let role {
                roles = orgs.enumerated().map { i, org in
                    RoleAssignment(status: status, dateLastModified: dlm, userSourcedId: id, roleType: i == 0 ? .primary : .secondary,
                         role: role, orgSourcedId: org)
                }
            }
        }
        let primaryOrg = optional(.primaryOrgSourcedId)
        reference(primaryOrg, to: .org, column: .primaryOrgSourcedId, optional: true)
        guard !failed, let enabled, let given, let family else { return nil }
        return User(sourcedId: id, status: status, dateLastModified: dlm, enabledUser: enabled, username: username,
                    userIds: userIds, givenName: given, familyName: family, middleName: optional(.middleName),
                    identifier: optional(.identifier), email: optional(.email), sms: optional(.sms), phone: optional(.phone),
                    agentSourcedIds: agents, grades: grades, password: optional(.password), role: role, orgSourcedIds: orgs,
                    roles: roles, userMasterIdentifier: optional(.userMasterIdentifier),
                    preferredGivenName: optional(.preferredGivenName), preferredMiddleName: optional(.preferredMiddleName),
                    preferredFamilyName: optional(.preferredFamilyName), primaryOrgSourcedId: primaryOrg,
                    pronouns: optional(.pronouns), extensions: extensions())
    }

    mutating func decodeRole() -> RoleAssignment? {
        let (id, status, dlm) = common()
        let user = string(.userSourcedId, required: true)
        reference(user, to: .user, column: .userSourcedId)
        let roleType: RoleType? = enumValue(.roleType, required: true)
        let role = userRole(.role, required: true)
        let begin = date(.beginDate, required: false)
        let end = date(.endDate, required: false)
        checkRange(start: begin, end: end, startColumn: .beginDate, endColumn: .endDate)
        let org = string(.orgSourcedId, required: true)
        reference(org, to: .org, column: .orgSourcedId)
        let profile = optional(.userProfileSourcedId)
        reference(profile, to: .userProfile, column: .userProfileSourcedId, optional: true)
        guard !failed, let user, let roleType, let role, let org else { return nil }
        return RoleAssignment(sourcedId: id, status: status, dateLastModified: dlm, userSourcedId: user, roleType: roleType, role: role,
                    beginDate: begin, endDate: end, orgSourcedId: org, userProfileSourcedId: profile, extensions: extensions())
    }

    mutating func decodeUserProfile() -> UserProfile? {
        let (id, status, dlm) = common()
        let user = string(.userSourcedId, required: true)
        reference(user, to: .user, column: .userSourcedId)
        let profileType = string(.profileType, required: true)
        let vendor = string(.vendorId, required: true)
        guard !failed, let user, let profileType, let vendor else { return nil }
        return UserProfile(sourcedId: id, status: status, dateLastModified: dlm, userSourcedId: user, profileType: profileType,
                           vendorId: vendor, applicationId: optional(.applicationId), description: optional(.description),
                           credentialType: optional(.credentialType), username: optional(.username),
                           password: optional(.password), extensions: extensions())
    }

    mutating func decodeDemographics() -> Demographics? {
        let (id, status, dlm) = common()
        reference(id, to: .user, column: .sourcedId)
        let birth = date(.birthDate, required: false)
        let sex = gender(.sex)
        let flags: [Col] = [.americanIndianOrAlaskaNative, .asian, .blackOrAfricanAmerican, .nativeHawaiianOrOtherPacificIslander,
                            .white, .demographicRaceTwoOrMoreRaces, .hispanicOrLatinoEthnicity]
        let flagValues = flags.map { bool($0, required: false) }
        guard !failed else { return nil }
        return Demographics(sourcedId: id, status: status, dateLastModified: dlm, birthDate: birth, sex: sex,
                            americanIndianOrAlaskaNative: flagValues[0], asian: flagValues[1], blackOrAfricanAmerican: flagValues[2],
                            nativeHawaiianOrOtherPacificIslander: flagValues[3], white: flagValues[4],
                            demographicRaceTwoOrMoreRaces: flagValues[5], hispanicOrLatinoEthnicity: flagValues[6],
                            countryOfBirthCode: optional(.countryOfBirthCode),
                            stateOfBirthAbbreviation: optional(.stateOfBirthAbbreviation), cityOfBirth: optional(.cityOfBirth),
                            publicSchoolResidenceStatus: optional(.publicSchoolResidenceStatus), extensions: extensions())
    }

    mutating func decodeEnrollment() -> Enrollment? {
        let (id, status, dlm) = common()
        let cls = string(.classSourcedId, required: true)
        reference(cls, to: .rosterClass, column: .classSourcedId)
        let school = string(.schoolSourcedId, required: true)
        reference(school, to: .org, column: .schoolSourcedId)
        let user = string(.userSourcedId, required: true)
        reference(user, to: .user, column: .userSourcedId)
        let role: EnrollmentRole? = enumValue(.role, required: true)
        let primary = bool(.primary, required: false)
        let begin = date(.beginDate, required: false)
        let end = date(.endDate, required: false)
        checkRange(start: begin, end: end, startColumn: .beginDate, endColumn: .endDate)
        guard !failed, let cls, let school, let user, let role else { return nil }
        return Enrollment(sourcedId: id, status: status, dateLastModified: dlm, classSourcedId: cls, schoolSourcedId: school,
                          userSourcedId: user, role: role, primary: primary, beginDate: begin, endDate: end,
                          extensions: extensions())
    }
}
