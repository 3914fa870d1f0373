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
    ///
    /// Once the vendor has imported a catalog (`catalog import`), the mapping is checked against it: `baseID` must name
    /// an active catalog course (the title is the catalog's; a different `catalogTitle` is refused), mapping a second
    /// course of the same district to one base id needs `confirmShared` (recorded in the history), and re-mapping a
    /// course whose content is in place needs a `reason` (its content goes). Without a catalog the mapping is taken as
    /// given.
    public func mapCourse(
        id: String, catalogTitle: String? = nil, baseID: String, role: Role? = nil, actor: String, confirmShared: Bool = false,
        confirmGrades: Bool = false, reason: String? = nil
    ) async throws -> AppliedStep {
        let catalogTitle = catalogTitle?.trimmingCharacters(in: .whitespaces)
        let baseID = baseID.trimmingCharacters(in: .whitespaces)
        if let catalogTitle, catalogTitle.isEmpty { throw RosterFlowError(.invalidInput, "the catalog course title is empty") }
        guard !baseID.isEmpty else { throw RosterFlowError(.invalidInput, "the base id is empty") }
        let runtime = self.runtime
        return try await write { tx, now in
            guard let course = try tx.course(id: id), let instance = try tx.instance(id: id) else {
                throw RosterFlowError(.notFound, "there is no course \(id); `rosterflow courses list --integration ID` shows them")
            }
            var title = catalogTitle
            var notes: [String] = []
            // The one catalog entry by its key; the whole catalog is read only to explain a refusal (or to learn that
            // there is no catalog at all), not on every mapping.
            let entry = try tx.catalogCourse(baseID: baseID)
            let catalog = entry == nil ? try tx.catalogCourses(includeRetired: true) : []
            if entry != nil || !catalog.isEmpty, instance.state != DomainVocabulary.CourseMapping.State.locked {
                guard let entry else {
                    let near = CatalogMatcher.suggestions(for: course.title, in: catalog, limit: 3)
                    throw RosterFlowError(
                        .invalidInput, "\(baseID) is not in the vendor catalog; "
                            + (near.isEmpty ? "`rosterflow catalog list` shows it"
                                : "closest for \(course.title): " + near.map { "\($0.baseID) (\($0.title))" }.joined(separator: ", ")),
                        cause: "not-in-catalog")
                }
                guard entry.status == .active else {
                    let successor = try tx.catalogCourses(includeRetired: true).first { $0.previousBaseID == entry.baseID }
                    throw RosterFlowError(
                        .refused, "\(entry.baseID) (\(entry.title)) is retired and no longer offered for new mappings"
                            + (successor.map { "; its successor is \($0.baseID) (\($0.title))" } ?? ""),
                        cause: "retired-catalog-course")
                }
                if let given = catalogTitle, CatalogMatcher.normalised(given) != CatalogMatcher.normalised(entry.title) {
                    throw RosterFlowError(
                        .invalidInput, "catalog course \(entry.baseID) is '\(entry.title)', not '\(given)'; give the base id "
                            + "alone, or the title that goes with it", cause: "catalog-title-mismatch")
                }
                title = entry.title
                // The grades the SIS gives the school course (held from the last sync), against the catalog course's.
                let held = try tx.rosterRecords(
                    integrationID: course.integrationID, entity: RosterEntity.courses.rawValue, sourcedIDs: [course.sourcedID]).first
                let schoolGrades = Self.heldCourseGrades(held)
                if !schoolGrades.isEmpty, !entry.grades.isEmpty, schoolGrades.isDisjoint(with: entry.grades) {
                    let theirs = schoolGrades.sorted().joined(separator: ", "), catalogs = entry.grades.joined(separator: ", ")
                    guard confirmGrades else {
                        throw RosterFlowError(
                            .refused, "\(course.title) is for grades \(theirs) in the SIS, but \(entry.baseID) (\(entry.title)) is "
                                + "for grades \(catalogs). If that is meant, map again with --confirm-grades", cause: "grade-mismatch")
                    }
                    notes.append("confirmed grades \(theirs) on a catalog course for \(catalogs)")
                }
                let others = try tx.courses(integrationID: course.integrationID, mappedTo: baseID).filter { $0.id != id }
                if !others.isEmpty {
                    let names = others.map { "\($0.title) (\($0.sourcedID))" }.joined(separator: ", ")
                    guard confirmShared else {
                        throw RosterFlowError(
                            .refused, "\(names) \(others.count == 1 ? "is" : "are") already mapped to \(baseID) in this "
                                + "district; two school courses on one base id share its students' work. If that is meant, "
                                + "map again with --confirm-shared", cause: "shared-base-id")
                    }
                    notes.append("confirmed sharing \(baseID) with \(names)")
                }
            }
            // A locked course is refused by the workflow below, whatever the title.
            if instance.state == DomainVocabulary.CourseMapping.State.locked { title = title ?? baseID }
            guard let title else {
                throw RosterFlowError(
                    .invalidInput, "no vendor catalog is imported, so the catalog course title is needed (--catalog); "
                        + "`rosterflow catalog import FILE` imports the catalog")
            }
            if instance.state == DomainVocabulary.CourseMapping.State.contentAdded {
                guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw RosterFlowError(
                        .refused, "\(course.title) has its content in place; mapping it to another catalog course drops that "
                            + "content and sends it back to the school for verification. Give --reason to do it anyway",
                        cause: "remap-drops-content")
                }
                notes.append("content dropped: \(reason)")
            } else if let reason, !reason.isEmpty {
                notes.append(reason)
            }
            let role = try role ?? runtime.defaultRole(for: "map", instance: instance) ?? .system
            do {
                return try runtime.apply(
                    tx, instanceID: id, event: "map", sender: Sender(actor: actor, role: role),
                    reason: (["mapped to \(title) [\(baseID)]"] + notes).joined(separator: "; "),
                    payload: ["catalog": title, "base_id": baseID], now: now, loaded: instance)
            } catch {
                // A locked course: say how its successor is made.
                let wrapped = RosterFlowError.wrap(error)
                guard wrapped.code == .refused, instance.state == DomainVocabulary.CourseMapping.State.locked, let base = course.baseID
                else { throw wrapped }
                throw RosterFlowError(
                    .refused, wrapped.message + " (`rosterflow catalog version \(base)` makes it; map next year's course to it)",
                    allowedEvents: wrapped.allowedEvents, cause: wrapped.cause, site: wrapped.site)
            }
        }
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

    /// The grade levels a held course record carries (`09,10|Mathematics` in its third reference), as the catalog
    /// writes them (`9` is `09`).
    static func heldCourseGrades(_ record: RosterRecord?) -> Set<String> {
        guard let value = record?.ref3, let bar = value.firstIndex(of: "|") else { return [] }
        return Set(value[..<bar].split(separator: ",").map { grade in
            let text = grade.trimmingCharacters(in: .whitespaces)
            return text.count == 1 && text.first!.isNumber ? "0" + text : text
        }.filter { !$0.isEmpty })
    }

    /// The course id a person's reference names: a course id (`crs_…`) as it is, or the school's course sourcedId —
    /// within `integrationID` when given, else in whichever district has it (refused, naming them, when several do).
    public func courseID(for reference: String, integrationID: String? = nil) throws -> String {
        let reference = reference.trimmingCharacters(in: .whitespaces)
        return try read { tx in
            if let course = try tx.course(id: reference), integrationID == nil || course.integrationID == integrationID {
                return course.id
            }
            if let integrationID {
                try Self.requireIntegration(integrationID, tx)
                guard let course = try tx.course(integrationID: integrationID, sourcedID: reference) else {
                    throw RosterFlowError(
                        .notFound, "integration \(integrationID) has no course with id or sourcedId \(reference); "
                            + "`rosterflow courses list --integration \(integrationID)` shows them")
                }
                return course.id
            }
            let found = try tx.integrations().compactMap { try tx.course(integrationID: $0.id, sourcedID: reference) }
            switch found.count {
            case 0:
                throw RosterFlowError(
                    .notFound, "there is no course with id or sourcedId \(reference); `rosterflow courses list --integration ID` shows them")
            case 1:
                return found[0].id
            default:
                throw RosterFlowError(
                    .invalidInput, "sourcedId \(reference) is a course in \(found.count) districts ("
                        + found.map(\.integrationID).joined(separator: ", ") + "); say which with --integration", cause: "ambiguous-course")
            }
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
