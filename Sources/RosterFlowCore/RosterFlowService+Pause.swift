import Foundation
import OneRoster
import StorageCore
import WorkflowEngine

/// What resuming a paused integration did: the workflow step, and the sync it ran at once (held for review unless it
/// changed nothing; none when the integration has no sync source).
public struct ResumeOutcome: Sendable, Codable {
    /// The `resume` event as applied.
    public var step: AppliedStep
    /// The sync run at once after it.
    public var run: SyncRunView?
}

extension RosterFlowService {
    /// Pauses an integration until `until` (`YYYY-MM-DD`, the start of that day in the school's time zone, UTC when it
    /// has none): its nightly syncs are skipped without missed-sync alerts, and the first nightly sync on or after
    /// that day resumes it and runs one sync held for review. A workflow event (`pause`) with its history; the date
    /// and reason are recorded with it.
    ///
    /// - Throws: ``RosterFlowError/Code/invalidInput`` for a date that is not `YYYY-MM-DD` or not in the future;
    ///   ``RosterFlowError/Code/refused`` when the integration cannot be paused in its state (or runs a workflow
    ///   version without pauses).
    public func pause(
        integrationID: String, until: String, reason: String?, role: WorkflowEngine.Role? = nil, actor: String
    ) async throws -> AppliedStep {
        guard let date = OneRosterDate(until) else {
            throw RosterFlowError(.invalidInput, "--until is a date written YYYY-MM-DD (e.g. 2027-08-15), not \(until)")
        }
        let runtime = self.runtime
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await write { tx, now in
            guard let integration = try tx.integration(id: integrationID), let instance = try tx.instance(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
            }
            try Self.requirePauses(runtime, instance: instance)
            let zone = integration.timezone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
            let instant = Self.startOfDay(date, in: zone)
            guard instant > now else {
                throw RosterFlowError(
                    .invalidInput, "--until \(until) is not in the future (in \(zone.identifier)); give the day syncs should resume")
            }
            let why = "paused until \(until)" + (reason.map { $0.isEmpty ? "" : ": \($0)" } ?? "")
            let sender = Sender(actor: actor, role: try role ?? runtime.defaultRole(for: DomainVocabulary.Integration.Event.pause, instance: instance) ?? .vendorAdmin)
            let step = try runtime.apply(
                tx, instanceID: integrationID, event: DomainVocabulary.Integration.Event.pause, sender: sender, reason: why,
                payload: ["until": until], now: now, loaded: instance)
            try tx.setPause(PauseRecord(
                integrationID: integrationID, pausedUntil: instant, untilText: until, reason: reason, actor: actor, pausedAt: now))
            return step
        }
    }

    /// Resumes a paused integration now and runs one sync at once from its configured source, held for review (the
    /// safeguards' reasons, a rollover's among them, are listed with it) unless it changes nothing: nothing of it is
    /// applied before `sync approve`. A workflow event (`resume`) with its history.
    public func resume(integrationID: String, role: WorkflowEngine.Role? = nil, actor: String) async throws -> ResumeOutcome {
        try await resume(integrationID: integrationID, role: role, actor: actor, lock: nil)
    }

    /// ``resume(integrationID:role:actor:)``, its sync run under `lock` when the caller (the scheduler) holds the
    /// integration's sync lock already, else under a lock of its own.
    func resume(integrationID: String, role: WorkflowEngine.Role?, actor: String, lock: SyncLockHandle?) async throws -> ResumeOutcome {
        let runtime = self.runtime
        let (step, pause, source) = try await write { tx, now -> (AppliedStep, PauseRecord?, String?) in
            guard let instance = try tx.instance(id: integrationID),
                  instance.workflow == DomainVocabulary.Integration.workflow else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
            }
            guard instance.state == DomainVocabulary.Integration.State.paused else {
                throw RosterFlowError(
                    .refused, "\(integrationID) is '\(instance.state)', not paused; there is nothing to resume",
                    allowedEvents: [], cause: "not-paused")
            }
            let pause = try tx.pause(integrationID: integrationID)
            let sender = Sender(actor: actor, role: try role ?? runtime.defaultRole(for: DomainVocabulary.Integration.Event.resume, instance: instance) ?? .vendorAdmin)
            let why = "resumed" + (pause.map { " (paused until \($0.untilText) since \(Timestamp.iso($0.pausedAt)))" } ?? "")
                + "; the next sync is held for review"
            let step = try runtime.apply(
                tx, instanceID: integrationID, event: DomainVocabulary.Integration.Event.resume, sender: sender, reason: why,
                now: now, loaded: instance)
            try tx.clearPause(integrationID: integrationID)
            return (step, pause, try tx.syncSource(integrationID: integrationID))
        }
        guard let source else { return ResumeOutcome(step: step, run: nil) }
        let review = "first sync after the pause"
            + (pause.map { " (paused \(Timestamp.iso($0.pausedAt).prefix(10)) until \($0.untilText))" } ?? "")
            + ": review what it changes before anything is applied (`rosterflow sync show RUN --changes`), then approve or reject it"
        let rosterSource = try rosterSource(stored: source, integrationID: integrationID)
        guard let lock else {
            let run = try await runSync(integrationID: integrationID, source: rosterSource, holdForReview: review, actor: actor)
            return ResumeOutcome(step: step, run: run)
        }
        var request = SyncRequest(integrationID: integrationID, source: rosterSource, actor: actor)
        request.holdForReview = review
        return ResumeOutcome(step: step, run: try await plannedSync(request, lock: lock))
    }

    /// The integration's pause, if it is paused with a date.
    public func pauseRecord(integrationID: String) throws -> PauseRecord? {
        try read { try $0.pause(integrationID: integrationID) }
    }

    /// Refuses a pause for an integration whose workflow version has no pauses (started before integration version 5).
    static func requirePauses(_ runtime: WorkflowRuntime, instance: InstanceRecord) throws {
        guard instance.workflow == DomainVocabulary.Integration.workflow else {
            throw RosterFlowError(.notFound, "\(instance.id) is not an integration")
        }
        let definition = try runtime.definition(for: instance)
        guard definition.states[DomainVocabulary.Integration.State.paused] != nil else {
            throw RosterFlowError(
                .refused,
                "\(instance.id) runs integration workflow version \(instance.version), which has no summer pause (it came "
                    + "with version 5); its nightly syncs keep running",
                allowedEvents: [], cause: "no-pause-in-version")
        }
    }

    /// 00:00 of `date` in `zone`, seconds since 1970.
    static func startOfDay(_ date: OneRosterDate, in zone: TimeZone) -> Double {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let components = DateComponents(year: Int(date.year), month: Int(date.month), day: Int(date.day))
        return (calendar.date(from: components) ?? Date(timeIntervalSince1970: Double(date.daysSinceEpoch) * 86_400))
            .timeIntervalSince1970
    }

    /// A due nightly sync of a paused integration: skipped without an alert while the pause lasts; once its date has
    /// come, the integration is resumed by the scheduler and the sync runs held for review. `nil` when not paused.
    func pausedDueSync(integrationID: String, now: Double, lock: SyncLockHandle) async throws -> (decision: String, run: SyncRunView?)? {
        let (state, pause) = try read { tx in (try tx.instance(id: integrationID)?.state, try tx.pause(integrationID: integrationID)) }
        guard state == DomainVocabulary.Integration.State.paused else { return nil }
        guard let pause, pause.pausedUntil <= now else { return ("paused", nil) }
        let outcome = try await resume(integrationID: integrationID, role: .system, actor: "scheduler", lock: lock)
        return (outcome.run?.decision ?? "not-run", outcome.run)
    }
}
