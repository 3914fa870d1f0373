import OneRoster
import Storage

/// How a sync treats what a bulk file omits, and when it holds a run for review instead of applying it.
public struct SyncPolicy: Sendable, Equatable, Codable {
    /// Entities whose records are deleted when a bulk file omits them (by `RosterEntity` raw value).
    public var implicitDeletes: Set<String>
    /// Hold the run when a bulk file would delete more than this share of the held users, classes or enrollments.
    public var maxDeleteShare: Double
    /// Hold the run when it would update more than this share of the held records of an entity.
    public var maxUpdateShare: Double

    public init(implicitDeletes: Set<String> = Set(RosterEntity.allCases.map(\.rawValue)), maxDeleteShare: Double = 0.10,
                maxUpdateShare: Double = 0.75) {
        self.implicitDeletes = implicitDeletes
        self.maxDeleteShare = maxDeleteShare
        self.maxUpdateShare = maxUpdateShare
    }
}

/// The entities RosterFlow holds from a sync, in the order changes apply (parents before children).
public enum RosterEntity: String, Sendable, Codable, CaseIterable {
    case orgs, academicSessions, courses, classes, users, enrollments

    var file: OneRosterFile {
        switch self {
        case .orgs: .orgs
        case .academicSessions: .academicSessions
        case .courses: .courses
        case .classes: .classes
        case .users: .users
        case .enrollments: .enrollments
        }
    }

    /// Entities whose mass deletion trips the delete-share safeguard.
    static let guardedForDeletes: [RosterEntity] = [.users, .classes, .enrollments]
}

/// Adds, updates and deletes of one entity.
public struct EntityCounts: Sendable, Equatable, Codable {
    public var held = 0
    public var incoming = 0
    public var adds = 0
    public var updates = 0
    public var deletes = 0
    public var unchanged = 0
}

/// What a sync would do, and whether it must wait for a person.
public struct SyncPlan: Sendable {
    public var changes: [RosterChange]
    public var counts: [String: EntityCounts]
    /// Why the run must be held, in plain words; empty when it may apply.
    public var holdReasons: [String]

    public var isEmpty: Bool { changes.isEmpty }
}

/// Computes the change set of a bundle against the held roster and checks the safeguards. Pure: no I/O.
public struct SyncPlanner: Sendable {
    public var policy: SyncPolicy

    public init(policy: SyncPolicy = SyncPolicy()) {
        self.policy = policy
    }

    /// - Parameters:
    ///   - held: the records the integration holds now.
    ///   - lockedCourses: sourcedIds of courses whose mapping is locked (a student started them).
    public func plan(bundle: OneRosterBundle, held: [RosterRecord], lockedCourses: Set<String>) -> SyncPlan {
        var incoming = IncomingRoster()
        for record in Self.allRecords(in: bundle) { incoming.add(record) }
        return plan(incoming: incoming, bundle: bundle, held: held, lockedCourses: lockedCourses)
    }

