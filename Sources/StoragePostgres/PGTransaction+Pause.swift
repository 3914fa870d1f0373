import Foundation
import StorageCore

extension PGTransaction {
    func setPause(_ pause: PauseRecord) throws {
        try execute("""
            INSERT INTO integration_pauses (integration_id, paused_until, until_text, reason, actor, paused_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (integration_id) DO UPDATE SET paused_until = EXCLUDED.paused_until, until_text = EXCLUDED.until_text,
                reason = EXCLUDED.reason, actor = EXCLUDED.actor, paused_at = EXCLUDED.paused_at
            """, pause.integrationID, pause.pausedUntil, pause.untilText, pause.reason, pause.actor, pause.pausedAt)
    }

    func pause(integrationID: String) throws -> PauseRecord? {
        let rows = try query("""
            SELECT integration_id, paused_until, until_text, reason, actor, paused_at FROM integration_pauses
            WHERE integration_id = $1
            """, integrationID)
        guard rows.count > 0 else { return nil }
        return PauseRecord(
            integrationID: rows.text(0, 0), pausedUntil: rows.double(0, 1) ?? 0, untilText: rows.text(0, 2),
            reason: rows.string(0, 3), actor: rows.text(0, 4), pausedAt: rows.double(0, 5) ?? 0)
    }

    func clearPause(integrationID: String) throws {
        try execute("DELETE FROM integration_pauses WHERE integration_id = $1", integrationID)
    }
}
