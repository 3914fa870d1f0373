import StorageCore
import GRDB

extension Schema {
    /// SourcedIds are unique only inside a district: every lookup of a record by its sourcedId is keyed by the
    /// integration too. `roster_aliases` is keyed by (integration, entity, old id); finding which integrations hold an
    /// old id, or the aliases of one integration's new id, needs these indexes.
    static func registerRecordLookupMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-roster-aliases-by-id-and-integration") { db in
            try db.execute(sql: """
                CREATE INDEX roster_aliases_by_old_id ON roster_aliases (old_id, integration_id);
                CREATE INDEX roster_aliases_by_new_id_and_integration ON roster_aliases (new_id, integration_id);
                DROP INDEX roster_aliases_by_new_id;
                """)
        }
    }
}

extension Schema {
    /// Deletes the operator parked (`sync approve --without-deletes`), remembered per integration by entity and
    /// sourcedId, so that the next export omitting the same records does not hold the integration again for them.
    static func registerParkedDeleteMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-parked-deletes") { db in
            try db.execute(sql: """
                CREATE TABLE parked_deletes (
                    integration_id TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    sourced_id TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    at REAL NOT NULL,
                    PRIMARY KEY (integration_id, entity, sourced_id)
                ) WITHOUT ROWID;
                """)
        }
    }
}
