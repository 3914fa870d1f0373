import Foundation
import StorageCore

extension PGTransaction {
    func recordDigest(integrationID: String, kind: String, localDate: String, at: Double) throws -> Bool {
        // Race-safe: of two workers recording the same digest at once, the second's insert waits for the first to
        // commit, then conflicts and inserts nothing: exactly one of them is told to send it.
        try execute("""
            INSERT INTO digests_sent (integration_id, kind, local_date, sent_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT DO NOTHING
            """, integrationID, kind, localDate, at) > 0
    }
}