    /// Plans from records collected while streaming the bundle (`bundle` supplies modes, quarantine and the report).
    public func plan(incoming collected: IncomingRoster, bundle: OneRosterBundle, held: [RosterRecord],
                     lockedCourses: Set<String>) -> SyncPlan {
        var heldByEntity: [String: [String: RosterRecord]] = [:]
        for record in held { heldByEntity[record.entity, default: [:]][record.sourcedID] = record }
        let quarantined = Set(bundle.quarantined.compactMap { row in row.sourcedId.map { "\(row.file)|\($0)" } })

        var changes: [RosterChange] = []
        var counts: [String: EntityCounts] = [:]
        var reasons: [String] = []
        var incomingByEntity: [RosterEntity: [String: RosterRecord]] = [:]

        for entity in RosterEntity.allCases {
            let mode = bundle.mode(of: entity.file)
            let heldRecords = heldByEntity[entity.rawValue] ?? [:]
            var count = EntityCounts()
            count.held = heldRecords.count
            guard mode != .absent else {
                counts[entity.rawValue] = count
                continue
            }
            let incoming = collected.records[entity] ?? [:]
            let explicitDeletes = collected.deletes[entity] ?? []
            incomingByEntity[entity] = incoming
            count.incoming = incoming.count
            for (id, record) in incoming {
                if let old = heldRecords[id] {
                    if old.digest == record.digest { count.unchanged += 1 } else {
                        changes.append(RosterChange(operation: .update, record: record))
                        count.updates += 1
                    }
                } else {
                    changes.append(RosterChange(operation: .add, record: record))
                    count.adds += 1
                }
            }
            var deleted: [RosterRecord] = explicitDeletes.compactMap { heldRecords[$0] }
            if mode == .bulk, policy.implicitDeletes.contains(entity.rawValue) {
                let fileName = entity.file.rawValue + ".csv"
                for (id, record) in heldRecords where incoming[id] == nil && !explicitDeletes.contains(id) {
                    // A row quarantined for an error is still in the file: never delete what we could not read.
                    if quarantined.contains("\(fileName)|\(id)") { continue }
                    deleted.append(record)
                }
            }
            for record in deleted.sorted(by: { $0.sourcedID < $1.sourcedID }) {
                changes.append(RosterChange(operation: .delete, record: record))
            }
            count.deletes = deleted.count
            counts[entity.rawValue] = count

            if mode == .bulk, count.held > 0 {
                let deleteShare = Double(count.deletes) / Double(count.held)
                if RosterEntity.guardedForDeletes.contains(entity), deleteShare > policy.maxDeleteShare {
                    reasons.append(
                        "\(entity.file.rawValue).csv would delete \(count.deletes) of \(count.held) \(entity.rawValue) "
                            + "(\(Self.percent(deleteShare)), more than the \(Self.percent(policy.maxDeleteShare)) allowed); "
                            + "a bulk file deletes whatever it omits, so check that the export was complete")
                }
            }
            if count.held > 0 {
                let updateShare = Double(count.updates) / Double(count.held)
                if updateShare > policy.maxUpdateShare {
                    reasons.append(
                        "\(entity.file.rawValue).csv would change \(count.updates) of \(count.held) \(entity.rawValue) "
                            + "(\(Self.percent(updateShare)), more than the \(Self.percent(policy.maxUpdateShare)) allowed); "
                            + "check that the export is from the right school year and system")
                }
            }
            if mode != .absent, incoming.isEmpty, count.held > 0,
               bundle.report.issues.contains(where: { $0.code == .emptyFile && $0.file == entity.file.rawValue + ".csv" }) {
                reasons.append("\(entity.file.rawValue).csv is empty or cut off, while \(count.held) \(entity.rawValue) are held")
            }
        }

        reasons += lockedCourseRemovals(changes: changes, held: heldByEntity, incoming: incomingByEntity, lockedCourses: lockedCourses)
        reasons += changedSourcedIDs(changes: changes)
        return SyncPlan(changes: changes, counts: counts, holdReasons: reasons)
    }

    /// Students removed from a course whose mapping is locked: their work in progress is protected.
    private func lockedCourseRemovals(
        changes: [RosterChange], held: [String: [String: RosterRecord]], incoming: [RosterEntity: [String: RosterRecord]],
        lockedCourses: Set<String>
    ) -> [String] {
        guard !lockedCourses.isEmpty else { return [] }
        func courseOf(classID: String) -> String? {
            incoming[.classes]?[classID]?.ref1 ?? held[RosterEntity.classes.rawValue]?[classID]?.ref1
        }
        var removed: [String: [String]] = [:]
        for change in changes where change.operation == .delete && change.record.entity == RosterEntity.enrollments.rawValue {
            guard change.record.ref3 == "student", let classID = change.record.ref1, let course = courseOf(classID: classID),
                  lockedCourses.contains(course)
            else { continue }
            removed[course, default: []].append(change.record.ref2 ?? change.record.sourcedID)
        }
        for change in changes where change.operation == .delete && change.record.entity == RosterEntity.courses.rawValue
            && lockedCourses.contains(change.record.sourcedID) {
            removed[change.record.sourcedID, default: []].append("(the course itself)")
        }
        return removed.keys.sorted().map { course in
            let students = removed[course]!
            return "it would remove \(students.count) enrollment\(students.count == 1 ? "" : "s") from course \(course), "
                + "whose mapping is locked because students have started it (e.g. \(students.prefix(3).joined(separator: ", "))); "
                + "their work in progress is protected"
        }
    }

