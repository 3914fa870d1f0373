import StorageCore
import GRDB

/// The database schema as named, append-only migrations. Never edit a migration that has shipped: add a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-workflow-instances") { db in
            try db.execute(sql: """
                CREATE TABLE workflow_definitions (
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    source TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    first_loaded_at REAL NOT NULL,
                    PRIMARY KEY (name, version)
                );
                CREATE TABLE workflow_instances (
                    id TEXT PRIMARY KEY NOT NULL,
                    workflow TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    previous_state TEXT,
                    subject_title TEXT NOT NULL,
                    row_version INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    entered_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX workflow_instances_by_state ON workflow_instances (workflow, state);
                CREATE TABLE transitions (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    instance_id TEXT NOT NULL REFERENCES workflow_instances (id),
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    event TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT NOT NULL,
                    at REAL NOT NULL,
                    reason TEXT,
                    row_version INTEGER NOT NULL
                );
                CREATE INDEX transitions_by_instance ON transitions (instance_id, seq);
                CREATE TRIGGER transitions_append_only_update BEFORE UPDATE ON transitions
                BEGIN SELECT RAISE(ABORT, 'transition history is append-only'); END;
                CREATE TRIGGER transitions_append_only_delete BEFORE DELETE ON transitions
                BEGIN SELECT RAISE(ABORT, 'transition history is append-only'); END;
                CREATE TABLE timers (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    instance_id TEXT NOT NULL REFERENCES workflow_instances (id),
                    event TEXT NOT NULL,
                    due_at REAL NOT NULL,
                    armed_at REAL NOT NULL,
                    armed_in_state TEXT NOT NULL
                );
                CREATE INDEX timers_by_due ON timers (due_at);
                CREATE INDEX timers_by_instance ON timers (instance_id);
                CREATE TABLE outbox (
                    id TEXT PRIMARY KEY NOT NULL,
                    instance_id TEXT NOT NULL,
                    transition_seq INTEGER,
                    channel TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    template TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL NOT NULL,
                    created_at REAL NOT NULL,
                    last_error TEXT
                );
                CREATE INDEX outbox_by_status ON outbox (status, next_attempt_at);
                """)
        }
        migrator.registerMigration("v1-customers-integrations-courses") { db in
            try db.execute(sql: """
                CREATE TABLE customers (
                    tenant_id TEXT PRIMARY KEY NOT NULL,
                    district TEXT NOT NULL,
                    contact_email TEXT NOT NULL,
                    imported_at REAL NOT NULL
                );
                CREATE TABLE integrations (
                    id TEXT PRIMARY KEY NOT NULL REFERENCES workflow_instances (id),
                    tenant_id TEXT NOT NULL,
                    district TEXT NOT NULL,
                    permission TEXT NOT NULL,
                    contact_email TEXT NOT NULL,
                    sync_time TEXT,
                    timezone TEXT,
                    next_sync_at REAL,
                    created_at REAL NOT NULL
                );
                CREATE INDEX integrations_by_tenant ON integrations (tenant_id);
                CREATE TABLE courses (
                    id TEXT PRIMARY KEY NOT NULL REFERENCES workflow_instances (id),
                    integration_id TEXT NOT NULL REFERENCES integrations (id),
                    sourced_id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    catalog_title TEXT,
                    base_id TEXT,
                    locked_at REAL,
                    created_at REAL NOT NULL,
                    UNIQUE (integration_id, sourced_id)
                );
                """)
        }
        Schema.registerRosterMigrations(&migrator)
        Schema.registerSyncScheduleMigrations(&migrator)
        Schema.registerNotificationMigrations(&migrator)
        Schema.registerRosterHistoryMigrations(&migrator)
        Schema.registerMergeMigrations(&migrator)
        Schema.registerSyncFingerprintMigrations(&migrator)
        Schema.registerLateNotificationMigrations(&migrator)
        Schema.registerSyncIntegrityMigrations(&migrator)
        Schema.registerRecordLookupMigrations(&migrator)
        Schema.registerParkedDeleteMigrations(&migrator)
        Schema.registerAuditMigrations(&migrator)
        Schema.registerReviewMigrations(&migrator)
        Schema.registerCatalogMigrations(&migrator)
        Schema.registerAccessMigrations(&migrator)
        Schema.registerPauseMigrations(&migrator)
        Schema.registerRolloverMigrations(&migrator)
        Schema.registerHookMigrations(&migrator)
        Schema.registerSignInMigrations(&migrator)
        Schema.registerOnDemandMigrations(&migrator)
        Schema.registerListingMigrations(&migrator)
        Schema.registerTermOfferMigrations(&migrator)
        Schema.registerClassLinkMigrations(&migrator)
        // PostgreSQL gives sync runs and outbox messages insertion-order columns (`run_order`, `message_order`) here;
        // SQLite has had them all along, the rowid, which the SQLite store orders by and `migrate-store` copies into
        // them. The same name keeps both engines' migration lists alike.
        migrator.registerMigration("v10-insertion-order") { _ in }
        // PostgreSQL keeps each integration's roster in a partition of its own from here; SQLite's one table is
        // unchanged (a massive first sync rebuilds its entities' indexes instead: `SQLiteTransaction.entityIndexRebuildThreshold`).
        migrator.registerMigration("v11-roster-partitions") { _ in }
        // The lookup indexes lead with the value looked up, then the integration: a district's first sync builds them
        // after its inserts, and with the integration id first every comparison of that sort began with the same
        // bytes (2 M enrollments: 3.1–3.3 s an index instead of 3.5–4.3 s). Lookups give both, so either order serves.
        migrator.registerMigration("v12-roster-lookups-value-first") { db in
            try db.execute(sql: """
                DROP INDEX roster_users_by_username;
                DROP INDEX roster_users_by_email;
                DROP INDEX roster_enrollments_by_class;
                DROP INDEX roster_enrollments_by_user;
                CREATE INDEX roster_users_by_username ON roster_records (ref1, integration_id) WHERE entity = 'users';
                CREATE INDEX roster_users_by_email ON roster_records (lower(ref2), integration_id) WHERE entity = 'users';
                CREATE INDEX roster_enrollments_by_class ON roster_records (ref1, integration_id) WHERE entity = 'enrollments';
                CREATE INDEX roster_enrollments_by_user ON roster_records (ref2, integration_id) WHERE entity = 'enrollments';
                """)
        }
        Schema.registerEnrollmentLookupMigrations(&migrator)
        Schema.registerChangeBlockMigrations(&migrator)
        Schema.registerHistoryAddWithDeleteMigrations(&migrator)
        Schema.registerHistorySetMigrations(&migrator)
        return migrator
    }
}
