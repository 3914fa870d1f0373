import StorageCore
import GRDB

extension Schema {
    /// Tables of the OneRoster sync: the roster held per integration, sync runs, held change sets and the per-record
    /// history of every applied change.
    static func registerRosterMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-roster-sync") { db in
            try db.execute(sql: """
                CREATE TABLE roster_records (
                    integration_id TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    sourced_id TEXT NOT NULL,
                    digest INTEGER NOT NULL,
                    ref1 TEXT,
                    ref2 TEXT,
                    ref3 TEXT,
                    title TEXT,
                    run_id TEXT NOT NULL,
                    PRIMARY KEY (integration_id, entity, sourced_id)
                ) WITHOUT ROWID;
                CREATE TABLE sync_runs (
                    id TEXT PRIMARY KEY NOT NULL,
                    integration_id TEXT NOT NULL REFERENCES integrations (id),
                    bundle TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    finished_at REAL,
                    decision TEXT NOT NULL,
                    reasons TEXT NOT NULL,
                    counts TEXT NOT NULL,
                    report TEXT NOT NULL,
                    based_on_run TEXT
                );
                CREATE INDEX sync_runs_by_integration ON sync_runs (integration_id, started_at);
                CREATE TABLE sync_changes (
                    run_id TEXT NOT NULL REFERENCES sync_runs (id),
                    seq INTEGER NOT NULL,
                    entity TEXT NOT NULL,
                    op TEXT NOT NULL,
                    sourced_id TEXT NOT NULL,
                    digest INTEGER,
                    ref1 TEXT,
                    ref2 TEXT,
                    ref3 TEXT,
                    title TEXT,
                    parked INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (run_id, seq)
                ) WITHOUT ROWID;
                CREATE TABLE roster_history (
                    sourced_id TEXT NOT NULL,
                    integration_id TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    op TEXT NOT NULL,
                    digest INTEGER,
                    title TEXT,
                    at REAL NOT NULL,
                    PRIMARY KEY (sourced_id, integration_id, entity, run_id)
                ) WITHOUT ROWID;
                """)
        }
    }
}

extension Schema {
    /// Where each integration's nightly bundle comes from, and the state of its schedule.
    static func registerSyncScheduleMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-sync-schedule") { db in
            try db.execute(sql: """
                ALTER TABLE integrations ADD COLUMN sync_source TEXT;
                ALTER TABLE integrations ADD COLUMN last_sync_run TEXT;
                ALTER TABLE integrations ADD COLUMN sync_policy TEXT;
                """)
        }
    }
}

extension Schema {
    /// A record's add is not written to `roster_history` when it is applied: the held record itself says it
    /// (`run_id` is the run that added it, `add_logged = 0`), and `roster history` reads it from there. The add row is
    /// written out when the record is first updated or deleted, before the row that tells it. Records held before this
    /// migration have their add in the history already (`add_logged = 1`).
    static func registerRosterHistoryMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-roster-add-in-record") { db in
            try db.execute(sql: "ALTER TABLE roster_records ADD COLUMN add_logged INTEGER NOT NULL DEFAULT 1")
        }
    }

    /// Deletes applied as a set (a rollover's millions) write one history row per record: the delete, carrying in
    /// `added_run` and `added_at` the add its held record kept (`add_logged = 0`), where one by one writes the add row
    /// and then the delete row. NULL when the add has a row of its own (or the record had none to tell).
    static func registerHistoryAddWithDeleteMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v15-history-add-with-delete") { db in
            try db.execute(sql: """
                ALTER TABLE roster_history ADD COLUMN added_run TEXT;
                ALTER TABLE roster_history ADD COLUMN added_at REAL;
                """)
        }
    }
}

extension Schema {
    /// What a sync run was computed from: the bundle's SHA-256 and the policy, so that a byte-identical bundle under
    /// the same policy can be recognised and its validation reused.
    static func registerSyncFingerprintMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-sync-run-fingerprints") { db in
            try db.execute(sql: """
                ALTER TABLE sync_runs ADD COLUMN bundle_sha256 TEXT;
                ALTER TABLE sync_runs ADD COLUMN policy TEXT;
                """)
        }
    }

    /// A long run of one entity's deletes, applied as a range of held records (a rollover ends millions), is told by
    /// one row of `roster_history_sets` per up to ``ChangeBlocks/capacity`` records instead of a `roster_history` row
    /// each: the deletes' sourcedIds, digests and titles in a ``ChangeBlocks`` block, the key range they span (how a
    /// record's history finds them), and the run that added every one of them when their add was kept in the records.
    static func registerHistorySetMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v16-history-sets") { db in
            try db.execute(sql: """
                CREATE TABLE roster_history_sets (
                    integration_id TEXT NOT NULL,
                    entity TEXT NOT NULL,
                    run_id TEXT NOT NULL,
                    first_key TEXT NOT NULL,
                    last_key TEXT NOT NULL,
                    at REAL NOT NULL,
                    added_run TEXT,
                    added_at REAL,
                    count INTEGER NOT NULL,
                    changes BLOB NOT NULL,
                    UNIQUE (integration_id, entity, run_id, first_key)
                );
                CREATE INDEX roster_history_sets_by_last_key ON roster_history_sets (integration_id, entity, last_key);
                """)
        }
    }
}
