import StorageCore
import GRDB

extension Schema {
    /// Merges of records whose sourcedId the SIS changed: the merges a held run proposes, and the applied ones (aliases
    /// from the old sourcedId to the new, so the old id's story continues under the new one).
    static func registerMergeMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-sourced-id-merges") { db in
            try db.execute(sql: """
                CREATE TABLE sync_merges (
                    run_id TEXT NOT NULL REFERENCES sync_runs (id),
                    entity TEXT NOT NULL,
                    old_id TEXT NOT NULL,
                    new_id TEXT NOT NULL,
                    matched_on TEXT NOT NULL,
                    value TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'proposed',
                    PRIMARY KEY (run_id, entity, old_id)
                ) WITHOUT ROWID;
                CREATE TABLE roster_aliases (
                    integration_id TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    old_id TEXT NOT NULL,
                    new_id TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    at REAL NOT NULL,
                    PRIMARY KEY (integration_id, entity, old_id)
                ) WITHOUT ROWID;
                CREATE INDEX roster_aliases_by_new_id ON roster_aliases (new_id);
                """)
        }
    }
}
