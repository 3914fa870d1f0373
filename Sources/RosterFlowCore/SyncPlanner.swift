import Foundation
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

extension SyncPolicy {
    /// Refuses shares outside 0…1 and entity names RosterFlow does not hold, with a message that says what is allowed.
    public func validate() throws {
        for (name, share) in [("max delete share", maxDeleteShare), ("max update share", maxUpdateShare)]
        where !(0...1).contains(share) {
            throw RosterFlowError(.invalidInput, "the \(name) is a fraction from 0 to 1 (0.10 = 10%), not \(share)")
        }
        let known = Set(RosterEntity.allCases.map(\.rawValue))
        guard implicitDeletes.isSubset(of: known) else {
            throw RosterFlowError(
                .invalidInput, "implicit deletes take \(known.sorted().joined(separator: ", ")); got "
                    + implicitDeletes.subtracting(known).sorted().joined(separator: ", "))
        }
    }
}

/// The entities RosterFlow holds from a sync, in the order changes apply (parents before children).
///
/// Demographics are held as a fingerprint only (no birth dates or race flags are stored): enough to tell a change,
/// and to apply bulk and delta semantics to demographics.csv like any other file.
public enum RosterEntity: String, Sendable, Codable, CaseIterable {
    case orgs, academicSessions, courses, classes, users, enrollments, demographics

