import Foundation
import StorageCore

extension PGTransaction {
    func insertAudit(_ record: AuditRecord) throws {
        try execute("""
            INSERT INTO audit_log (at, actor, action, integration_id, subject, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, record.at, record.actor, record.action, record.integrationID, record.subject, record.before, record.after)
    }

    func auditRecords(integrationID: String?, limit: Int) throws -> [AuditRecord] {
        // The newest `limit` rows (by the identity column, the order they were appended in), shown oldest first.
        let columns = "id, at, actor, action, integration_id, subject, before, after"
        let rows: PGRows
        if let integrationID {
            rows = try query("""
                SELECT * FROM (SELECT \(columns) FROM audit_log WHERE integration_id = $1 ORDER BY id DESC LIMIT $2) newest
                ORDER BY id
                """, integrationID, limit)
        } else {
            rows = try query("""
                SELECT * FROM (SELECT \(columns) FROM audit_log ORDER BY id DESC LIMIT $1) newest ORDER BY id
                """, limit)
        }
        return (0..<rows.count).map {
            AuditRecord(
                id: rows.int64($0, 0) ?? 0, at: rows.double($0, 1) ?? 0, actor: rows.text($0, 2), action: rows.text($0, 3),
                integrationID: rows.string($0, 4), subject: rows.text($0, 5), before: rows.string($0, 6),
                after: rows.string($0, 7))
        }
    }
}
