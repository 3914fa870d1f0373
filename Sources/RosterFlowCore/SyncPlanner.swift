import Foundation
import OneRoster
import StorageCore

/// What a sync would do, and whether it must wait for a person.
public struct SyncPlan: Sendable {
    /// The change set in apply order, in groups (per entity: its adds and updates, then its deletes) that are never
    /// concatenated: a first sync's millions of changes are not copied. A later sync's adds and the deletes of what a
    /// bulk file omits are kept encoded (``EncodedChanges``), as a held run stores them.
    public var changeGroups: [ChangeGroup]
    public var counts: [String: EntityCounts]
    /// Why the run must be held, in plain words; empty when it may apply.
    public var holdReasons: [String]
    /// Records the SIS probably re-keyed (each also a hold reason): applied as merges only when a person says so.
    public var merges: [SourcedIDMerge] = []
    /// Parked deletes (`entity|sourcedId`) whose records the bundle carries again, or that are no longer held: their
    /// parking is over.
    public var parkingsEnded: [String] = []
    /// Set when the run moves the district to a new school year (see ``Rollover``): it is held with its own reason.
    public var rollover: Rollover?

    /// Every change in apply order (a copy, encoded ones decoded; `changeGroups` avoids it).
    public var changes: [RosterChange] { changeGroups.flatMap(\.changes) }

    public var isEmpty: Bool { changeGroups.allSatisfy(\.isEmpty) }
}

/// Computes the change set of a bundle against the held roster and checks the safeguards. Pure: no I/O.
public struct SyncPlanner: Sendable {
    public var policy: SyncPolicy
    /// Deletes the operator parked (`entity|sourcedId`, see ``ParkedDeletes``): a bulk file that omits them again
    /// keeps them parked (counted as `parked`, not as deletes, so they trip no safeguard twice).
    public var parked: Set<String>

    /// A planner that applies `policy` (by default ``SyncPolicy``'s defaults), keeping `parked` deletes parked.
    public init(policy: SyncPolicy = SyncPolicy(), parked: Set<String> = []) {
        self.policy = policy
        self.parked = parked
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
        return plan(diff: &diff, bundle: bundle, heldClassCourse: heldClassCourse, lockedCourses: lockedCourses) { entity, ids in
            ids.compactMap { byID[entity.rawValue]?[$0] }
        } heldDeletes: { entity, ids in
            ids.compactMap { byID[entity.rawValue]?[$0].map(RosterChange.deleting) }
        }
    }

    /// `changes` without those whose sourcedId `isRemoved` names (encoded again, one at a time).
    static func removing(_ isRemoved: (String) -> Bool, from changes: EncodedChanges) -> EncodedChanges {
        var kept = EncodedChanges(entity: changes.entity)
        changes.forEach { if !isRemoved($0.record.sourcedID) { kept.append($0) } }
        return kept
    }