    var file: OneRosterFile {
        switch self {
        case .orgs: .orgs
        case .academicSessions: .academicSessions
        case .courses: .courses
        case .classes: .classes
        case .users: .users
        case .enrollments: .enrollments
        case .demographics: .demographics
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
    /// Records the SIS probably re-keyed (each also a hold reason): applied as merges only when a person says so.
    public var merges: [SourcedIDMerge] = []

    public var isEmpty: Bool { changes.isEmpty }
}

/// Computes the change set of a bundle against the held roster and checks the safeguards. Pure: no I/O.
public struct SyncPlanner: Sendable {
    public var policy: SyncPolicy

    public init(policy: SyncPolicy = SyncPolicy()) {
        self.policy = policy
    }

    /// Plans from a bundle read with its records retained (tests, small bundles).
    /// - Parameters:
    ///   - held: the records the integration holds now.
    ///   - lockedCourses: sourcedIds of courses whose mapping is locked (a student started them).
    public func plan(bundle: OneRosterBundle, held: [RosterRecord], lockedCourses: Set<String>) -> SyncPlan {
        var digests: [String: [String: Int64]] = [:]
        var byID: [String: [String: RosterRecord]] = [:]
        for record in held {
            digests[record.entity, default: [:]][record.sourcedID] = record.digest
            byID[record.entity, default: [:]][record.sourcedID] = record
        }
        var diff = SyncDiff(heldDigests: digests)
        for record in Self.allRecords(in: bundle) { diff.observe(record) }
        let heldClassCourse = (byID[RosterEntity.classes.rawValue] ?? [:]).compactMapValues(\.ref1)
        return plan(diff: diff, bundle: bundle, heldClassCourse: heldClassCourse, lockedCourses: lockedCourses) { entity, ids in
            ids.compactMap { byID[entity.rawValue]?[$0] }
        }
    }

    /// Completes a plan from a diff collected while the bundle streamed by.
    ///
    /// - Parameters:
    ///   - heldClassCourse: the course of each held class (to tell which enrollments belong to locked courses).
    ///   - heldRecords: the held records with the given sourcedIds (only deleted records are asked for).
    public func plan(
        diff: SyncDiff, bundle: OneRosterBundle, heldClassCourse: [String: String], lockedCourses: Set<String>,
        heldRecords: (RosterEntity, [String]) throws -> [RosterRecord]
    ) rethrows -> SyncPlan {
        let quarantined = Set(bundle.quarantined.compactMap { row in row.sourcedId.map { "\(row.file)|\($0)" } })
        var changes: [RosterChange] = []
        var counts: [String: EntityCounts] = [:]
        var reasons: [String] = []
        var deletedByEntity: [RosterEntity: [RosterRecord]] = [:]

        for entity in RosterEntity.allCases {
            let mode = bundle.mode(of: entity.file)
            let held = diff.heldDigests[entity.rawValue] ?? [:]
            var count = diff.counts[entity] ?? EntityCounts()
            count.held = held.count
            guard mode != .absent else {
                counts[entity.rawValue] = count
                continue
            }
            let seen = diff.seen[entity] ?? []
            let explicit = diff.explicitDeletes[entity] ?? []
            var deletedIDs = explicit.filter { held[$0] != nil }
            if mode == .bulk, policy.implicitDeletes.contains(entity.rawValue) {
                let fileName = entity.file.rawValue + ".csv"
                for id in held.keys where !seen.contains(id) && !explicit.contains(id) {
                    // A row quarantined for an error is still in the file: never delete what we could not read.
                    if quarantined.contains("\(fileName)|\(id)") { continue }
                    deletedIDs.insert(id)
                }
            }
            let deleted = try heldRecords(entity, deletedIDs.sorted())
            deletedByEntity[entity] = deleted
            // Adds and updates in sourcedId order (sequential inserts), then deletes.
            changes += (diff.changes[entity] ?? []).sorted { $0.record.sourcedID < $1.record.sourcedID }
            changes += deleted.map { RosterChange(operation: .delete, record: $0) }
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
            if count.incoming == 0, count.held > 0,
               bundle.report.issues.contains(where: { $0.code == .emptyFile && $0.file == entity.file.rawValue + ".csv" }) {
                reasons.append("\(entity.file.rawValue).csv is empty or cut off, while \(count.held) \(entity.rawValue) are held")
            }
        }
        var classCourse = heldClassCourse
        classCourse.merge(diff.incomingClassCourse) { _, new in new }
        let merges = Self.proposedMerges(
            added: (diff.changes[.users] ?? []) + (diff.changes[.enrollments] ?? []), deleted: deletedByEntity)
        // An enrollment that follows its re-keyed user is not a removal, unless the merge is declined.
        let merged = Set(merges.filter { $0.entity == RosterEntity.enrollments.rawValue }.map(\.oldID))
        var removable = deletedByEntity
        removable[.enrollments] = removable[.enrollments]?.filter { !merged.contains($0.sourcedID) }
        reasons += lockedCourseRemovals(deleted: removable, classCourse: classCourse, lockedCourses: lockedCourses)
        reasons += Self.mergeReasons(merges)
        return SyncPlan(changes: changes, counts: counts, holdReasons: reasons, merges: merges)
    }

    /// Students removed from a course whose mapping is locked: their work in progress is protected.
    private func lockedCourseRemovals(
        deleted: [RosterEntity: [RosterRecord]], classCourse: [String: String], lockedCourses: Set<String>
    ) -> [String] {
        guard !lockedCourses.isEmpty else { return [] }
        var removed: [String: [String]] = [:]
        for record in deleted[.enrollments] ?? [] {
            guard record.ref3 == "student", let classID = record.ref1, let course = classCourse[classID],
                  lockedCourses.contains(course)
            else { continue }
            removed[course, default: []].append(record.ref2 ?? record.sourcedID)
        }
        for record in deleted[.courses] ?? [] where lockedCourses.contains(record.sourcedID) {
            removed[record.sourcedID, default: []].append("(the course itself)")
        }
        return removed.keys.sorted().map { course in
            let students = removed[course]!
            return "it would remove \(students.count) enrollment\(students.count == 1 ? "" : "s") from course \(course), "
                + "whose mapping is locked because students have started it (e.g. \(students.prefix(3).joined(separator: ", "))); "
                + "their work in progress is protected"
        }
    }

    /// A user that disappears while a new one with the same username, e-mail or identifier appears: most likely the
    /// SIS changed the sourcedId. Proposes a merge instead of a delete plus a duplicate, and pairs the old user's
    /// deleted enrollments with the new user's added ones in the same class and role.
    static func proposedMerges(added: [RosterChange], deleted: [RosterEntity: [RosterRecord]]) -> [SourcedIDMerge] {
        let deletedUsers = deleted[.users] ?? []
        guard !deletedUsers.isEmpty else { return [] }
        var addedByKey: [String: String] = [:]
        for change in added where change.operation == .add && change.record.entity == RosterEntity.users.rawValue {
            for (label, value) in [("username", change.record.ref1), ("e-mail", change.record.ref2), ("identifier", change.record.ref3)] {
                if let value, !value.isEmpty { addedByKey["\(label)|\(value.lowercased())"] = change.record.sourcedID }
            }
        }
        guard !addedByKey.isEmpty else { return [] }
        var userMerges: [SourcedIDMerge] = []
        var taken: Set<String> = []
        for record in deletedUsers {
            for (label, value) in [("username", record.ref1), ("e-mail", record.ref2), ("identifier", record.ref3)] {
                guard let value, !value.isEmpty, let newID = addedByKey["\(label)|\(value.lowercased())"] else { continue }
                // One new user takes over one old user: a second claimant is a different person.
                guard taken.insert(newID).inserted else { break }
                userMerges.append(SourcedIDMerge(
                    entity: RosterEntity.users.rawValue, oldID: record.sourcedID, newID: newID, matchedOn: label, value: value))
                break
            }
        }
        guard !userMerges.isEmpty else { return [] }
        // Enrollments re-keyed with their user: same class and role, old user → new user.
        let newUserOf = Dictionary(uniqueKeysWithValues: userMerges.map { ($0.oldID, $0.newID) })
        var addedEnrollments: [String: [String]] = [:]
        for change in added where change.operation == .add && change.record.entity == RosterEntity.enrollments.rawValue {
            let r = change.record
            addedEnrollments["\(r.ref2 ?? "")|\(r.ref1 ?? "")|\(r.ref3 ?? "")", default: []].append(r.sourcedID)
        }
        var enrollmentMerges: [SourcedIDMerge] = []
        for record in deleted[.enrollments] ?? [] {
            guard let oldUser = record.ref2, let newUser = newUserOf[oldUser] else { continue }
            let key = "\(newUser)|\(record.ref1 ?? "")|\(record.ref3 ?? "")"
            guard let newID = addedEnrollments[key]?.popLast() else { continue }
            enrollmentMerges.append(SourcedIDMerge(
                entity: RosterEntity.enrollments.rawValue, oldID: record.sourcedID, newID: newID, matchedOn: "class and role",
                value: "\(record.ref1 ?? "-") as \(record.ref3 ?? "-")"))
        }
        return userMerges + enrollmentMerges
    }

    /// The plain-words hold reason of each proposed user merge.
    static func mergeReasons(_ merges: [SourcedIDMerge]) -> [String] {
        return merges.filter { $0.entity == RosterEntity.users.rawValue }.map { merge in
            "user \(merge.oldID) disappears while new user \(merge.newID) has the same \(merge.matchedOn) '\(merge.value)': "
                + "the SIS probably changed the sourcedId; approve with --merge to keep them as one user (their work and "
                + "enrollments follow), or --no-merge to delete one and add the other"
        }
    }

    static func percent(_ share: Double) -> String {
        let value = share * 100
        return value == value.rounded() ? "\(Int(value))%" : String(format: "%.1f%%", value)
    }

    /// Every retained record of the bundle, as the stream would deliver them.
    static func allRecords(in bundle: OneRosterBundle) -> [OneRosterRecord] {
        bundle.orgs.map { .org($0) } + bundle.academicSessions.map { .academicSession($0) } + bundle.courses.map { .course($0) }
            + bundle.classes.map { .rosterClass($0) } + bundle.users.map { .user($0) } + bundle.enrollments.map { .enrollment($0) }
            + bundle.demographics.map { .demographics($0) }
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
        case let .demographics(d):
            return (.demographics, d.status, RosterRecord(
                entity: RosterEntity.demographics.rawValue, sourcedID: d.sourcedId,
                digest: Digest.of([d.birthDate.map { "\($0)" }, d.sex?.rawValue, flag(d.americanIndianOrAlaskaNative),
                                   flag(d.asian), flag(d.blackOrAfricanAmerican),
                                   flag(d.nativeHawaiianOrOtherPacificIslander), flag(d.white),
                                   flag(d.demographicRaceTwoOrMoreRaces), flag(d.hispanicOrLatinoEthnicity),
                                   d.countryOfBirthCode, d.stateOfBirthAbbreviation, d.cityOfBirth,
                                   d.publicSchoolResidenceStatus], d.extensions)))
        default:
            return nil
        }
    }

    private static func flag(_ value: Bool?) -> String? {
        value.map { $0 ? "true" : "false" }
    }
}

/// The diff of a bundle against the held roster, built while the bundle streams by: it keeps the adds and updates
/// (not the unchanged records), the sourcedIds seen (for implicit deletes) and each incoming class's course.
public struct SyncDiff: Sendable {
    /// The held records' digests per entity (`RosterEntity` raw value) and sourcedId.
    public let heldDigests: [String: [String: Int64]]
    public private(set) var seen: [RosterEntity: Set<String>] = [:]
    public private(set) var changes: [RosterEntity: [RosterChange]] = [:]
    public private(set) var explicitDeletes: [RosterEntity: Set<String>] = [:]
    public private(set) var counts: [RosterEntity: EntityCounts] = [:]
    public private(set) var incomingClassCourse: [String: String] = [:]

