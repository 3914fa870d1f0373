import GRDB

extension Schema {
    /// The vendor catalog (issue 13): catalog courses by base id, with versions that name their predecessor; and the daily
    /// digests sent, one per integration, kind and local date.
    static func registerCatalogMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-vendor-catalog") { db in
            try db.execute(sql: """
                CREATE TABLE catalog_courses (
                    base_id TEXT PRIMARY KEY NOT NULL,
                    title TEXT NOT NULL,
                    subject TEXT,
                    grades TEXT NOT NULL DEFAULT '',
                    status TEXT NOT NULL,
                    version INTEGER NOT NULL DEFAULT 1,
                    previous_base_id TEXT,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX courses_by_base_id ON courses (base_id);
                CREATE TABLE digests_sent (
                    integration_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    sent_at REAL NOT NULL,
                    PRIMARY KEY (integration_id, kind, local_date)
                );
                """)
        }
    }
}