    /// A user that disappears while a new one with the same username, e-mail or identifier appears: most likely the
    /// SIS changed the sourcedId; propose a merge instead of a delete plus a duplicate.
    private func changedSourcedIDs(changes: [RosterChange]) -> [String] {
        let users = RosterEntity.users.rawValue
        var addedByKey: [String: String] = [:]
        for change in changes where change.operation == .add && change.record.entity == users {
            for (label, value) in [("username", change.record.ref1), ("e-mail", change.record.ref2), ("identifier", change.record.ref3)] {
                if let value, !value.isEmpty { addedByKey["\(label)|\(value.lowercased())"] = change.record.sourcedID }
            }
        }
        guard !addedByKey.isEmpty else { return [] }
        var proposals: [String] = []
        for change in changes where change.operation == .delete && change.record.entity == users {
            for (label, value) in [("username", change.record.ref1), ("e-mail", change.record.ref2), ("identifier", change.record.ref3)] {
                guard let value, !value.isEmpty, let newID = addedByKey["\(label)|\(value.lowercased())"] else { continue }
                proposals.append(
                    "user \(change.record.sourcedID) disappears while new user \(newID) has the same \(label) '\(value)': "
                        + "the SIS probably changed the sourcedId; merge them instead of deleting one and adding a duplicate")
                break
            }
        }
        return proposals
    }

    static func percent(_ share: Double) -> String {
        let value = share * 100
        return value == value.rounded() ? "\(Int(value))%" : String(format: "%.1f%%", value)
    }

    /// Every retained record of the bundle, as the stream would deliver them.
    static func allRecords(in bundle: OneRosterBundle) -> [OneRosterRecord] {
        bundle.orgs.map { .org($0) } + bundle.academicSessions.map { .academicSession($0) } + bundle.courses.map { .course($0) }
            + bundle.classes.map { .rosterClass($0) } + bundle.users.map { .user($0) } + bundle.enrollments.map { .enrollment($0) }
    }

