import GRDB

extension Schema {
    /// Summer pauses: until when an integration's nightly syncs are skipped, why, and who paused it. The pause and the
    /// resume themselves are workflow events with history (`pause`, `resume`); this row is what the scheduler reads.
    static func registerPauseMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-integration-pauses") { db in
            try db.execute(sql: """
                CREATE TABLE integration_pauses (
                    integration_id TEXT PRIMARY KEY NOT NULL REFERENCES integrations (id),
                    paused_until REAL NOT NULL,
                    until_text TEXT NOT NULL,
                    reason TEXT,
                    actor TEXT NOT NULL,
                    paused_at REAL NOT NULL
                );
                """)
        }
    }
}
