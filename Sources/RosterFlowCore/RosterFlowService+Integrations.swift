import Foundation
import StorageCore
import WorkflowEngine

extension RosterFlowService {
    /// Applies an event to an integration or course instance.
    ///
    /// - Parameters:
    ///   - role: the sender's role; nil uses the role the workflow names first for this event in the current state.
    ///   - expectedRowVersion: the version the sender saw; if the instance moved on since, nothing is applied.
    ///   - keepHeldRun: resuming an integration whose sync run is held settles that run: approve or reject it
    ///     (`sync approve|reject`), or resume with this set and a `reason` to keep it held (the reason is recorded on
    ///     the run). Without it, `resume` is refused while a run is held.
    public func send(
        _ event: String, to instanceID: String, role: Role? = nil, actor: String, reason: String? = nil,
        payload: [String: String] = [:], expectedRowVersion: Int? = nil, keepHeldRun: Bool = false
    ) async throws -> AppliedStep {
        let runtime = self.runtime
        return try await write { tx, now in
            try Self.send(
                event, to: instanceID, role: role, actor: actor, reason: reason, payload: payload,
                expectedRowVersion: expectedRowVersion, keepHeldRun: keepHeldRun, runtime: runtime, tx: tx, now: now)
        }
    }

    /// ``send(_:to:role:actor:reason:payload:expectedRowVersion:keepHeldRun:)`` inside the caller's transaction.
    static func send(
        _ event: String, to instanceID: String, role: Role?, actor: String, reason: String?, payload: [String: String],
        expectedRowVersion: Int?, keepHeldRun: Bool, runtime: WorkflowRuntime, tx: any StoreTransaction, now: Double
    ) throws -> AppliedStep {
        guard let instance = try tx.instance(id: instanceID) else {
            throw RosterFlowError(
                .notFound, "there is no integration or course \(instanceID); `rosterflow integrations list` and `courses list` show them")
        }
        if event == DomainVocabulary.Integration.Event.resume, instance.workflow == DomainVocabulary.Integration.workflow,
           instance.state == DomainVocabulary.Integration.State.onHold {
            try Self.settleHeldRuns(integrationID: instanceID, keep: keepHeldRun, reason: reason, actor: actor, tx: tx, now: now)
        }
        let role = try role ?? runtime.defaultRole(for: event, instance: instance) ?? .system
        return try runtime.apply(
            tx, instanceID: instanceID, event: event, sender: Sender(actor: actor, role: role), reason: reason,
            payload: payload, expectedRowVersion: expectedRowVersion, now: now, loaded: instance)
    }

    /// Refuses to resume an integration whose sync run is held unless the caller keeps it held, with a reason that is
    /// recorded on the run.
    static func settleHeldRuns(
        integrationID: String, keep: Bool, reason: String?, actor: String, tx: any StoreTransaction, now: Double
    ) throws {
        let held = try tx.heldSyncRuns(integrationID: integrationID)
        guard let newest = held.last else { return }
        guard keep else {
            throw RosterFlowError(
                .refused,
                "sync run \(newest.id) of \(integrationID) is held for review; settle it first: `rosterflow sync show \(newest.id) --changes`, "
                    + "then `rosterflow sync approve \(newest.id)` or `rosterflow sync reject \(newest.id)` (either resumes the integration), "
                    + "or resume and keep it held: `rosterflow integrations advance \(integrationID) resume --keep-held --reason \"…\"`",
                allowedEvents: ["resume --keep-held"], cause: "held-run-unsettled")
        }
        guard let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else {
            throw RosterFlowError(.invalidInput, "--keep-held needs --reason: why the held run stays held (it is recorded on the run)")
        }
        for run in held {
            var reasons = Self.reasons(of: run)
            reasons.append("kept held when \(actor) resumed the integration at \(Timestamp.iso(now)): \(reason)")
            try tx.updateSyncRun(id: run.id, decision: .held, reasons: json(reasons), finishedAt: run.finishedAt ?? now)
        }
    }

