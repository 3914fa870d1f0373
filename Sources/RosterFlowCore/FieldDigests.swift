import Foundation
import OneRoster
import Storage

/// Receives a record's fields one by one, in the order that defines the record's digest (see
/// ``SyncPlanner/visitFields(_:into:)``): the 64-bit record digest and the per-field digest vector read the same list.
protocol RecordFieldSink {
    mutating func field(_ text: String?)
    mutating func list(_ items: [String])
    mutating func flag(_ value: Bool?)
}

extension Digest: RecordFieldSink {}

extension SyncPlanner {
    /// Hands each field of a record to `sink`, in digest order, and returns what identifies the record; nil for kinds
    /// that are not held (roles are folded into users; user profiles are not held).
    ///
    /// The order and the fields are the definition of the stored 64-bit digest: never change them.
    @inline(__always)
    static func visitFields<Sink: RecordFieldSink>(
        _ record: OneRosterRecord, into d: inout Sink
    ) -> (entity: RosterEntity, status: RecordStatus, sourcedID: String, extensions: [String: String])? {
        switch record {
        case let .org(o):
            d.field(o.name); d.field(o.type.rawValue); d.field(o.identifier); d.field(o.parentSourcedId)
            return (.orgs, o.status, o.sourcedId, o.extensions)
        case let .academicSession(s):
            d.field(s.title); d.field(s.type.rawValue); d.field(s.startDate.description); d.field(s.endDate.description)
            d.field(s.parentSourcedId); d.field(String(s.schoolYear))
            return (.academicSessions, s.status, s.sourcedId, s.extensions)
        case let .course(c):
            d.field(c.title); d.field(c.schoolYearSourcedId); d.field(c.courseCode); d.list(c.grades); d.field(c.orgSourcedId)
            d.list(c.subjects); d.list(c.subjectCodes)
            return (.courses, c.status, c.sourcedId, c.extensions)
        case let .rosterClass(c):
            d.field(c.title); d.list(c.grades); d.field(c.courseSourcedId); d.field(c.classCode); d.field(c.classType.rawValue)
            d.field(c.location); d.field(c.schoolSourcedId); d.list(c.termSourcedIds); d.list(c.subjects)
            d.list(c.subjectCodes); d.list(c.periods)
            return (.classes, c.status, c.sourcedId, c.extensions)
        case let .user(u):
            d.field(u.enabledUser ? "true" : "false"); d.field(u.username)
            if u.userIds.isEmpty { d.list([]) } else { d.list(u.userIds.map(\.csvText)) }
            d.field(u.givenName); d.field(u.familyName); d.field(u.middleName); d.field(u.identifier); d.field(u.email)
            d.field(u.sms); d.field(u.phone); d.list(u.agentSourcedIds); d.list(u.grades); d.field(u.role?.rawValue)
            d.list(u.orgSourcedIds)
            d.list(u.roles.map { "\($0.roleType.rawValue):\($0.role.rawValue)@\($0.orgSourcedId)" }.sorted())
            d.field(u.preferredGivenName); d.field(u.preferredFamilyName); d.field(u.primaryOrgSourcedId)
            return (.users, u.status, u.sourcedId, u.extensions)
        case let .enrollment(e):
            d.field(e.classSourcedId); d.field(e.schoolSourcedId); d.field(e.userSourcedId); d.field(e.role.rawValue)
            d.field(e.primary.map { $0 ? "true" : "false" }); d.field(e.beginDate?.description); d.field(e.endDate?.description)
            return (.enrollments, e.status, e.sourcedId, e.extensions)
        case let .demographics(g):
            d.field(g.birthDate?.description); d.field(g.sex?.rawValue); d.flag(g.americanIndianOrAlaskaNative)
            d.flag(g.asian); d.flag(g.blackOrAfricanAmerican); d.flag(g.nativeHawaiianOrOtherPacificIslander)
            d.flag(g.white); d.flag(g.demographicRaceTwoOrMoreRaces); d.flag(g.hispanicOrLatinoEthnicity)
            d.field(g.countryOfBirthCode); d.field(g.stateOfBirthAbbreviation); d.field(g.cityOfBirth)
            d.field(g.publicSchoolResidenceStatus)
            return (.demographics, g.status, g.sourcedId, g.extensions)
        default:
            return nil
        }
    }
}

