import Foundation
import OneRoster
import StorageCore

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
/// as one, is reduced to a few bits of its own FNV-1a hash: 16 bits a field, 14 for enrollments, so that an enrollment's
/// eight fields fit in 14 bytes, which `Data` keeps inline (no allocation for the millions of enrollments of a first
/// sync). The vector is kept with each held record and each stored change (38 bytes for a user, 14 for an enrollment).
/// At plan time an update's new vector is compared with the held one: the fields whose digests differ changed. A changed
/// field goes unnoticed only if its digest collides (1 in 65,536; 1 in 16,384 for enrollments); the record's 64-bit
/// digest still tells the update.
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

    /// Bits of each field's digest: 14 for enrollments (their vector fits in `Data`'s inline 14 bytes), else 16.
    static func width(_ entity: RosterEntity) -> Int {
        entity == .enrollments ? 14 : 16
    }

    /// The length in bytes of `entity`'s vector.
    static func byteCount(_ entity: RosterEntity) -> Int {
        (fieldCount(entity) * width(entity) + 7) / 8
    }

    /// The field digest vector of a record (each field's digest in `width` bits, packed little-endian); nil for
    /// demographics and kinds not held.
    public static func vector(_ record: OneRosterRecord) -> Data? {
        if case .demographics = record { return nil }
        var sink = FieldVectorSink()
        guard let visited = SyncPlanner.visitFields(record, into: &sink) else { return nil }
        return sink.finish(visited.extensions, width: width(visited.entity))
    }

    /// The names of the fields that differ between a held record's vector and an update's, in vector order; nil when
    /// either is missing or not of `entity`'s length (the record was held before field digests were kept).
    public static func changed(_ entity: RosterEntity, old: Data?, new: Data?) -> [String]? {
        changedMask(entity, old: old, new: new).map { names(entity, mask: $0) }
    }

    /// Which fields differ between a held record's vector and an update's: bit `i` for field `i`; nil when either is
    /// missing or not of `entity`'s length.
    public static func changedMask(_ entity: RosterEntity, old: Data?, new: Data?) -> UInt32? {
        let count = fieldCount(entity)
        guard let old, let new, count > 0, old.count == byteCount(entity), new.count == old.count else { return nil }
        let width = width(entity)
        // Read in place (a rollover compares the vectors of every user): not a `Data` subscript per bit.
        // Only the bytes that differ are looked at: each differing bit names the field whose slot holds it.
        return old.withUnsafeBytes { (a: UnsafeRawBufferPointer) -> UInt32 in
            new.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> UInt32 in
                var mask: UInt32 = 0
                for byte in 0..<a.count {
                    var differing = a[byte] ^ b[byte]
                    while differing != 0 {
                        let field = (byte * 8 + differing.trailingZeroBitCount) / width
                        if field < count { mask |= 1 << UInt32(field) }
                        differing &= differing - 1
                    }
                }
                return mask
            }
        }
    }

    /// How many fields `entity`'s vector has (`names(entity).count`, without building the list).
    static func fieldCount(_ entity: RosterEntity) -> Int {
        switch entity {
        case .orgs: 5
        case .academicSessions: 7
        case .courses: 8
        case .classes: 12
        case .users: 19
        case .enrollments: 8
        case .demographics: 0
        }
    }

    /// The names of the fields whose bits are set in `mask`, in field order.
    public static func names(_ entity: RosterEntity, mask: UInt32) -> [String] {
        names(entity).enumerated().filter { i, _ in mask & (1 << UInt32(i)) != 0 }.map(\.element)
    }
}

/// Builds a field digest vector: each field's own FNV-1a hash folded to 16 bits, packed at the end to the entity's
/// width. Kept in fixed inline storage: building a vector allocates nothing but the `Data` (nothing at all for 14 bytes).
struct FieldVectorSink: RecordFieldSink {
    /// Room for 20 digests of 16 bits (a user has 19).
    private var digests: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
    private var count = 0
    static let capacity = 20

    private mutating func append(_ hash: FNV1a) {
        let v = hash.value
        let folded = UInt16(truncatingIfNeeded: v ^ (v >> 16) ^ (v >> 32) ^ (v >> 48))
        precondition(count < Self.capacity, "a record has more fields than a field digest vector holds")
        let offset = count * 2
        withUnsafeMutableBytes(of: &digests) { $0.storeBytes(of: folded, toByteOffset: offset, as: UInt16.self) }
        count += 1
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

    /// The vector, with the `metadata.*` columns (sorted by name) as its last field, each digest in `width` bits.
    mutating func finish(_ extensions: [String: String], width: Int) -> Data {
        var hash = FNV1a()
        for key in extensions.keys.sorted() {
            hash.mix(key)
            hash.mix(byte: 0x1f)
            hash.mix(extensions[key] ?? "")
            hash.mix(byte: 0x1f)
        }
        append(hash)
        let digests = self.digests
        let count = self.count
        var packed: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        let length = withUnsafeMutableBytes(of: &packed) { out in
            withUnsafeBytes(of: digests) { slots in
                let mask = UInt64(1) << UInt64(width) - 1
                var accumulator: UInt64 = 0, bits = 0, n = 0
                for i in 0..<count {
                    accumulator |= (UInt64(slots.load(fromByteOffset: i * 2, as: UInt16.self)) & mask) << UInt64(bits)
                    bits += width
                    while bits >= 8 {
                        out[n] = UInt8(truncatingIfNeeded: accumulator)
                        accumulator >>= 8
                        bits -= 8
                        n += 1
                    }
                }
                if bits > 0 {
                    out[n] = UInt8(truncatingIfNeeded: accumulator)
                    n += 1
                }
                return n
            }
        }
        return withUnsafeBytes(of: &packed) { Data(bytes: $0.baseAddress!, count: length) }
    }
}
