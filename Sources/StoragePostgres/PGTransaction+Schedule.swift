import Foundation
import StorageCore

extension PGTransaction {
    func setSyncSource(integrationID: String, source: String) throws {
        try execute("UPDATE integrations SET sync_source = $1 WHERE id = $2", source, integrationID)
    }

    func syncPolicyJSON(integrationID: String) throws -> String? {
        let rows = try query("SELECT sync_policy FROM integrations WHERE id = $1", integrationID)
        return rows.count == 0 ? nil : rows.string(0, 0)
    }

    func setSyncPolicyJSON(integrationID: String, json: String) throws {
        try execute("UPDATE integrations SET sync_policy = $1 WHERE id = $2", json, integrationID)
    }

    func syncSource(integrationID: String) throws -> String? {
        let rows = try query("SELECT sync_source FROM integrations WHERE id = $1", integrationID)
        return rows.count == 0 ? nil : rows.string(0, 0)
    }

    func dueSyncs(now: Double) throws -> [DueSync] {
        // Earliest due first; integrations due at the same instant in creation order (what SQLite's rowid order gives).
        let rows = try query("""
            SELECT id, sync_time, timezone, next_sync_at, sync_source FROM integrations
            WHERE next_sync_at IS NOT NULL AND next_sync_at <= $1 ORDER BY next_sync_at, created_at, id
            """, now)
        return (0..<rows.count).map {
            DueSync(
                integrationID: rows.text($0, 0), syncTime: rows.text($0, 1), timezone: rows.text($0, 2),
                dueAt: rows.double($0, 3) ?? 0, source: rows.string($0, 4))
        }
    }

    func advanceSchedule(integrationID: String, nextSyncAt: Double, lastRun: String?) throws {
        try execute(
            "UPDATE integrations SET next_sync_at = $1, last_sync_run = COALESCE($2, last_sync_run) WHERE id = $3",
            nextSyncAt, lastRun, integrationID)
    }

    func updateSchedule(integrationID: String, syncTime: String, timezone: String, nextSyncAt: Double) throws {
        try execute(
            "UPDATE integrations SET sync_time = $1, timezone = $2, next_sync_at = $3 WHERE id = $4",
            syncTime, timezone, nextSyncAt, integrationID)
    }
}
