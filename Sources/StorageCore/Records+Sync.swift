import Foundation

/// One change of a stored change set, with its position in apply order.
public struct StoredChange: Sendable, Equatable {
    /// Position in the run's apply order (from 0).
    public var seq: Int
    public var change: RosterChange

    /// A record with every field given.
    public init(seq: Int, change: RosterChange) {
        self.seq = seq
        self.change = change
    }
}

/// Who holds an integration's sync lock: one sync (or approval) of an integration's roster at a time, across processes.
public struct SyncLockRecord: Sendable, Equatable, Codable {
    public var integrationID: String
    /// The holder: a process (`host:pid`) and what it runs, e.g. `host:123 run_abc`.
    public var owner: String
    /// What the holder is doing, in words: `sync run`, `sync approve run_…`, `nightly sync`.
    public var purpose: String
    public var acquiredAt: Double
    /// When the lock expires unless its holder renews it (a holder that crashed stops renewing).
    public var leaseUntil: Double

    /// A lock with every field given.
    public init(integrationID: String, owner: String, purpose: String, acquiredAt: Double, leaseUntil: Double) {
        self.integrationID = integrationID
        self.owner = owner
        self.purpose = purpose
        self.acquiredAt = acquiredAt
        self.leaseUntil = leaseUntil
    }
}