    /// The deletes of `entity`: the held records its bulk file omits (unless the policy keeps them, their rows were
    /// quarantined, or they are parked) and those the bundle marks `tobedeleted`, in sourcedId order.
    ///
    /// What the diff kept as encoded deletes is used as it is when every omitted record is deleted (a rollover's
    /// millions), filtered when some are not, and read again (`heldDeletes`) only when explicit deletes join them.
    private func plannedDeletes(
        _ entity: RosterEntity, mode: FileMode, diff: inout SyncDiff, quarantined quarantinedHere: Set<String>,
        count: inout EntityCounts, parkingsEnded: inout [String],
        heldDeletes: (RosterEntity, [String]) throws -> [RosterChange]
    ) rethrows -> ChangeGroup {
        let explicit = diff.explicitDeletes(entity)
        let implicit = mode == .bulk && policy.implicitDeletes.contains(entity.rawValue)
        let prefix = entity.rawValue + "|"
        let parkedHere = parked.isEmpty ? [] : parked.filter { $0.hasPrefix(prefix) }
        if implicit, explicit.isEmpty, quarantinedHere.isEmpty, parkedHere.isEmpty, let kept = diff.takeUnseenDeletes(entity) {
            return ChangeGroup(kept)
        }
        let unseenIDs = diff.unseenHeld(entity)
        // Whether a record is held (and not seen): the diff answers for a few; where it keeps its unseen records as
        // encoded deletes, each answer would decode them all, so a set of them answers instead.
        let unseenSet: Set<String>? = diff.keepsUnseenDeletes(entity) && (!explicit.isEmpty || !parkedHere.isEmpty)
            ? Set(unseenIDs) : nil
        let held = diff
        func holds(_ id: String) -> Bool { unseenSet.map { $0.contains(id) } ?? held.holds(entity, id) }
        // Explicit deletes are never marked seen, so those still unseen are exactly the held ones.
        let explicitDeleted = explicit.filter(holds)
        // Implicit deletes, in the order the diff lists them (a rollover's millions come in key order already), and
        // the held records not deleted after all.
        var implicitIDs: [String] = []
        var spared: Set<String> = []
        if implicit {
            for id in unseenIDs {
                // A row quarantined for an error is still in the file: never delete what we could not read.
                if !explicit.isEmpty, explicit.contains(id) { spared.insert(id); continue }
                if !quarantinedHere.isEmpty, quarantinedHere.contains(id) { spared.insert(id); continue }
                if !parkedHere.isEmpty, parkedHere.contains(prefix + id) {
                    count.parked += 1
                    spared.insert(id)
                    continue
                }
                implicitIDs.append(id)
            }
            // A parked record the file carries again (or that is gone since) is no longer a parked delete.
            for key in parkedHere where !holds(String(key.dropFirst(prefix.count))) { parkingsEnded.append(key) }
        }
        // In sourcedId order; sorted only when the diff's order is not already that order.
        let inOrder = explicitDeleted.isEmpty && diff.unseenHeldInOrder(entity) && Self.isAscending(implicitIDs)
        let kept = diff.takeUnseenDeletes(entity)
        if inOrder, implicit, let kept {
            return ChangeGroup(spared.isEmpty ? kept : Self.removing({ spared.contains($0) }, from: kept))
        }
        let deletedIDs = inOrder ? implicitIDs : explicitDeleted.union(implicitIDs).sorted()
        return ChangeGroup(try heldDeletes(entity, deletedIDs))
    }