    /// Checks the request against the customer registry: a request whose tenant is a customer, whose district name and
    /// contact domain match the registry record and that is the tenant's only open integration becomes `authenticated`;
    /// a customer's request that differs in any of these is held for the vendor admin (`needs_review`, with both
    /// records side by side in the notice and in ``integration(id:)``); any other is `rejected` with the reason stored.
    ///
    /// - Parameters:
    ///   - confirmMismatch: the vendor admin compared both records of a held request and confirms it is the customer
    ///     (`confirm_customer`); `reason` is then required and stored.
    /// - Throws: ``RosterFlowError/Code/invalidInput`` for a confirmation without a reason; ``RosterFlowError/Code/refused``
    ///   for a confirmation of a request that is not held for review.
    public func authenticate(
        integrationID: String, role: Role? = nil, actor: String, confirmMismatch: Bool = false, reason: String? = nil,
        expectedRowVersion: Int? = nil
    ) async throws -> AppliedStep {
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if confirmMismatch, reason?.isEmpty ?? true {
            throw RosterFlowError(
                .invalidInput, "confirming a request that differs from the registry needs --reason: say why it is the customer")
        }
        let runtime = self.runtime
        return try await write { tx, now in
            guard let integration = try tx.integration(id: integrationID), let instance = try tx.instance(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
            }
            let comparison = try RegistryComparison.compare(integration, tx: tx)
            var event = confirmMismatch ? DomainVocabulary.Integration.Event.confirmCustomer : DomainVocabulary.Integration.Event.authenticate
            // Requested under a definition without `needs_review` (version 3 and before): a differing request is not
            // authenticated silently either; the vendor admin confirms it here or rejects it.
            if try runtime.definition(for: instance).states[DomainVocabulary.Integration.State.needsReview] == nil,
               instance.state == DomainVocabulary.Integration.State.requested,
               comparison.registry != nil, !comparison.matches {
                guard confirmMismatch else {
                    throw RosterFlowError(
                        .refused, "\(integrationID) differs from the customer registry: " + comparison.problems.joined(separator: "; ")
                            + ". It was requested under integration workflow version \(instance.version), which cannot hold it for "
                            + "review: compare with `rosterflow integrations show \(integrationID)`, then confirm with "
                            + "--confirm-mismatch --reason \"…\" or reject it",
                        allowedEvents: try self.allowedEvents(instance).map(\.event))
                }
                event = DomainVocabulary.Integration.Event.authenticate
            } else if confirmMismatch, instance.state != DomainVocabulary.Integration.State.needsReview {
                throw RosterFlowError(
                    .refused, "\(integrationID) is '\(instance.state)', not held for review: there is no mismatch to confirm"
                        + (instance.state == DomainVocabulary.Integration.State.requested ? "; `rosterflow integrations authenticate \(integrationID)` checks it first" : ""),
                    allowedEvents: try self.allowedEvents(instance).map(\.event))
            }
            let role = try role ?? runtime.defaultRole(for: event, instance: instance) ?? .vendorAdmin
            return try runtime.apply(
                tx, instanceID: integrationID, event: event, sender: Sender(actor: actor, role: role),
                reason: confirmMismatch ? "confirmed as the customer despite: " + comparison.problems.joined(separator: "; ")
                    + " — \(reason ?? "")" : nil,
                payload: ["report": comparison.sideBySide], expectedRowVersion: expectedRowVersion, now: now, loaded: instance)
        }
    }

    /// Stores the school's preferred daily sync time and the next sync instant, and moves the integration on.
    public func schedule(
        integrationID: String, time: String, timezone: String, role: Role? = nil, actor: String, expectedRowVersion: Int? = nil
    ) async throws -> AppliedStep {
        let schedule = try SyncSchedule(time: time, timezone: timezone)
        let runtime = self.runtime
        return try await write { tx, now in
            try Self.requireIntegration(integrationID, tx)
            let next = schedule.nextRun(after: Date(timeIntervalSince1970: now))
            return try Self.send(
                "schedule", to: integrationID, role: role, actor: actor,
                reason: "daily sync at \(schedule.timeText) \(schedule.timezone)",
                payload: ["sync_time": schedule.timeText, "timezone": schedule.timezone,
                          "next_sync_at": String(next.timeIntervalSince1970)],
                expectedRowVersion: expectedRowVersion, keepHeldRun: false, runtime: runtime, tx: tx, now: now)
        }
    }

