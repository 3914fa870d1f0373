import StorageCore
import GRDB

extension SQLiteTransaction {
    /// The integrations of one ClassLink tenant, oldest first, each with its workflow state.
    public func integrations(tenantID: String) throws -> [(integration: IntegrationRecord, state: String)] {
        try Row.fetchAll(db, sql: """
            SELECT i.id, w.state FROM integrations i JOIN workflow_instances w ON w.id = i.id
            WHERE i.tenant_id = ? ORDER BY i.created_at, i.id
            """, arguments: [tenantID]).compactMap { row in
            guard let integration = try integration(id: row[0]) else { return nil }
            return (integration, row[1])
        }
    }
}
