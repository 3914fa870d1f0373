import Foundation
import OneRoster
import OneRosterREST
import StorageCore

extension RosterFlowService {
    /// Makes the integration's nightly sync (and `sync run` without a bundle) pull from a OneRoster REST provider, and
    /// records in the audit log who changed the source from what. Only where the secret is (a variable or file name) is
    /// stored, never the secret.
    ///
    /// - Throws: ``RosterFlowError/Code/invalidInput`` for a configuration that cannot work (bad URL, 1.2 without a
    ///   token URL, no secret location); ``RosterFlowError/Code/notFound`` for an unknown integration.
    public func setRESTSyncSource(integrationID: String, config: RESTSourceConfig, actor: String = Sender.system.actor) async throws {
        do { try config.validate() } catch let error as OneRosterRESTError {
            throw RosterFlowError(.invalidInput, error.message)
        }
        try await requireIntegration(integrationID)
        let stored = config.stored
        _ = try await write { tx, now in
            let before = try tx.syncSource(integrationID: integrationID)
            try tx.setSyncSource(integrationID: integrationID, source: stored)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "integration-source", integrationID: integrationID, subject: integrationID,
                before: before.map { Self.json(["source": Self.sourceSummary($0)]) }, after: Self.json(["source": config.summary])))
        }
    }

    /// A stored sync source as an operator reads it: the bundle path, or the REST provider's summary.
    public static func sourceSummary(_ stored: String) -> String {
        RESTSourceConfig(stored: stored)?.summary ?? stored
    }

    /// The source the integration's nightly sync reads: its CSV bundle folder or .zip, or its REST provider. A REST
    /// source configured for delta pulls asks only for what changed since the start of the last run that read it
    /// successfully (applied or unchanged), less the configured overlap; without such a run it pulls everything.
    ///
    /// - Parameter progress: receives a line per page a REST pull reads.
    /// - Throws: ``RosterFlowError/Code/notFound`` for an unknown integration or one with no source configured.
    public func configuredRosterSource(integrationID: String, progress: (@Sendable (String) -> Void)? = nil) throws -> any RosterSource {
        let stored = try configuredSyncSource(integrationID: integrationID)
        return try rosterSource(stored: stored, integrationID: integrationID, progress: progress)
    }

    /// The ``RosterSource`` a stored sync source names.
    func rosterSource(stored: String, integrationID: String, progress: (@Sendable (String) -> Void)? = nil) throws -> any RosterSource {
        guard let config = RESTSourceConfig(stored: stored) else { return CSVBundleSource(path: stored) }
        var since: Date?
        if config.delta {
            let summary = config.summary
            let lastGood = try read { tx in
                try tx.syncRuns(integrationID: integrationID).first { run in
                    run.bundle == summary
                        && (SyncDecision.appliedChanges.contains(run.decision) || run.decision == .unchanged)
                }
            }
            since = lastGood.map { Date(timeIntervalSince1970: $0.startedAt - Double(config.overlapSeconds)) }
        }
        var source = RESTRosterSource(config: config, changedSince: since, progress: progress)
        // Ctrl-C or SIGTERM stops a pull at the next page, not after the last one.
        let cancellation = self.cancellation
        source.checkpoint = { try cancellation.check() }
        return source
    }
}
