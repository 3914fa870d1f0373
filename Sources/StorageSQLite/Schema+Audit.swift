import StorageCore
import GRDB

extension Schema {
    /// The audit log: who changed what outside a workflow step (policies, sync sources, the customer registry, sync
    /// approvals and rejections, outbox retries), when, and the value before and after. Append-only, like history.
    static func registerAuditMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-audit-log") { db in
            try db.execute(sql: """
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at REAL NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    integration_id TEXT,
                    subject TEXT NOT NULL,
                    before TEXT,
                    after TEXT
                );
                CREATE INDEX audit_log_by_integration ON audit_log (integration_id, id);
                CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """)
        }
    }
}