    @discardableResult
    func requireIntegration(_ id: String) async throws -> IntegrationRecord {
        guard let integration = try read({ try $0.integration(id: id) }) else {
            throw RosterFlowError(.notFound, "there is no integration \(id); `rosterflow integrations list` shows them")
        }
        return integration
    }

    /// Throws ``RosterFlowError/Code/notFound`` unless the integration exists (in the caller's transaction).
    static func requireIntegration(_ id: String, _ tx: any StoreTransaction) throws {
        guard try tx.integration(id: id) != nil else {
            throw RosterFlowError(.notFound, "there is no integration \(id); `rosterflow integrations list` shows them")
        }
    }

    /// One integration with its history and what may happen next.
    public func integration(id: String) throws -> IntegrationView {
        try read { tx in
            guard let integration = try tx.integration(id: id), let instance = try tx.instance(id: id) else {
                throw RosterFlowError(.notFound, "there is no integration \(id); `rosterflow integrations list` shows them")
            }
            return try integrationView(tx, integration, instance, withHistory: true)
        }
    }

    /// All integrations, optionally only those in `state`, oldest first.
    public func integrations(state: String? = nil) throws -> [IntegrationView] {
        if let state, let definition = runtime.current["integration"], definition.states[state] == nil {
            throw RosterFlowError(
                .invalidInput, "'\(state)' is not an integration state; states are \(definition.stateOrder.joined(separator: ", "))")
        }
        return try read { tx in
            try tx.integrations().compactMap { integration in
                guard let instance = try tx.instance(id: integration.id) else { return nil }
                if let state, instance.state != state { return nil }
                return try integrationView(tx, integration, instance, withHistory: false)
            }
        }
    }

    /// Changes whenever anything is committed to the store by anyone; nil when the store cannot tell. Answers computed
    /// from the store may be reused while it reads the same.
    public func commitCounter() -> Int64? { store.commitCounter() }

    /// One page of integrations, oldest first: those `scope` allows, optionally only those in `state`, after the
    /// integration `after` (nil: from the first). The page is one store query, whatever the number of integrations.
    ///
    /// - Returns: the page and whether more follow; nil when `after` names no integration.
    public func integrationPage(
        state: String? = nil, after: String?, limit: Int, scope: DistrictScope
    ) throws -> (items: [IntegrationView], more: Bool)? {
        if let state, let definition = runtime.current["integration"], definition.states[state] == nil {
            throw RosterFlowError(
                .invalidInput, "'\(state)' is not an integration state; states are \(definition.stateOrder.joined(separator: ", "))")
        }
        let tenants: [String]? = switch scope {
        case .all: nil
        case let .only(districts): districts.sorted()
        }
        return try read { tx -> (items: [IntegrationView], more: Bool)? in
            guard let rows = try tx.integrationListing(after: after, limit: limit + 1, states: state.map { [$0] }, tenants: tenants)
            else { return nil }
            let items = try rows.prefix(limit).map { row in
                var view = IntegrationView(
                    id: row.integration.id, state: row.instance.state, tenantID: row.integration.tenantID,
                    district: row.integration.district, permission: row.integration.permission,
                    contactEmail: row.integration.contactEmail, syncTime: row.integration.syncTime, timezone: row.integration.timezone,
                    nextSyncAt: row.integration.nextSyncAt.map(Timestamp.iso), workflowVersion: row.instance.version,
                    rowVersion: row.instance.rowVersion, courseCount: row.courseCount, allowedEvents: try allowedEvents(row.instance),
                    history: [])
                if row.instance.state == DomainVocabulary.Integration.State.paused, let pause = row.pause {
                    view.pausedUntil = pause.untilText
                    view.pauseReason = pause.reason
                }
                view.provisioningMode = (row.provisioningMode ?? .preProvisioned).rawValue
                view.enteredStateAt = Timestamp.iso(row.instance.enteredAt)
                return view
            }
            return (items, rows.count > limit)
        }
    }

