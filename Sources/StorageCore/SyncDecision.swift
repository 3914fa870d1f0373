/// What became of a sync run, as stored in `sync_runs.decision` and printed by `sync show|list`.
public enum SyncDecision: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The changes were applied.
    case applied
    /// The export changed nothing.
    case unchanged
    /// A safeguard tripped: the run waits for `sync approve` or `sync reject`, with the integration on hold.
    case held
    /// The bundle could not be read or has errors: nothing was applied.
    case rejected
    /// Planned only (`--dry-run`): nothing was applied.
    case dryRun = "dry-run"
    /// A held run, approved: its changes were applied.
    case approved
    /// A held run, approved without its deletes (they were parked).
    case approvedWithoutDeletes = "approved-without-deletes"
    /// A held run, rejected: nothing of it was applied.
    case dropped
    /// A held run a newer run replaced before anyone decided.
    case superseded

    /// Decisions whose changes reached the integration's roster.
    public static let appliedChanges: [SyncDecision] = [.applied, .approved, .approvedWithoutDeletes]

    /// The decision stored as `text`; a decision this version does not know (written by a newer one) reads as
    /// ``rejected``, so nothing is taken as applied or approved that was not.
    public init(stored text: String) {
        self = SyncDecision(rawValue: text) ?? .rejected
    }
}

extension SyncDecision {
    /// The stored text, also in messages and output (`dry-run`).
    public var description: String { rawValue }
}