    /// The held-roster form of one OneRoster record: its entity, its fingerprint and the fields the safeguards need.
    public static func rosterRecord(_ record: OneRosterRecord) -> (entity: RosterEntity, status: RecordStatus, record: RosterRecord)? {
        switch record {
        case let .org(o):
            let name = RosterEntity.orgs.rawValue
            return (.orgs, o.status, RosterRecord(
                entity: name, sourcedID: o.sourcedId,
                digest: Digest.of([o.name, o.type.rawValue, o.identifier, o.parentSourcedId], o.extensions),
                ref1: o.type.rawValue, ref2: o.parentSourcedId, title: o.name))
        case let .academicSession(s):
            return (.academicSessions, s.status, RosterRecord(
                entity: RosterEntity.academicSessions.rawValue, sourcedID: s.sourcedId,
                digest: Digest.of([s.title, s.type.rawValue, "\(s.startDate)", "\(s.endDate)", s.parentSourcedId,
                                   String(s.schoolYear)], s.extensions),
                ref1: s.type.rawValue, ref2: s.parentSourcedId, title: s.title))
        case let .course(c):
            return (.courses, c.status, RosterRecord(
                entity: RosterEntity.courses.rawValue, sourcedID: c.sourcedId,
                digest: Digest.of([c.title, c.schoolYearSourcedId, c.courseCode, c.grades.joined(separator: ","),
                                   c.orgSourcedId, c.subjects.joined(separator: ","),
                                   c.subjectCodes.joined(separator: ",")], c.extensions),
                ref1: c.orgSourcedId, title: c.title))
        case let .rosterClass(c):
            return (.classes, c.status, RosterRecord(
                entity: RosterEntity.classes.rawValue, sourcedID: c.sourcedId,
                digest: Digest.of([c.title, c.grades.joined(separator: ","), c.courseSourcedId, c.classCode,
                                   c.classType.rawValue, c.location, c.schoolSourcedId,
                                   c.termSourcedIds.joined(separator: ","), c.subjects.joined(separator: ","),
                                   c.subjectCodes.joined(separator: ","), c.periods.joined(separator: ",")], c.extensions),
                ref1: c.courseSourcedId, ref2: c.schoolSourcedId, title: c.title))
        case let .user(u):
            let roles = u.roles.map { "\($0.roleType.rawValue):\($0.role.rawValue)@\($0.orgSourcedId)" }.sorted()
            return (.users, u.status, RosterRecord(
                entity: RosterEntity.users.rawValue, sourcedID: u.sourcedId,
                digest: Digest.of([String(u.enabledUser), u.username, u.userIds.map(\.csvText).joined(separator: ","),
                                   u.givenName, u.familyName, u.middleName, u.identifier, u.email, u.sms, u.phone,
                                   u.agentSourcedIds.joined(separator: ","), u.grades.joined(separator: ","),
                                   u.role?.rawValue, u.orgSourcedIds.joined(separator: ","), roles.joined(separator: ","),
                                   u.preferredGivenName, u.preferredFamilyName, u.primaryOrgSourcedId], u.extensions),
                ref1: u.username, ref2: u.email, ref3: u.identifier, title: "\(u.givenName) \(u.familyName)"))
        case let .enrollment(e):
            return (.enrollments, e.status, RosterRecord(
                entity: RosterEntity.enrollments.rawValue, sourcedID: e.sourcedId,
                digest: Digest.of([e.classSourcedId, e.schoolSourcedId, e.userSourcedId, e.role.rawValue,
                                   e.primary.map { String($0) }, e.beginDate.map { "\($0)" }, e.endDate.map { "\($0)" }],
                                  e.extensions),
                ref1: e.classSourcedId, ref2: e.userSourcedId, ref3: e.role.rawValue))
        default:
            return nil
        }
    }
}

/// The records of a bundle in held-roster form, collected while the bundle streams by.
public struct IncomingRoster: Sendable {
    /// Active records per entity, by sourcedId.
    public var records: [RosterEntity: [String: RosterRecord]] = [:]
    /// sourcedIds marked `tobedeleted`, per entity.
    public var deletes: [RosterEntity: Set<String>] = [:]

    public init() {}

    /// Takes one streamed record (other kinds, such as roles and demographics, are folded into users or ignored).
    public mutating func add(_ record: OneRosterRecord) {
        guard let (entity, status, converted) = SyncPlanner.rosterRecord(record) else { return }
        if status == .tobedeleted {
            deletes[entity, default: []].insert(converted.sourcedID)
        } else {
            records[entity, default: [:]][converted.sourcedID] = converted
        }
    }
}

/// A 64-bit FNV-1a fingerprint of a record's fields, to tell an update from an unchanged row without storing rows.
enum Digest {
    static func of(_ fields: [String?], _ extensions: [String: String]) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String?) {
            if let text {
                for byte in text.utf8 {
                    hash ^= UInt64(byte)
                    hash = hash &* 0x100_0000_01b3
                }
            } else {
                hash ^= 0xff
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0x1f  // field separator
            hash = hash &* 0x100_0000_01b3
        }
        fields.forEach(mix)
        for key in extensions.keys.sorted() {
            mix(key)
            mix(extensions[key])
        }
        return Int64(bitPattern: hash)
    }
}

import Foundation
