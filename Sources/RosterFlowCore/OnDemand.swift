import Crypto
import Foundation
import StorageCore
import WorkflowEngine

/// On-demand rostering's domain rules: the `class-import` workflow's guards and effects (named in its YAML, run by the
/// engine like ``DomainRules``' own), reads of the held roster, the platform events, and what a nightly sync does to
/// imported classes.
enum OnDemand {
    /// The `class-import` workflow and the names the code sends.
    enum ClassImport {
        static let workflow = "class-import"
        enum State {
            static let available = "available"
            static let imported = "imported"
            static let archived = "archived"
            static let ended = "ended"
            static let restored = "restored"
            /// States in which the class is open: its students are placed and the nightly sync follows it.
            static let open: Set<String> = [imported, ended, restored]
        }
        enum Event {
            static let importClass = "import"
            static let join = "join"
            static let deletedInSIS = "deleted_in_sis"
            static let termEnded = "term_ended"
            static let restore = "restore"
            static let checkTerm = "check_term"
            static let graceOver = "grace_over"
        }
    }

    static let guardNames: Set<String> = ["teaches_class", "term_over", "term_not_over"]
    static let effectNames: Set<String> = [
        "record_class_import", "join_class", "archive_class", "tell_class_teachers", "restore_class", "offer_next_term",
    ]

    /// A drop larger than this share of an imported class's students (and at least ``largeDropMinimum`` students) holds
    /// the sync for review.
    static let largeDropShare = 0.25
    static let largeDropMinimum = 3

    static let users = RosterEntity.users.rawValue
    static let enrollments = RosterEntity.enrollments.rawValue
    static let classes = RosterEntity.classes.rawValue

    // MARK: The held roster

