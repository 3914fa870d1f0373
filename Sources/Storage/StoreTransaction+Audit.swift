import GRDB

/// One change recorded in the audit log.
public struct AuditRecord: Sendable, Codable, Equatable {
    /// The row's sequence number (0 before it is written).
    public var id: Int64
    /// Seconds since 1970 (UTC).
    public var at: Double
    /// Who made the change (`--actor`, e.g. `cli:ana`).
    public var actor: String
    /// What was done: `integration-policy`, `integration-source`, `customer-import`, `sync-approve`, `sync-reject`,
    /// `outbox-retry`.
    public var action: String
    /// The integration the change concerns, when there is one.
    public var integrationID: String?
    /// The changed thing: an integration id, a tenant id, a sync run id or an outbox message (or delivery) id.
    public var subject: String
    /// The value before the change (JSON text, or nil when there was none).
    public var before: String?
    /// The value after the change (JSON text, or nil when it was removed).
    public var after: String?

    /// A record with every field given; `id` is assigned when it is written.
    public init(
        id: Int64 = 0, at: Double, actor: String, action: String, integrationID: String?, subject: String,
        before: String?, after: String?
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.integrationID = integrationID
        self.subject = subject
        self.before = before
        self.after = after
    }
}

extension StoreTransaction {
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
