import Foundation
import StorageCore
import WorkflowEngine

extension RosterFlowService {
    /// Integration states in which course shells may be created.
    static let statesAcceptingCourses = [
        DomainVocabulary.Integration.State.scheduled, DomainVocabulary.Integration.State.shellsCreated,
        DomainVocabulary.Integration.State.contentMapped, DomainVocabulary.Integration.State.live,
    ]

    /// Creates a course shell and its mapping instance. The first shell of a scheduled integration moves it to
    /// `shells_created`; a course that arrives after start-up is announced to the DSP.
    public func addCourse(integrationID: String, sourcedID: String, title: String, sender: Sender) async throws -> CourseView {
        let sourcedID = sourcedID.trimmingCharacters(in: .whitespaces)
        let title = title.trimmingCharacters(in: .whitespaces)
        guard !sourcedID.isEmpty else { throw RosterFlowError(.invalidInput, "the course's sourcedId is empty") }
        guard !title.isEmpty else { throw RosterFlowError(.invalidInput, "the course title is empty") }
        let runtime = self.runtime
        let id = try await write { tx, now in
            guard let integration = try tx.integration(id: integrationID), let instance = try tx.instance(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID)")
            }
            guard Self.statesAcceptingCourses.contains(instance.state) else {
                throw RosterFlowError(
                    .refused,
                    "\(integration.district) (\(integrationID)) is '\(instance.state)'; course shells are created once the "
                        + "integration is scheduled (states: \(Self.statesAcceptingCourses.joined(separator: ", ")))")
            }
            if let existing = try tx.course(integrationID: integrationID, sourcedID: sourcedID) {
                throw RosterFlowError(.conflict, "course \(sourcedID) already has a shell: \(existing.id) (\(existing.title))")
            }
            let id = Identifier.make(prefix: "crs")
            _ = try runtime.start(
                tx, workflow: DomainVocabulary.CourseMapping.workflow, id: id, subjectTitle: "\(title) (\(integration.district))", sender: sender,
                reason: "course shell created for \(sourcedID)", payload: [:], now: now
            ) { tx in
                try tx.insertCourse(CourseRecord(
                    id: id, integrationID: integrationID, sourcedID: sourcedID, title: title, createdAt: now))
            }
            return id
        }
        return try course(id: id)
    }

    /// Maps a course to a catalog course. Allowed until the course is locked; re-mapping a verified course sends it
    /// back for verification.
    public func mapCourse(
        id: String, catalogTitle: String, baseID: String, role: Role? = nil, actor: String
    ) async throws -> AppliedStep {
        let catalogTitle = catalogTitle.trimmingCharacters(in: .whitespaces)
        let baseID = baseID.trimmingCharacters(in: .whitespaces)
        guard !catalogTitle.isEmpty else { throw RosterFlowError(.invalidInput, "the catalog course title is empty") }
        guard !baseID.isEmpty else { throw RosterFlowError(.invalidInput, "the base id is empty") }
        return try await send(
            "map", to: id, role: role, actor: actor, reason: "mapped to \(catalogTitle) [\(baseID)]",
            payload: ["catalog": catalogTitle, "base_id": baseID])
    }

    /// The school confirms the mapping.
    public func verifyCourse(id: String, role: Role? = nil, actor: String) async throws -> AppliedStep {
        return try await send("verify", to: id, role: role, actor: actor)
    }

    /// The DSP has added content. When it is the integration's last course without content, the integration moves
    /// to `content_mapped` in the same transaction.
    public func contentAdded(id: String, role: Role? = nil, actor: String) async throws -> AppliedStep {
        return try await send("add_content", to: id, role: role, actor: actor)
    }

    /// A student started the course: its mapping locks. A course that is already locked stays as it is.
    public func studentStarted(id: String, role: Role? = nil, actor: String) async throws -> AppliedStep? {
        let runtime = self.runtime
        return try await write { tx, now in
            guard let instance = try tx.instance(id: id), instance.workflow == DomainVocabulary.CourseMapping.workflow else {
                throw RosterFlowError(.notFound, "there is no course \(id)")
            }
            // The course row's locked_at is written in the same transaction as the move to `locked`.
            if instance.state == DomainVocabulary.CourseMapping.State.locked { return nil }
            let role = try role ?? runtime.defaultRole(for: "student_started", instance: instance) ?? .system
            return try runtime.apply(
                tx, instanceID: id, event: DomainVocabulary.CourseMapping.Event.studentStarted, sender: Sender(actor: actor, role: role),
                reason: "first student started the course", now: now, loaded: instance)
        }
    }

    /// One course with its mapping, history and what may happen next.
    public func course(id: String) throws -> CourseView {
        try read { tx in
            guard let course = try tx.course(id: id), let instance = try tx.instance(id: id) else {
                throw RosterFlowError(.notFound, "there is no course \(id)")
            }
            return CourseView(
                id: course.id, state: instance.state, integrationID: course.integrationID, sourcedID: course.sourcedID,
                title: course.title, catalogTitle: course.catalogTitle, baseID: course.baseID,
                locked: course.lockedAt != nil, lockedAt: course.lockedAt.map(Timestamp.iso),
                workflowVersion: instance.version, rowVersion: instance.rowVersion,
                allowedEvents: try allowedEvents(instance), history: try history(tx, id))
        }
    }

    /// The courses of an integration.
    public func courses(integrationID: String) throws -> [CourseView] {
        let ids = try read { tx in
            try Self.requireIntegration(integrationID, tx)
            return try tx.courses(integrationID: integrationID).map(\.id)
        }
        return try ids.map { try course(id: $0) }
    }

    /// What must happen next, oldest first: every instance whose state defines a task, with the role that owns it.
    public func tasks(integrationID: String? = nil) throws -> [TaskItem] {
        try read { tx in
            if let integrationID { try Self.requireIntegration(integrationID, tx) }
            var items: [(Double, TaskItem)] = []
            for (workflow, kind) in [(DomainVocabulary.Integration.workflow, "integration"), (DomainVocabulary.CourseMapping.workflow, "course")] {
                for instance in try tx.instances(workflow: workflow) {
                    let definition = try runtime.definition(for: instance)
                    guard let task = definition.states[instance.state]?.task else { continue }
                    let owningIntegration = kind == "course" ? try tx.course(id: instance.id)?.integrationID ?? "" : instance.id
                    if let integrationID, owningIntegration != integrationID { continue }
                    var todo = task.todo.replacingOccurrences(of: "{subject}", with: instance.subjectTitle)
                    // An integration on hold for a sync: the task names the run, and how to review and decide it.
                    let heldRun = kind == "integration" && instance.state == "on_hold"
                        ? try tx.heldSyncRunID(integrationID: instance.id) : nil
                    if let heldRun { todo += "; " + Self.heldRunTodo(heldRun) }
                    // A request held for review shows what differs, so the vendor admin can decide from the list.
                    let check = kind == "integration" && instance.state == DomainVocabulary.Integration.State.needsReview
                        ? try tx.integration(id: instance.id).map { try RegistryComparison.compare($0, tx: tx) } : nil
                    items.append((instance.enteredAt, TaskItem(
                        instanceID: instance.id, kind: kind, integrationID: owningIntegration, subject: instance.subjectTitle,
                        state: instance.state, owner: task.owner.rawValue, ownerLabel: task.owner.displayName,
                        todo: todo, waitingSince: Timestamp.iso(instance.enteredAt), registryCheck: check, syncRun: heldRun)))
                }
            }
            // Oldest first; at the same instant an integration's task before its courses'.
            return items.sorted {
                ($0.0, $0.1.kind == "integration" ? 0 : 1, $0.1.instanceID) < ($1.0, $1.1.kind == "integration" ? 0 : 1, $1.1.instanceID)
            }.map(\.1)
        }
    }

    /// How to review and decide a held sync run, in the words of a task.
    static func heldRunTodo(_ runID: String) -> String {
        "sync \(runID) is held: review its changes with `rosterflow sync show \(runID) --changes`, then "
            + "`rosterflow sync approve \(runID)` or `rosterflow sync reject \(runID)`"
    }
}
