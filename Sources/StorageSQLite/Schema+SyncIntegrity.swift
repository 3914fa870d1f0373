import StorageCore
import GRDB

extension Schema {
    /// One sync per integration at a time, and held runs as proposals against a roster version.
    ///
    /// - `sync_locks`: the integration whose roster a process is syncing or approving, by whom, since when, and until
    ///   when its lease runs (a crashed holder's lock expires; a live holder renews it).
    /// - `integrations.roster_version`: bumped by every transaction that changes the integration's held roster.
    /// - `sync_runs.base_roster_version`: the roster version a run was planned on; a held run can only be approved on
    ///   that same version.
    static func registerSyncIntegrityMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-sync-locks-and-roster-versions") { db in
            try db.execute(sql: """
                CREATE TABLE sync_locks (
                    integration_id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    acquired_at REAL NOT NULL,
                    lease_until REAL NOT NULL
                );
                ALTER TABLE integrations ADD COLUMN roster_version INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE sync_runs ADD COLUMN base_roster_version INTEGER;
                """)
        }
    }
}
