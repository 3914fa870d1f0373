import StorageCore
import GRDB

extension SQLiteTransaction {
    /// Records (or replaces) an integration's pause.
    public func setPause(_ pause: PauseRecord) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO integration_pauses (integration_id, paused_until, until_text, reason, actor, paused_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [pause.integrationID, pause.pausedUntil, pause.untilText, pause.reason, pause.actor, pause.pausedAt])
    }

    /// The integration's pause, if it is paused.
    public func pause(integrationID: String) throws -> PauseRecord? {
        try Row.fetchOne(db, sql: """
            SELECT integration_id, paused_until, until_text, reason, actor, paused_at FROM integration_pauses WHERE integration_id = ?
            """, arguments: [integrationID]).map {
            PauseRecord(integrationID: $0[0], pausedUntil: $0[1], untilText: $0[2], reason: $0[3], actor: $0[4], pausedAt: $0[5])
        }
    }

    /// Ends an integration's pause (on resume).
    public func clearPause(integrationID: String) throws {
        try db.execute(sql: "DELETE FROM integration_pauses WHERE integration_id = ?", arguments: [integrationID])
    }
}
