import GRDB
import StorageCore

extension SQLiteTransaction {
    /// Moves an instance to `toVersion` and `state` if it still runs `fromVersion` at `expectedRowVersion`.
    @discardableResult
    public func migrateInstance(
        id: String, expectedRowVersion: Int, fromVersion: Int, toVersion: Int, state: String, previousState: String?,
        now: Double
    ) throws -> Int {
        try db.execute(sql: """
            UPDATE workflow_instances
            SET version = ?, state = ?, previous_state = ?, updated_at = ?, row_version = row_version + 1
            WHERE id = ? AND row_version = ? AND version = ?
            """, arguments: [toVersion, state, previousState, now, id, expectedRowVersion, fromVersion])
        guard db.changesCount == 1 else {
            throw StorageError.staleMigration(
                id: id, expectedRowVersion: expectedRowVersion, fromVersion: fromVersion, current: try instance(id: id))
        }
        return expectedRowVersion + 1
    }

    /// How many instances run each version of each workflow, by workflow then version.
    public func instanceVersionCounts() throws -> [InstanceVersionCount] {
        try Row.fetchAll(db, sql: """
            SELECT workflow, version, COUNT(*) FROM workflow_instances GROUP BY workflow, version ORDER BY workflow, version
            """).map { InstanceVersionCount(workflow: $0[0], version: $0[1], instances: $0[2]) }
    }
}
