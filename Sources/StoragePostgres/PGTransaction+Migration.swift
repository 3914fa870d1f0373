import Foundation
import StorageCore

extension PGTransaction {
    @discardableResult
    func migrateInstance(
        id: String, expectedRowVersion: Int, fromVersion: Int, toVersion: Int, state: String, previousState: String?,
        now: Double
    ) throws -> Int {
        // Race-safe like ``updateInstance``: the UPDATE checks the row and definition versions itself, so a concurrent
        // transition (or another migration) makes this one change nothing and report the instance stale.
        let changed = try execute("""
            UPDATE workflow_instances
            SET version = $1, state = $2, previous_state = $3, updated_at = $4, row_version = row_version + 1
            WHERE id = $5 AND row_version = $6 AND version = $7
            """, toVersion, state, previousState, now, id, expectedRowVersion, fromVersion)
        guard changed == 1 else {
            throw StorageError.staleMigration(
                id: id, expectedRowVersion: expectedRowVersion, fromVersion: fromVersion, current: try instance(id: id))
        }
        return expectedRowVersion + 1
    }

    func instanceVersionCounts() throws -> [InstanceVersionCount] {
        let rows = try query("""
            SELECT workflow, version, COUNT(*) FROM workflow_instances GROUP BY workflow, version ORDER BY workflow, version
            """)
        return (0..<rows.count).map {
            InstanceVersionCount(workflow: rows.text($0, 0), version: rows.int($0, 1) ?? 0, instances: rows.int($0, 2) ?? 0)
        }
    }
}