    /// Whether the held roster says `teacher` teaches `classID` (their enrollments, found by the user index).
    static func teaches(_ tx: any StoreTransaction, integrationID: String, teacher: String, classID: String) throws -> Bool {
        try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: teacher).contains { $0.ref1 == classID && $0.ref3 == "teacher" }
    }

    /// A held user's name, or its sourcedId.
    static func name(_ tx: any StoreTransaction, integrationID: String, user: String) throws -> String {
        try tx.rosterRecords(integrationID: integrationID, entity: users, sourcedIDs: [user]).first?.title ?? user
    }

    // MARK: Guards and effects of `class-import`

    static func evaluate(
        guard name: String, tx: any StoreTransaction, instance: InstanceRecord, payload: [String: String], now: Double
    ) throws -> GuardVerdict {
        switch name {
        case "term_over", "term_not_over":
            guard let imported = try importedClass(tx, instance: instance) else { return .refuse("\(instance.id) is not an imported class") }
            let over = try termOver(tx, imported: imported, now: now)
            if name == "term_over" { return over }
            return over == .pass ? .refuse("the term of \(imported.title) is over") : .pass
        case "teaches_class":
            guard let teacher = payload["teacher"], let imported = try importedClass(tx, instance: instance) else {
                return .refuse("no teacher was named")
            }
            if let user = try tx.rosterRecords(integrationID: imported.integrationID, entity: users, sourcedIDs: [teacher]).first, !isEnabled(user) {
                return .refuse("the roster from the SIS says \(user.title ?? teacher) (\(teacher)) is not enabled (enabledUser is false); "
                    + "an inactive teacher cannot import classes until the SIS enables them")
            }
            if try teaches(tx, integrationID: imported.integrationID, teacher: teacher, classID: imported.classSourcedID) { return .pass }
            return .refuse("the roster from the SIS does not list \(try OnDemand.name(tx, integrationID: imported.integrationID, user: teacher)) "
                + "(\(teacher)) as a teacher of \(imported.title) (\(imported.classSourcedID)); a teacher can import only their own classes")
        default:
            return .refuse("guard '\(name)' is not implemented")
        }
    }

    static func importedClass(_ tx: any StoreTransaction, instance: InstanceRecord) throws -> ImportedClassRecord? {
        try tx.importedClass(instanceID: instance.id)
    }

    static func run(_ effect: EffectReference, _ context: EffectContext) throws -> [AppliedStep] {
        let tx = context.tx
        guard let imported = try importedClass(tx, instance: context.instance) else {
            throw RosterFlowError(.notFound, "\(context.instance.id) is not an imported class")
        }
        let integrationID = imported.integrationID, classID = imported.classSourcedID, now = context.now
        switch effect.name {
        case "record_class_import", "join_class":
            guard let teacher = context.payload["teacher"] else { throw RosterFlowError(.invalidInput, "no teacher was named") }
            let first = effect.name == "record_class_import"
            try tx.upsertClassMember(ClassMemberRecord(
                role: "teacher", integrationID: integrationID, classSourcedID: classID, userSourcedID: teacher, status: "active",
                how: first ? "imported" : "joined", since: now, changedAt: now))
            if first {
                try platformEvent(tx, template: "class-imported", key: "class-imported:\(integrationID):\(classID)",
                                  integrationID: integrationID, instanceID: imported.instanceID, subject: imported.title,
                                  values: ["class_sourced_id": classID, "teacher_sourced_id": teacher], now: now)
            }
            // Pending placements resolve now: the students signed in before the class was imported.
            for pending in try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: nil)
            where pending.role == "student" && pending.status == "pending" {
                try place(tx, imported: imported, student: pending.userSourcedID, how: "import", since: pending.since, now: now)
            }
            return []
        case "archive_class":
            let why = context.event == ClassImport.Event.deletedInSIS ? "class-deleted" : "class-archived"
            for member in try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: nil)
            where member.role == "student" && member.status == "active" {
                try archive(tx, imported: imported, student: member.userSourcedID, how: why, key: "\(context.transitionSeq ?? 0)", now: now)
            }
            return []
        case "restore_class":
            for member in try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: nil)
            where member.role == "student" && member.status == "archived" && (member.how == "class-deleted" || member.how == "class-archived") {
                try place(tx, imported: imported, student: member.userSourcedID, how: "restored", since: member.since, now: now)
            }
            return []
        case "offer_next_term":
            try offerNextTerm(context, imported: imported)
            return []
        case "tell_class_teachers":
            guard let integration = try tx.integration(id: integrationID) else { return [] }
            let teachers = try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: nil)
                .filter { $0.role == "teacher" && $0.status == "active" }
            for teacher in teachers {
                let held = try tx.rosterRecords(integrationID: integrationID, entity: users, sourcedIDs: [teacher.userSourcedID]).first
                let address = held?.ref2.flatMap { EmailAddress.isPlausible($0) ? $0 : nil } ?? "district_admin"
                var values = NotificationPayload.values(
                    instance: context.instance, course: nil, integration: integration, event: context.event, state: context.to,
                    from: context.from, reason: context.reason, sync: context.payload)
                values.append(("class_sourced_id", classID))
                values.append(("teacher_sourced_id", teacher.userSourcedID))
                try tx.insertOutbox(OutboxRecord(
                    id: Identifier.make(prefix: "msg", length: 12), instanceID: context.instance.id, transitionSeq: context.transitionSeq,
                    channel: .email, recipient: address, template: "class-deleted-in-sis", payload: JSONText.object(values),
                    nextAttemptAt: now, createdAt: now))
            }
            return []
        default:
            throw RosterFlowError(.workflowDefinition, "effect '\(effect.name)' is not implemented")
        }
    }

    /// Makes a student an active member of an imported class and tells the platform (once per placement).
    static func place(_ tx: any StoreTransaction, imported: ImportedClassRecord, student: String, how: String, since: Double, now: Double) throws {
        try tx.upsertClassMember(ClassMemberRecord(
            role: "student", integrationID: imported.integrationID, classSourcedID: imported.classSourcedID, userSourcedID: student,
            status: "active", how: how, since: since, changedAt: now))
        try platformEvent(tx, template: "student-placed",
                          key: "student-placed:\(imported.integrationID):\(imported.classSourcedID):\(student):\(now)",
                          integrationID: imported.integrationID, instanceID: imported.instanceID, subject: imported.title,
                          values: ["class_sourced_id": imported.classSourcedID, "student_sourced_id": student, "how": how], now: now)
    }

    /// Archives a student's membership (work kept) and tells the platform (once per archive: `key` names the cause).
    static func archive(_ tx: any StoreTransaction, imported: ImportedClassRecord, student: String, how: String, key: String, now: Double) throws {
        let existing = try tx.classMembers(integrationID: imported.integrationID, classSourcedID: imported.classSourcedID, userSourcedID: student)
            .first { $0.role == "student" }
        try tx.upsertClassMember(ClassMemberRecord(
            role: "student", integrationID: imported.integrationID, classSourcedID: imported.classSourcedID, userSourcedID: student,
            status: "archived", how: how, since: existing?.since ?? now, changedAt: now))
        try platformEvent(tx, template: "membership-archived",
                          key: "membership-archived:\(imported.integrationID):\(imported.classSourcedID):\(student):\(key)",
                          integrationID: imported.integrationID, instanceID: imported.instanceID, subject: imported.title,
                          values: ["class_sourced_id": imported.classSourcedID, "student_sourced_id": student, "how": how], now: now)
    }

    // MARK: Platform events

    /// Writes a platform event (a Standard Webhooks delivery to every subscriber, through the outbox) unless its
    /// idempotency key was written before. The outbox id (the `webhook-id` of every attempt) derives from the key, and
    /// the key is in the payload as `idempotency_key`.
    static func platformEvent(
        _ tx: any StoreTransaction, template: String, key: String, integrationID: String, instanceID: String, subject: String,
        values extra: [String: String], now: Double
    ) throws {
        // Lower-case hex of the first 12 bytes.
        let digest = Hex.lowercase(SHA256.hash(data: Data(key.utf8)).prefix(12))
        let outboxID = "evt_" + digest
        guard try tx.claimPlatformEvent(key: key, outboxID: outboxID, at: now) else { return }
        var values: [(String, String)] = [
            ("event", template), ("subject", subject), ("instance_id", instanceID), ("idempotency_key", key),
        ]
        if let integration = try tx.integration(id: integrationID) {
            values += [("integration_id", integration.id), ("district", integration.district), ("tenant_id", integration.tenantID)]
        }
        values += extra.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        try tx.insertOutbox(OutboxRecord(
            id: outboxID, instanceID: instanceID, transitionSeq: nil, channel: .email, recipient: "platform", template: template,
            payload: JSONText.object(values), nextAttemptAt: now, createdAt: now))
    }

    // MARK: The nightly sync

    /// Reasons to hold a sync of an on-demand integration: an imported class that would lose a large share of its students.
    static func holdReasons(_ tx: any StoreTransaction, integrationID: String, changes: [ChangeGroup]) throws -> [String] {
        guard try tx.provisioningMode(integrationID: integrationID) == .onDemand else { return [] }
        let imported = try tx.importedClasses(integrationID: integrationID)
        guard !imported.isEmpty else { return [] }
        let ids = Set(imported.map(\.classSourcedID))
        var dropped: [String: Int] = [:]
        // A class the SIS deletes is archived whole (its teachers are told), not a drop of its students.
        var deletedClasses: Set<String> = []
        for group in changes {
            group.forEach(entity: classes, operation: .delete) { deletedClasses.insert($0.record.sourcedID) }
        }
        for group in changes {
            group.forEach(entity: enrollments, operation: .delete) { change in
                guard !change.parked, change.record.ref3 == "student" else { return }
                if let classID = change.record.ref1, ids.contains(classID), !deletedClasses.contains(classID) { dropped[classID, default: 0] += 1 }
            }
        }
        guard !dropped.isEmpty else { return [] }
        var held: [String: Int] = [:]
        for classID in dropped.keys {
            held[classID] = try tx.rosterEnrollments(integrationID: integrationID, classSourcedID: classID).filter { $0.ref3 == "student" }.count
        }
        return imported.compactMap { cls in
            guard let count = dropped[cls.classSourcedID], let total = held[cls.classSourcedID], total > 0 else { return nil }
            let share = Double(count) / Double(total)
            guard count >= largeDropMinimum, share > largeDropShare else { return nil }
            return "imported class \(cls.title) (\(cls.classSourcedID)) would lose \(count) of \(total) students "
                + "(\(Int((share * 100).rounded()))%, more than the \(Int(largeDropShare * 100))% allowed for an imported class); "
                + "check that the export was complete before approving"
        }
    }

    /// What an applied sync does to the imported classes of an on-demand integration, in the sync's transaction: adds
    /// place students who signed in, drops archive memberships (work kept), teacher changes are applied, and a class the
    /// SIS deleted is archived through its workflow (its teachers are told).
    static func follow(
        _ groups: [ChangeGroup], tx: any StoreTransaction, runtime: WorkflowRuntime, integrationID: String, runID: String, now: Double
    ) throws -> [AppliedStep] {
        guard try tx.provisioningMode(integrationID: integrationID) == .onDemand else { return [] }
        var imported: [String: ImportedClassRecord] = [:]
        for record in try tx.importedClasses(integrationID: integrationID) { imported[record.classSourcedID] = record }
        guard !imported.isEmpty else { return [] }
        var steps: [AppliedStep] = []
        for group in groups {
            try group.forEach { change in
                guard !change.parked else { return }
                let record = change.record
                if record.entity == classes, change.operation == .delete, let cls = imported[record.sourcedID],
                   let state = try tx.instance(id: cls.instanceID)?.state, ClassImport.State.open.contains(state) {
                    steps.append(try runtime.apply(
                        tx, instanceID: cls.instanceID, event: ClassImport.Event.deletedInSIS, sender: .system,
                        reason: "the SIS deleted class \(cls.title) (\(cls.classSourcedID)) in sync \(runID); it was archived, with its students' work",
                        payload: ["sync_run": runID], now: now))
                    return
                }
                guard record.entity == enrollments, let classID = record.ref1, let user = record.ref2,
                      let cls = imported[classID], let state = try tx.instance(id: cls.instanceID)?.state,
                      ClassImport.State.open.contains(state)
                else { return }
                let member = try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: user)
                    .first { $0.role == (record.ref3 == "teacher" ? "teacher" : "student") }
                switch (record.ref3 ?? "", change.operation) {
                case ("teacher", .delete):
                    if let member, member.status == "active" {
                        var left = member
                        left.status = "archived"
                        left.how = "left"
                        left.changedAt = now
                        try tx.upsertClassMember(left)
                    }
                case ("teacher", _):
                    if member?.status != "active" {
                        try tx.upsertClassMember(ClassMemberRecord(
                            role: "teacher", integrationID: integrationID, classSourcedID: classID, userSourcedID: user,
                            status: "active", how: "sync", since: now, changedAt: now))
                    }
                case ("student", .delete):
                    if member?.status == "active" {
                        try archive(tx, imported: cls, student: user, how: "dropped", key: runID, now: now)
                    }
                case ("student", _):
                    // A student who signed in (linked, or a member before) is placed at once; others when they sign in.
                    let known = try member != nil || !tx.identityLinks(integrationID: integrationID, sourcedID: user).isEmpty
                    if known, member?.status != "active" {
                        try place(tx, imported: cls, student: user, how: "sync", since: now, now: now)
                    }
                default:
                    return
                }
            }
        }
        return steps
    }
}