    /// Completes a plan from a diff collected while the bundle streamed by.
    ///
    /// - Parameters:
    ///   - heldClassCourse: the course of each held class (to tell which enrollments belong to locked courses).
    ///   - heldRecords: the held records with the given sourcedIds (deleted and updated records are asked for: an update's
    ///     held field digests say which fields it changes).
    ///   - heldDeletes: the held records with the given sourcedIds, as the changes that delete them (the records a bulk
    ///     file omits: a rollover's millions, made into changes as they are read rather than copied).
    public func plan(
        diff: inout SyncDiff, bundle: OneRosterBundle, heldClassCourse: [String: String], lockedCourses: Set<String>,
        heldRecords: (RosterEntity, [String]) throws -> [RosterRecord],
        heldDeletes: (RosterEntity, [String]) throws -> [RosterChange]
    ) rethrows -> SyncPlan {
        // The sourcedIds of quarantined rows, by file.
        var quarantined: [String: Set<String>] = [:]
        for row in bundle.quarantined { if let id = row.sourcedId { quarantined[row.file, default: []].insert(id) } }
        var groups: [ChangeGroup] = []
        var counts: [String: EntityCounts] = [:]
        var reasons: [String] = []
        // The delete groups again, by entity (the same groups, not copies), for the reasons read after the loop.
        var deletedByEntity: [RosterEntity: ChangeGroup] = [:]
        var userMerges: [SourcedIDMerge] = []
        var mergeableEnrollmentAdds: [RosterChange] = []
        var parkingsEnded: [String] = []
        // Reasons a school-year rollover explains (mass deletes and updates of last year's records) are kept apart.
        var bulkReasons: [String] = []
        var sessionYears = (added: [Int](), deleted: [Int]())
        var courseChanges = (added: [RosterRecord](), deleted: [RosterRecord]())

        for entity in RosterEntity.allCases {
            let mode = bundle.mode(of: entity.file)
            var count = diff.counts(entity)
            count.held = diff.heldCount(entity)
            guard mode != .absent else {
                counts[entity.rawValue] = count
                continue
            }
            let deletes = try plannedDeletes(
                entity, mode: mode, diff: &diff, quarantined: quarantined[entity.file.rawValue + ".csv"] ?? [],
                count: &count, parkingsEnded: &parkingsEnded, heldDeletes: heldDeletes)
            deletedByEntity[entity] = deletes
            // Updates (and a first sync's adds) in sourcedId order, then a later sync's adds, encoded in sourcedId order
            // as they came (sequential inserts), then deletes. Taken out of the diff, sorted in place (bundles usually
            // come sorted already) and moved: millions of changes are never copied.
            var entityChanges = diff.takeChanges(entity)
            var encodedAdds = diff.takeEncodedAdds(entity)
            if let adds = encodedAdds, !adds.ascending {
                // Out of order: sorted with the rest.
                entityChanges += adds.changes
                encodedAdds = nil
            }
            if !Self.isSorted(entityChanges) {
                entityChanges.sort { $0.record.sourcedID < $1.record.sourcedID }
            }
            if count.updates > 0 {
                try Self.nameChangedFields(&entityChanges, entity: entity, held: heldRecords)
            }
            let group = ChangeGroup(segments: [.changes(entityChanges)] + (encodedAdds.map { [.encoded($0)] } ?? []))
            entityChanges = []
            encodedAdds = nil
            /// The records this entity adds (decoded where they are encoded: asked only of small entities or rarely).
            func added() -> [RosterRecord] {
                var records: [RosterRecord] = []
                group.forEach(operation: .add) { records.append($0.record) }
                return records
            }
            if entity == .academicSessions {
                sessionYears.added = added().compactMap { $0.ref3.flatMap { Int($0) } }
                sessionYears.deleted = deletes.changes.compactMap { $0.record.ref3.flatMap { Int($0) } }
            } else if entity == .courses {
                courseChanges.added = added()
                courseChanges.deleted = deletes.changes.map(\.record)
            }
            if entity == .users, !deletes.isEmpty {
                userMerges = Self.proposedUserMerges(
                    added: added().map { RosterChange(operation: .add, record: $0) }, deleted: deletes.changes.map(\.record))
            } else if entity == .enrollments, !userMerges.isEmpty {
                let newUsers = Set(userMerges.map(\.newID))
                group.forEach(operation: .add) { change in
                    if newUsers.contains(change.record.ref2 ?? "") { mergeableEnrollmentAdds.append(change) }
                }
            }
            groups.append(group)
            groups.append(deletes)
            count.deletes = deletes.count
            counts[entity.rawValue] = count

            if mode == .bulk, count.held > 0 {
                let deleteShare = Double(count.deletes) / Double(count.held)
                if RosterEntity.guardedForDeletes.contains(entity), deleteShare > policy.maxDeleteShare {
                    bulkReasons.append(
                        "\(entity.file.rawValue).csv would delete \(count.deletes) of \(count.held) \(entity.rawValue) "
                            + "(\(Self.percent(deleteShare)), more than the \(Self.percent(policy.maxDeleteShare)) allowed); "
                            + "a bulk file deletes whatever it omits, so check that the export was complete")
                }
            }
            if count.held > 0 {
                let updateShare = Double(count.updates) / Double(count.held)
                if updateShare > policy.maxUpdateShare {
                    bulkReasons.append(
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
        let merges = userMerges + (mergeableEnrollmentAdds.isEmpty ? [] : Self.proposedEnrollmentMerges(
            userMerges, added: mergeableEnrollmentAdds, deleted: deletedByEntity[.enrollments]?.changes ?? []))
        // An enrollment that follows its re-keyed user is not a removal, unless the merge is declined.
        let merged = Set(merges.filter { $0.entity == RosterEntity.enrollments.rawValue }.map(\.oldID))
        var removable = deletedByEntity
        if !merged.isEmpty {
            removable[.enrollments] = removable[.enrollments]?.filter { !merged.contains($0.record.sourcedID) }
        }
        let rollover = Rollover.detect(
            counts: counts, sessionYears: sessionYears, newCourses: courseChanges.added, endingCourses: courseChanges.deleted)
        if let rollover {
            // Last year's classes ending and everyone's grade changing are the rollover, not a broken export.
            reasons = [rollover.reason] + reasons
        } else {
            reasons = bulkReasons + reasons
        }
        reasons += lockedCourseRemovals(deleted: removable, classCourse: classCourse, lockedCourses: lockedCourses)
        reasons += Self.mergeReasons(merges)
        var plan = SyncPlan(changeGroups: groups.filter { !$0.isEmpty }, counts: counts, holdReasons: reasons, merges: merges,
                            parkingsEnded: parkingsEnded.sorted())
        plan.rollover = rollover
        return plan
    }

    /// Names the fields each update of `entity` changes, from the held records' field digests (nil where the held record
    /// has none). Only updates are looked up: there are few, and unchanged records never are.
    private static func nameChangedFields(
        _ changes: inout [RosterChange], entity: RosterEntity, held heldRecords: (RosterEntity, [String]) throws -> [RosterRecord]
    ) rethrows {
        guard entity != .demographics else { return }
        // Read in place: a rollover's millions of adds are passed over, not copied.
        var ids: [String] = []
        changes.withUnsafeBufferPointer { changes in
            for i in changes.indices where changes[i].operation == .update { ids.append(changes[i].record.sourcedID) }
        }
        var heldFields: [String: Data] = [:]
        heldFields.reserveCapacity(ids.count)
        for record in try heldRecords(entity, ids) {
            if let fields = record.fields { heldFields[record.sourcedID] = fields }
        }
        ids = []
        changes.withUnsafeMutableBufferPointer { changes in
            for i in changes.indices where changes[i].operation == .update {
                changes[i].changedFieldMask = FieldDigests.changedMask(
                    entity, old: heldFields[changes[i].record.sourcedID], new: changes[i].record.fields)
            }
        }
    }

    /// Students removed from a course whose mapping is locked: their work in progress is protected.
    private func lockedCourseRemovals(
        deleted: [RosterEntity: ChangeGroup], classCourse: [String: String], lockedCourses: Set<String>
    ) -> [String] {
        guard !lockedCourses.isEmpty else { return [] }
        var removed: [String: [String]] = [:]
        deleted[.enrollments]?.forEach { change in
            let record = change.record
            guard record.ref3 == "student", let classID = record.ref1, let course = classCourse[classID],
                  lockedCourses.contains(course)
            else { return }
            removed[course, default: []].append(record.ref2 ?? record.sourcedID)
        }
        deleted[.courses]?.forEach { change in
            if lockedCourses.contains(change.record.sourcedID) {
                removed[change.record.sourcedID, default: []].append("(the course itself)")
            }
        }
        return removed.keys.sorted().map { course in
            let students = removed[course]!
            return "it would remove \(students.count) enrollment\(students.count == 1 ? "" : "s") from course \(course), "
                + "whose mapping is locked because students have started it (e.g. \(students.prefix(3).joined(separator: ", "))); "
                + "their work in progress is protected"
        }
    }

    /// A user that disappears while a new one with the same username, e-mail or identifier appears: most likely the
    /// SIS changed the sourcedId. Proposes a merge instead of a delete plus a duplicate.
    static func proposedUserMerges(added: [RosterChange], deleted: [RosterRecord]) -> [SourcedIDMerge] {
        guard !deleted.isEmpty else { return [] }
        var addedByKey: [String: String] = [:]
        for change in added where change.operation == .add {
            for (label, value) in [("username", change.record.ref1), ("e-mail", change.record.ref2), ("identifier", change.record.ref3)] {
                if let value, !value.isEmpty { addedByKey["\(label)|\(value.lowercased())"] = change.record.sourcedID }
            }
        }
        guard !addedByKey.isEmpty else { return [] }
        var merges: [SourcedIDMerge] = []
        var taken: Set<String> = []
        for record in deleted {
            for (label, value) in [("username", record.ref1), ("e-mail", record.ref2), ("identifier", record.ref3)] {
                guard let value, !value.isEmpty, let newID = addedByKey["\(label)|\(value.lowercased())"] else { continue }
                // One new user takes over one old user: a second claimant is a different person.
                guard taken.insert(newID).inserted else { break }
                merges.append(SourcedIDMerge(
                    entity: RosterEntity.users.rawValue, oldID: record.sourcedID, newID: newID, matchedOn: label, value: value))
                break
            }
        }
        return merges
    }

    /// Enrollments re-keyed with their user: an old user's deleted enrollment paired with the new user's added one in
    /// the same class and role.
    static func proposedEnrollmentMerges(
        _ userMerges: [SourcedIDMerge], added: [RosterChange], deleted: [RosterChange]
    ) -> [SourcedIDMerge] {
        guard !userMerges.isEmpty, !added.isEmpty else { return [] }
        let newUserOf = Dictionary(uniqueKeysWithValues: userMerges.map { ($0.oldID, $0.newID) })
        var addedEnrollments: [String: [String]] = [:]
        for change in added where change.operation == .add {
            let r = change.record
            addedEnrollments["\(r.ref2 ?? "")|\(r.ref1 ?? "")|\(r.ref3 ?? "")", default: []].append(r.sourcedID)
        }
        var merges: [SourcedIDMerge] = []
        for change in deleted {
            let record = change.record
            guard let oldUser = record.ref2, let newUser = newUserOf[oldUser] else { continue }
            let key = "\(newUser)|\(record.ref1 ?? "")|\(record.ref3 ?? "")"
            guard let newID = addedEnrollments[key]?.popLast() else { continue }
            merges.append(SourcedIDMerge(
                entity: RosterEntity.enrollments.rawValue, oldID: record.sourcedID, newID: newID, matchedOn: "class and role",
                value: "\(record.ref1 ?? "-") as \(record.ref3 ?? "-")"))
        }
        return merges
    }

    /// The plain-words hold reason of each proposed user merge.
    static func mergeReasons(_ merges: [SourcedIDMerge]) -> [String] {
        return merges.filter { $0.entity == RosterEntity.users.rawValue }.map { merge in
            "user \(merge.oldID) disappears while new user \(merge.newID) has the same \(merge.matchedOn) '\(merge.value)': "
                + "the SIS probably changed the sourcedId; approve with --merge to keep them as one user (their work and "
                + "enrollments follow), or --no-merge to delete one and add the other"
        }
    }

    /// Whether `ids` are strictly ascending (as `sorted()` of their set would list them).
    static func isAscending(_ ids: [String]) -> Bool {
        var previous: String?
        for id in ids {
            if let previous, !(previous < id) { return false }
            previous = id
        }
        return true
    }

    static func isSorted(_ changes: [RosterChange]) -> Bool {
        // Read in place: a rollover's two million adds are not copied to be compared.
        changes.withUnsafeBufferPointer { changes in
            changes.indices.dropFirst().allSatisfy { changes[$0 - 1].record.sourcedID < changes[$0].record.sourcedID }
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
        guard let f = fingerprint(record) else { return nil }
        return (f.entity, f.status, details(record, entity: f.entity, digest: f.digest))
    }

    /// A record's entity, status, sourcedId and digest, without building its held form (most rows of a sync are
    /// unchanged: only their digest is needed).
    static func fingerprint(_ record: OneRosterRecord) -> (entity: RosterEntity, status: RecordStatus, sourcedID: String, digest: Int64)? {
        var d = Digest()
        guard let visited = visitFields(record, into: &d) else { return nil }
        return (visited.entity, visited.status, visited.sourcedID, d.finish(visited.extensions))
    }

    /// The held form of a record whose entity and digest are known.
    static func details(_ record: OneRosterRecord, entity: RosterEntity, digest: Int64) -> RosterRecord {
        var held = heldForm(record, entity: entity, digest: digest)
        held.fields = FieldDigests.vector(record)
        return held
    }

    private static func heldForm(_ record: OneRosterRecord, entity: RosterEntity, digest: Int64) -> RosterRecord {
        let name = entity.rawValue
        switch record {
        case let .org(o):
            return RosterRecord(entity: name, sourcedID: o.sourcedId, digest: digest, ref1: o.type.rawValue,
                                ref2: o.parentSourcedId, title: o.name)
        case let .academicSession(s):
            // The school year (ref3) tells a rollover; records held before it was kept have none.
            // Its dates (ref4) tell the current term and when a term ends.
            return RosterRecord(entity: name, sourcedID: s.sourcedId, digest: digest, ref1: s.type.rawValue,
                                ref2: s.parentSourcedId, ref3: String(s.schoolYear), title: s.title,
                                ref4: "\(s.startDate)|\(s.endDate)")
        case let .course(c):
            // Course code (ref2) and grades|subjects (ref3) match a rollover's new courses to last year's.
            return RosterRecord(entity: name, sourcedID: c.sourcedId, digest: digest, ref1: c.orgSourcedId,
                                ref2: c.courseCode, ref3: c.grades.joined(separator: ",") + "|" + c.subjects.joined(separator: ","),
                                title: c.title)
        case let .rosterClass(c):
            // Terms|periods (ref3) list a teacher's classes by term for on-demand imports.
            return RosterRecord(entity: name, sourcedID: c.sourcedId, digest: digest, ref1: c.courseSourcedId,
                                ref2: c.schoolSourcedId,
                                ref3: c.termSourcedIds.joined(separator: ",") + "|" + c.periods.joined(separator: ","), title: c.title)
        case let .user(u):
            // enabledUser (ref4): only enabled users are linked at sign-in and placed.
            return RosterRecord(entity: name, sourcedID: u.sourcedId, digest: digest, ref1: u.username, ref2: u.email,
                                ref3: u.identifier, title: "\(u.givenName) \(u.familyName)", ref4: u.enabledUser ? "true" : "false")
        case let .enrollment(e):
            return RosterRecord(entity: name, sourcedID: e.sourcedId, digest: digest, ref1: e.classSourcedId,
                                ref2: e.userSourcedId, ref3: e.role.rawValue)
        case let .demographics(g):
            // A fingerprint only: no birth date or race flag is held.
            return RosterRecord(entity: name, sourcedID: g.sourcedId, digest: digest)
        default:
            return RosterRecord(entity: name, sourcedID: "", digest: digest)
        }
    }
}
