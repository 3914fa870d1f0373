import StorageCore
import GRDB

extension SQLiteTransaction {
    /// Takes the integration's sync lock for `owner` until `leaseUntil`, unless someone else holds a lock whose lease
    /// has not run out at `now`: then nothing changes and that lock is returned. An expired lock is taken over.
    public func acquireSyncLock(
        integrationID: String, owner: String, purpose: String, now: Double, leaseUntil: Double
    ) throws -> SyncLockRecord? {
        if let held = try syncLock(integrationID: integrationID), held.owner != owner, held.leaseUntil > now {
            return held
        }
        try db.execute(sql: """
            INSERT INTO sync_locks (integration_id, owner, purpose, acquired_at, lease_until) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (integration_id) DO UPDATE SET
                owner = excluded.owner, purpose = excluded.purpose, acquired_at = excluded.acquired_at,
                lease_until = excluded.lease_until
            """, arguments: [integrationID, owner, purpose, now, leaseUntil])
        return nil
    }

    /// Extends `owner`'s lease; false when `owner` no longer holds the lock (it expired and was taken over).
    public func renewSyncLock(integrationID: String, owner: String, leaseUntil: Double) throws -> Bool {
        try db.execute(sql: "UPDATE sync_locks SET lease_until = ? WHERE integration_id = ? AND owner = ?",
                       arguments: [leaseUntil, integrationID, owner])
        return db.changesCount == 1
    }

    /// Whether `owner` holds the integration's lock (whatever its lease says: a holder checks before it commits).
    public func holdsSyncLock(integrationID: String, owner: String) throws -> Bool {
        try syncLock(integrationID: integrationID)?.owner == owner
    }

    /// Releases `owner`'s lock; a lock someone else took over is left alone.
    public func releaseSyncLock(integrationID: String, owner: String) throws {
        try db.execute(sql: "DELETE FROM sync_locks WHERE integration_id = ? AND owner = ?", arguments: [integrationID, owner])
    }

    /// The integration's sync lock, expired or not; nil when nobody holds it.
    public func syncLock(integrationID: String) throws -> SyncLockRecord? {
        try Row.fetchOne(db, sql: """
            SELECT integration_id, owner, purpose, acquired_at, lease_until FROM sync_locks WHERE integration_id = ?
            """, arguments: [integrationID]).map {
            SyncLockRecord(integrationID: $0[0], owner: $0[1], purpose: $0[2], acquiredAt: $0[3], leaseUntil: $0[4])
        }
    }

    /// The version of the integration's held roster: it changes with every transaction that changes the roster.
    public func rosterVersion(integrationID: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT roster_version FROM integrations WHERE id = ?", arguments: [integrationID]) ?? 0
    }

    /// Marks the integration's held roster as changed (call once in each transaction that changes it).
    public func bumpRosterVersion(integrationID: String) throws {
        try db.execute(sql: "UPDATE integrations SET roster_version = roster_version + 1 WHERE id = ?", arguments: [integrationID])
    }

    /// Runs of the integration started after `runID` that read a newer export and were applied or found unchanged:
    /// a held run older than any of them is stale, whatever the roster version says.
    public func acceptedRuns(integrationID: String, after runID: String) throws -> [String] {
        try String.fetchAll(db, sql: """
            SELECT id FROM sync_runs
            WHERE integration_id = ? AND rowid > (SELECT rowid FROM sync_runs WHERE id = ?)
                AND decision IN \(SyncDecision.sqlList([.applied, .unchanged, .approved, .approvedWithoutDeletes]))
            ORDER BY rowid
            """, arguments: [integrationID, runID])
    }

    /// The integration's held runs (waiting for approve or reject), oldest first.
    public func heldSyncRuns(integrationID: String) throws -> [SyncRunRecord] {
        try syncRuns(integrationID: integrationID).filter { $0.decision == .held }.reversed()
    }
}