/// Per-field digests of a held record: which fields of an update changed, without holding the fields themselves.
///
/// Each field of the record's digest (see ``SyncPlanner/visitFields(_:into:)``), and its `metadata.*` columns together
/// as one, is reduced to 16 bits of its own FNV-1a hash; the vector is kept with each held record and each stored change
/// (2 bytes a field: 16 for an enrollment, 38 for a user). At plan time an update's new vector is compared with the held
/// one: the fields whose digests differ changed. A changed field goes unnoticed only if its 16-bit digest collides
/// (1 in 65,536); the record's 64-bit digest still tells the update.
///
/// Demographics get none: a 16-bit digest of a race flag or a birth date could be reversed by trying the few possible
/// values, and RosterFlow holds demographics as one fingerprint only.
public enum FieldDigests {
    /// The migration that started keeping field digests: records held before it have none.
    public static let migration = "v6-roster-field-digests"

    /// The names of the fields of `entity`'s vector, in vector order (OneRoster column names; `metadata` for every
    /// `metadata.*` column together). Empty for demographics, which keep no vector.
    public static func names(_ entity: RosterEntity) -> [String] {
        switch entity {
        case .orgs: ["name", "type", "identifier", "parentSourcedId", "metadata"]
        case .academicSessions: ["title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear", "metadata"]
        case .courses:
            ["title", "schoolYearSourcedId", "courseCode", "grades", "orgSourcedId", "subjects", "subjectCodes", "metadata"]
        case .classes:
            ["title", "grades", "courseSourcedId", "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds",
             "subjects", "subjectCodes", "periods", "metadata"]
        case .users:
            ["enabledUser", "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms",
             "phone", "agentSourcedIds", "grades", "role", "orgSourcedIds", "roles", "preferredGivenName",
             "preferredFamilyName", "primaryOrgSourcedId", "metadata"]
        case .enrollments:
            ["classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary", "beginDate", "endDate", "metadata"]
        case .demographics: []
        }
    }

    /// The field digest vector of a record (2 bytes a field, little-endian); nil for demographics and kinds not held.
    public static func vector(_ record: OneRosterRecord) -> Data? {
        if case .demographics = record { return nil }
        var sink = FieldVectorSink()
        guard let visited = SyncPlanner.visitFields(record, into: &sink) else { return nil }
        return sink.finish(visited.extensions)
    }

    /// The names of the fields that differ between a held record's vector and an update's, in vector order; nil when
    /// either is missing or they do not have `entity`'s length (the record was held before field digests were kept).
    public static func changed(_ entity: RosterEntity, old: Data?, new: Data?) -> [String]? {
        let names = names(entity)
        guard let old, let new, old.count == new.count, old.count == names.count * 2 else { return nil }
        var changed: [String] = []
        for (i, name) in names.enumerated() where old[old.startIndex + 2 * i] != new[new.startIndex + 2 * i]
            || old[old.startIndex + 2 * i + 1] != new[new.startIndex + 2 * i + 1] {
            changed.append(name)
        }
        return changed
    }
}

/// Builds a field digest vector: each field's own FNV-1a hash, folded to 16 bits.
struct FieldVectorSink: RecordFieldSink {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(40) }

    private mutating func append(_ hash: FNV1a) {
        let v = hash.value
        let folded = UInt16(truncatingIfNeeded: v ^ (v >> 16) ^ (v >> 32) ^ (v >> 48))
        bytes.append(UInt8(truncatingIfNeeded: folded))
        bytes.append(UInt8(truncatingIfNeeded: folded >> 8))
    }

    mutating func field(_ text: String?) {
        var hash = FNV1a()
        if let text { hash.mix(text) } else { hash.mix(byte: 0xff) }
        append(hash)
    }

    mutating func list(_ items: [String]) {
        var hash = FNV1a()
        for (i, item) in items.enumerated() {
            if i > 0 { hash.mix(byte: 0x2c) }
            hash.mix(item)
        }
        append(hash)
    }

    mutating func flag(_ value: Bool?) {
        field(value.map { $0 ? "true" : "false" })
    }

    /// The vector, with the `metadata.*` columns (sorted by name) as its last field.
    mutating func finish(_ extensions: [String: String]) -> Data {
        var hash = FNV1a()
        for key in extensions.keys.sorted() {
            hash.mix(key)
            hash.mix(byte: 0x1f)
            hash.mix(extensions[key] ?? "")
            hash.mix(byte: 0x1f)
        }
        append(hash)
        return Data(bytes)
    }
}
