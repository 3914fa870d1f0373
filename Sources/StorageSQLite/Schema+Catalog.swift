import GRDB

extension Schema {
    /// The vendor catalog (issue 13): catalog courses by base id, with versions that name their predecessor.
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
                """)
        }
    }
}
