import GRDB

extension Schema {
    /// Integrations lists page by creation time (keyset paging on `created_at, id`): an index keeps a page a range read.
    static func registerListingMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-integrations-by-creation") { db in
            try db.execute(sql: "CREATE INDEX integrations_by_creation ON integrations (created_at, id)")
        }
    }
}
