import StorageCore
import GRDB

extension SQLiteTransaction {
    /// The id of the integration's held sync run (the newest, if ever several), or nil.
    public func heldSyncRunID(integrationID: String) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT id FROM sync_runs WHERE integration_id = ? AND decision = 'held' ORDER BY started_at DESC, rowid DESC LIMIT 1
            """, arguments: [integrationID])
    }
}
