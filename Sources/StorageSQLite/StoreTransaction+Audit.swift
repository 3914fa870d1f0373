import StorageCore
import GRDB

extension SQLiteTransaction {
    /// Appends `record` to the audit log, in this transaction (so the change and its record commit together).
    public func insertAudit(_ record: AuditRecord) throws {
        try db.execute(sql: """
            INSERT INTO audit_log (at, actor, action, integration_id, subject, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.at, record.actor, record.action, record.integrationID, record.subject, record.before,
                             record.after])
    }

    /// The audit log, oldest first; only the changes of `integrationID` when given. `limit` keeps the newest rows.
    public func auditRecords(integrationID: String? = nil, limit: Int = 10_000) throws -> [AuditRecord] {
        let filter = integrationID == nil ? "" : " WHERE integration_id = ?"
        var arguments: StatementArguments = []
        if let integrationID { arguments += [integrationID] }
        arguments += [limit]
        return try Row.fetchAll(db, sql: """
            SELECT * FROM (SELECT id, at, actor, action, integration_id, subject, before, after FROM audit_log\(filter)
                ORDER BY id DESC LIMIT ?) ORDER BY id
            """, arguments: arguments).map { row in
            AuditRecord(
                id: row["id"], at: row["at"], actor: row["actor"], action: row["action"], integrationID: row["integration_id"],
                subject: row["subject"], before: row["before"], after: row["after"])
        }
    }
}