    private func integrationView(
        _ tx: any StoreTransaction, _ integration: IntegrationRecord, _ instance: InstanceRecord, withHistory: Bool
    ) throws -> IntegrationView {
        var view = try integrationRecordView(tx, integration, instance, withHistory: withHistory)
        if instance.state == DomainVocabulary.Integration.State.paused, let pause = try tx.pause(integrationID: integration.id) {
            view.pausedUntil = pause.untilText
            view.pauseReason = pause.reason
        }
        view.provisioningMode = (try tx.provisioningMode(integrationID: integration.id) ?? .preProvisioned).rawValue
        view.enteredStateAt = Timestamp.iso(instance.enteredAt)
        return view
    }

    private func integrationRecordView(
        _ tx: StoreTransaction, _ integration: IntegrationRecord, _ instance: InstanceRecord, withHistory: Bool
    ) throws -> IntegrationView {
        IntegrationView(
            id: integration.id, state: instance.state, tenantID: integration.tenantID, district: integration.district,
            permission: integration.permission, contactEmail: integration.contactEmail, syncTime: integration.syncTime,
            timezone: integration.timezone, nextSyncAt: integration.nextSyncAt.map(Timestamp.iso),
            workflowVersion: instance.version, rowVersion: instance.rowVersion,
            courseCount: try tx.courseCounts(integrationID: integration.id, notIn: []).total,
            allowedEvents: try allowedEvents(instance),
            history: withHistory ? try history(tx, instance.id) : [],
            registryCheck: withHistory && Self.statesShowingRegistryCheck.contains(instance.state)
                ? try RegistryComparison.compare(integration, tx: tx) : nil)
    }

    /// States in which `integrations show` compares the request with the registry: before it is authenticated.
    static let statesShowingRegistryCheck: Set<String> = [
        DomainVocabulary.Integration.State.requested, DomainVocabulary.Integration.State.needsReview,
        DomainVocabulary.Integration.State.rejected,
    ]

    func allowedEvents(_ instance: InstanceRecord) throws -> [AllowedEvent] {
        let definition = try runtime.definition(for: instance)
        guard let state = definition.states[instance.state] else { return [] }
        return state.eventOrder.map { event in
            var roles: [Role] = []
            for transition in state.events[event] ?? [] {
                for role in transition.roles where !roles.contains(role) { roles.append(role) }
            }
            return AllowedEvent(event: event, roles: roles.map(\.rawValue))
        }
    }

    func history(_ tx: any StoreTransaction, _ id: String) throws -> [HistoryEntry] {
        try tx.transitions(instanceID: id).map {
            HistoryEntry(from: $0.from, to: $0.to, event: $0.event, actor: $0.actor, role: $0.role,
                         at: Timestamp.iso($0.at), reason: $0.reason)
        }
    }

    /// Sends every timer event due by now. A timer whose event is refused (the instance moved on) is dropped and
    /// reported; the others apply as the system.
    public func fireDueTimers() async throws -> [FiredTimer] {
        let runtime = self.runtime
        return try await write { tx, now in
            var fired: [FiredTimer] = []
            for timer in try tx.dueTimers(now: now) {
                guard try tx.deleteTimer(id: timer.id) else { continue }
                var refusal: String?
                do {
                    _ = try tx.savepoint {
                        try runtime.apply(
                            tx, instanceID: timer.instanceID, event: timer.event, sender: .system,
                            reason: "timer armed \(Timestamp.iso(timer.armedAt)) in '\(timer.armedInState)' fell due", now: now)
                    }
                } catch {
                    refusal = RosterFlowError.wrap(error).message
                }
                fired.append(FiredTimer(
                    instanceID: timer.instanceID, event: timer.event, dueAt: Timestamp.iso(timer.dueAt), refusal: refusal))
            }
            return fired
        }
    }
}
