import Foundation
import StorageCore

extension RosterFlowService {
    /// How long a sync lock lasts unless its holder renews it: a holder that crashed loses it this long after its last
    /// renewal.
    public static let syncLockLease: Double = 120
    /// How often a live holder renews its lease.
    static let syncLockRenewal: Double = 20

    /// Runs `body` holding the integration's sync lock, so that no other process syncs or approves the same
    /// integration's roster meanwhile. The lock is a row (owner, purpose, start, lease), renewed while `body` runs and
    /// released when it ends, however it ends.
    ///
    /// - Throws: ``RosterFlowError/Code/busy`` naming the holder when another process holds a live lock;
    ///   ``RosterFlowError/Code/notFound`` for an unknown integration.
    func withSyncLock<T: Sendable>(
        integrationID: String, purpose: String, _ body: (_ lock: SyncLockHandle) async throws -> T
    ) async throws -> T {
        // Without a condition the body always runs, so there is always a result.
        try await withSyncLock(integrationID: integrationID, purpose: purpose, onlyIf: { _ in true }, body)!
    }

    /// ``withSyncLock(integrationID:purpose:_:)`` that takes the lock only when `condition` holds in the transaction
    /// that takes it, and otherwise returns `nil` without running `body`. A nightly sync asks "is it still due?" there:
    /// a second worker that read the same due list gets the lock only after the first moved the schedule on, and so
    /// never runs the same night's sync again.
    func withSyncLock<T: Sendable>(
        integrationID: String, purpose: String, onlyIf condition: @escaping @Sendable (any StoreTransaction) throws -> Bool,
        _ body: (_ lock: SyncLockHandle) async throws -> T
    ) async throws -> T? {
        let lock = SyncLockHandle(
            integrationID: integrationID,
            owner: "\(ProcessInfo.processInfo.hostName):\(getpid()):\(Identifier.make(prefix: "lock"))")
        let lease = Self.syncLockLease
        let taken = try await write { tx, now -> (district: String, holder: SyncLockRecord?)? in
            guard let integration = try tx.integration(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
            }
            let holder = try tx.acquireSyncLock(
                integrationID: integrationID, owner: lock.owner, purpose: purpose, now: now, leaseUntil: now + lease)
            // Asked once the lock is ours, not before: on PostgreSQL each statement reads what was committed when it
            // began, and a previous holder commits its work before it lets the lock go.
            if holder == nil, try !condition(tx) {
                try tx.releaseSyncLock(integrationID: integrationID, owner: lock.owner)
                return nil
            }
            return (integration.district, holder)
        }
        guard let taken else { return nil }
        if let held = taken.holder {
            let district = taken.district
            throw RosterFlowError(
                .busy,
                "\(district) (\(integrationID)) is already being synced: \(held.purpose) by \(held.owner.split(separator: ":").prefix(2).joined(separator: ":")) "
                    + "since \(Timestamp.iso(held.acquiredAt)); nothing was done. Try again when it finishes "
                    + "(if that process died, its lock expires at \(Timestamp.iso(held.leaseUntil)))",
                cause: "sync-locked")
        }
        let renewer = LeaseRenewer(store: store, lock: lock, clock: clock, lease: lease, every: Self.syncLockRenewal)
        defer { renewer.stop() }
        do {
            let result = try await body(lock)
            renewer.stop()
            if !lock.isReleased { try? await release(lock) }
            return result
        } catch {
            renewer.stop()
            if !lock.isReleased { try? await release(lock) }
            throw error
        }
    }

    private func release(_ lock: SyncLockHandle) async throws {
        _ = try await write { tx, _ in try tx.releaseSyncLock(integrationID: lock.integrationID, owner: lock.owner) }
    }
}

/// The sync lock a caller holds: checked inside the transaction that applies, so that a holder whose lease ran out
/// and was taken over can never apply.
struct SyncLockHandle: Sendable {
    let integrationID: String
    let owner: String
    private let released = ReleaseMark()

    /// Lets the lock go inside `tx`, the transaction that ends the locked work (call it last there, and
    /// ``markReleased()`` once that transaction committed): the lock goes with the work's commit, with no commit of its
    /// own after it, and nobody can take the lock between the two.
    func release(in tx: any StoreTransaction) throws {
        try tx.releaseSyncLock(integrationID: integrationID, owner: owner)
    }

    /// Records that the transaction that called ``release(in:)`` committed.
    func markReleased() { released.set() }

    /// Whether the lock went with the locked work's last transaction.
    var isReleased: Bool { released.isSet }

    /// Throws unless this lock is still held by its owner (call inside the applying transaction).
    func verify(_ tx: any StoreTransaction) throws {
        guard try tx.holdsSyncLock(integrationID: integrationID, owner: owner) else {
            throw RosterFlowError(
                .conflict,
                "this process lost the sync lock of \(integrationID) (it stalled past its lease and another sync took over); "
                    + "nothing was applied: run it again", cause: "sync-lock-lost")
        }
    }
}

/// Renews a sync lock's lease on a thread of its own until stopped.
private final class LeaseRenewer: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false

    init(store: any RosterFlowStore, lock: SyncLockHandle, clock: @escaping @Sendable () -> Double, lease: Double, every interval: Double) {
        let thread = Thread { [self] in
            while true {
                condition.lock()
                if !stopped { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
                let done = stopped
                condition.unlock()
                if done { return }
                // A failed renewal is not fatal here: the applying transaction checks that the lock is still ours.
                _ = try? store.writeNow { tx in
                    try tx.renewSyncLock(integrationID: lock.integrationID, owner: lock.owner, leaseUntil: clock() + lease)
                }
            }
        }
        thread.name = "rosterflow.sync-lock"
        thread.start()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Set once a sync lock went with the locked work's last transaction.
private final class ReleaseMark: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
