import Foundation
import StorageCore
import WorkflowEngine

/// What happened to one due nightly sync.
public struct ScheduledSyncOutcome: Sendable, Codable, Equatable {
    public var integrationID: String
    /// The instant the sync was due (ISO 8601, UTC).
    public var dueAt: String
    /// The sync run, when one ran.
    public var runID: String?
    /// `applied`, `unchanged`, `held`, `rejected`, `not-run`, `busy` (another process is running it),
    /// `done-elsewhere` (another process ran it since this one read the due list), or `paused` (skipped: the
    /// integration is paused until a later date).
    public var decision: String
    /// Set when the school's OneRoster admin was alerted (late, failed, or no source).
    public var alert: String?
    /// The next due instant (ISO 8601, UTC).
    public var nextSyncAt: String
}

extension RosterFlowService {
    /// How late a sync may start after its time before the district is alerted.
    public static let missedSyncGrace: Double = 2 * 3_600

    /// Sets the folder or .zip the integration's nightly sync reads, and records in the audit log who changed it from what.
    public func setSyncSource(integrationID: String, source: String, actor: String = Sender.system.actor) async throws {
        guard FileManager.default.fileExists(atPath: source) else {
            throw RosterFlowError(.invalidInput, "\(source) does not exist; give a bundle folder or .zip the worker can read")
        }
        try await requireIntegration(integrationID)
        _ = try await write { tx, now in
            let before = try tx.syncSource(integrationID: integrationID)
            try tx.setSyncSource(integrationID: integrationID, source: source)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "integration-source", integrationID: integrationID, subject: integrationID,
                before: before.map { Self.json(["source": $0]) }, after: Self.json(["source": source])))
        }
    }

    /// The folder or .zip the integration's nightly sync reads.
    ///
    /// - Throws: ``RosterFlowError/Code/notFound`` for an unknown integration or one with no source configured.
    public func configuredSyncSource(integrationID: String) throws -> String {
        let (integration, source) = try read { tx in (try tx.integration(id: integrationID), try tx.syncSource(integrationID: integrationID)) }
        guard integration != nil else {
            throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
        }
        guard let source else {
            throw RosterFlowError(
                .notFound, "\(integrationID) has no sync source configured: give --bundle PATH, or set one with "
                    + "`rosterflow integrations source \(integrationID) --bundle PATH`")
        }
        return source
    }

    /// Runs every nightly sync that is due, once each, and moves each schedule to its next local time.
    ///
    /// The next instant is computed from the school's local time in its IANA zone after the later of the due time
    /// and now, so a sync runs once per local day across daylight-saving changes and a worker that was down runs
    /// one catch-up sync, not one per missed night. A sync that starts more than ``missedSyncGrace`` after its time,
    /// did not succeed, or has no source raises an alert for the district (an outbox message). A ``cancellation``
    /// request stops here, leaving the interrupted sync due.
    ///
    /// Several workers may read the same due list: each due sync is run under the integration's sync lock, taken only
    /// while the sync is still due, and its schedule is moved on before the lock is let go. So a sync another process
    /// is running is left to it (`busy`), and one another process has just run is not run again (`done-elsewhere`).
    /// Only a process that dies mid-sync leaves it due, for another to run once the dead one's lock has expired.
    public func runDueSyncs() async throws -> [ScheduledSyncOutcome] {
        let now = clock()
        return try await runDueSyncs(try read { try $0.dueSyncs(now: now) }, now: now)
    }

    /// ``runDueSyncs()`` of a due list read at `now` (by this process or, in tests, one that read it a while ago).
    func runDueSyncs(_ due: [DueSync], now: Double) async throws -> [ScheduledSyncOutcome] {
        var outcomes: [ScheduledSyncOutcome] = []
        for item in due {
            try cancellation.check()
            let integrationID = item.integrationID
            do {
                let outcome = try await withSyncLock(
                    integrationID: integrationID, purpose: "nightly sync due \(Timestamp.iso(item.dueAt))",
                    onlyIf: { tx in try tx.integration(id: integrationID)?.nextSyncAt.map { $0 <= now } ?? false }
                ) { lock in
                    try await runDueSync(item, now: now, lock: lock)
                }
                if let outcome {
                    outcomes.append(outcome)
                } else {
                    let next = try read { try $0.integration(id: integrationID)?.nextSyncAt } ?? item.dueAt
                    outcomes.append(ScheduledSyncOutcome(
                        integrationID: integrationID, dueAt: Timestamp.iso(item.dueAt), runID: nil, decision: "done-elsewhere",
                        alert: nil, nextSyncAt: Timestamp.iso(next)))
                }
            } catch let error as RosterFlowError where error.code == .busy || error.cause == "sync-lock-lost" {
                // Another process is running this sync (or syncing this integration by hand, or took the lock over from
                // this one after it stalled): it moves the schedule on, or the sync is still due next time.
                outcomes.append(ScheduledSyncOutcome(
                    integrationID: integrationID, dueAt: Timestamp.iso(item.dueAt), runID: nil, decision: "busy",
                    alert: nil, nextSyncAt: Timestamp.iso(item.dueAt)))
            }
        }
        return outcomes
    }

    /// Runs one due nightly sync while holding the integration's sync lock, and moves its schedule on (raising the
    /// missed-sync alert if there is one) in a transaction that checks the lock is still held.
    private func runDueSync(_ item: DueSync, now: Double, lock: SyncLockHandle) async throws -> ScheduledSyncOutcome {
        let schedule = try SyncSchedule(time: item.syncTime, timezone: item.timezone)
        let next = schedule.nextRun(after: Date(timeIntervalSince1970: max(now, item.dueAt))).timeIntervalSince1970
        // Paused (the summer break): skipped without an alert; on its date, resumed with a sync held for review.
        if let paused = try await pausedDueSync(integrationID: item.integrationID, now: now, lock: lock) {
            try await write { tx, _ in
                try lock.verify(tx)
                try tx.advanceSchedule(integrationID: item.integrationID, nextSyncAt: next, lastRun: paused.run?.id)
            }
            return ScheduledSyncOutcome(
                integrationID: item.integrationID, dueAt: Timestamp.iso(item.dueAt), runID: paused.run?.id,
                decision: paused.decision, alert: nil, nextSyncAt: Timestamp.iso(next))
        }
        var alerts: [String] = []
        if now - item.dueAt > Self.missedSyncGrace {
            alerts.append("the sync due \(Timestamp.iso(item.dueAt)) started \(Int((now - item.dueAt) / 60)) minutes late")
        }
        var runID: String?
        var decision = "not-run"
        if let source = item.source {
            do {
                let request = SyncRequest(
                    integrationID: item.integrationID, source: try rosterSource(stored: source, integrationID: item.integrationID),
                    actor: "scheduler")
                let run = try await plannedSync(request, lock: lock)
                runID = run.id
                decision = run.decision
                if run.decision == SyncDecision.rejected.rawValue {
                    alerts.append("the sync was rejected: " + run.reasons.joined(separator: "; "))
                }
            } catch let error as RosterFlowError
                        where error.code != .cancelled && error.code != .busy && error.cause != "sync-lock-lost" {
                alerts.append("the sync could not run: \(error.message)")
            }
        } else {
            alerts.append("no bundle source is configured (rosterflow integrations source ID --bundle PATH)")
        }
        let alert = alerts.isEmpty ? nil : alerts.joined(separator: "; ")
        let runtime = self.runtime
        let lastRun = runID
        try await write { tx, now in
            try lock.verify(tx)
            try tx.advanceSchedule(integrationID: item.integrationID, nextSyncAt: next, lastRun: lastRun)
            if let alert, let instance = try tx.instance(id: item.integrationID) {
                try runtime.rules.enqueue(
                    template: "missed-sync", recipient: "school_contact", tx: tx, instance: instance, reason: alert, now: now)
            }
        }
        return ScheduledSyncOutcome(
            integrationID: item.integrationID, dueAt: Timestamp.iso(item.dueAt), runID: runID, decision: decision,
            alert: alert, nextSyncAt: Timestamp.iso(next))
    }
}
