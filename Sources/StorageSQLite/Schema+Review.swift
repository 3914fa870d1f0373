import StorageCore
import GRDB

extension Schema {
    /// Field digests, so that a held run's review can say which fields an update changes: a vector of 16-bit digests
    /// (one per field) with each held record and each stored change, and which fields each stored update changes (a bit
    /// mask over the entity's fields). Records held before this migration have none (NULL): their updates say the changed fields are unknown.
    static func registerReviewMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-roster-field-digests") { db in
            try db.execute(sql: """
                ALTER TABLE roster_records ADD COLUMN fields BLOB;
                ALTER TABLE sync_changes ADD COLUMN fields BLOB;
                ALTER TABLE sync_changes ADD COLUMN changed INTEGER;
                """)
        }
    }
}