    public init(heldDigests: [String: [String: Int64]]) {
        self.heldDigests = heldDigests
    }

    /// Whether the integration holds a record (answers the reader's reference checks).
    public func holds(_ entity: RosterEntity, _ sourcedID: String) -> Bool {
        heldDigests[entity.rawValue]?[sourcedID] != nil
    }

    /// Takes one streamed record (other kinds, such as roles and demographics, are folded into users or ignored).
    public mutating func observe(_ record: OneRosterRecord) {
        guard let (entity, status, converted) = SyncPlanner.rosterRecord(record) else { return }
        let id = converted.sourcedID
        if status == .tobedeleted {
            explicitDeletes[entity, default: []].insert(id)
            return
        }
        seen[entity, default: []].insert(id)
        if entity == .classes, let course = converted.ref1 { incomingClassCourse[id] = course }
        var count = counts[entity] ?? EntityCounts()
        count.incoming += 1
        if let old = heldDigests[entity.rawValue]?[id] {
            if old == converted.digest { count.unchanged += 1 } else {
                changes[entity, default: []].append(RosterChange(operation: .update, record: converted))
                count.updates += 1
            }
        } else {
            changes[entity, default: []].append(RosterChange(operation: .add, record: converted))
            count.adds += 1
        }
        counts[entity] = count
    }
}

/// A 64-bit FNV-1a fingerprint of a record's fields, to tell an update from an unchanged row without storing rows.
enum Digest {
    static func of(_ fields: [String?], _ extensions: [String: String]) -> Int64 {
        var hash = FNV1a()
        func mix(_ text: String?) {
            if let text { hash.mix(text) } else { hash.mix(byte: 0xff) }
            hash.mix(byte: 0x1f)  // field separator
        }
        fields.forEach(mix)
        for key in extensions.keys.sorted() {
            mix(key)
            mix(extensions[key])
        }
        return Int64(bitPattern: hash.value)
    }
}

/// The 64-bit FNV-1a hash, shared by record digests and workflow definition checksums.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func mix(byte: UInt8) {
        value ^= UInt64(byte)
        value = value &* 0x100_0000_01b3
    }

    mutating func mix(_ text: String) {
        for byte in text.utf8 { mix(byte: byte) }
    }
}
