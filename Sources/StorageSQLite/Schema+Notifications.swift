import StorageCore
import GRDB

extension Schema {
    /// Notification delivery: one row per (outbox message, channel, destination), each with its own status,
    /// attempts and claim lease, so several dispatchers can share one database without holding the same delivery.
    static func registerNotificationMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-outbox-deliveries") { db in
            try db.execute(sql: """
                CREATE TABLE outbox_deliveries (
                    id TEXT PRIMARY KEY NOT NULL,
                    outbox_id TEXT NOT NULL REFERENCES outbox (id),
                    channel TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL NOT NULL,
                    claimed_by TEXT,
                    lease_until REAL,
                    last_error TEXT,
                    last_attempt_at REAL,
                    delivered_at REAL,
                    created_at REAL NOT NULL,
                    UNIQUE (outbox_id, channel, destination)
                );
                CREATE INDEX outbox_deliveries_due ON outbox_deliveries (status, next_attempt_at);
                CREATE INDEX outbox_deliveries_by_message ON outbox_deliveries (outbox_id);
                """)
        }
        // The fan-out takes the oldest pending messages (ORDER BY created_at) and `outbox list` shows the newest: an
        // index on (status, created_at) serves both without sorting the whole backlog on every pass. A message's
        // deliveries are found through the UNIQUE (outbox_id, channel, destination) index, whose prefix is outbox_id,
        // so the separate outbox_id index only cost a B-tree insert per delivery.
        migrator.registerMigration("v4-outbox-indexes") { db in
            try db.execute(sql: """
                DROP INDEX outbox_by_status;
                CREATE INDEX outbox_by_status ON outbox (status, created_at);
                DROP INDEX outbox_deliveries_by_message;
                """)
        }
    }

    /// Notification migrations that came after the roster-history and merge ones (registered after them, in order).
    static func registerLateNotificationMigrations(_ migrator: inout DatabaseMigrator) {
        // Every delivery's id starts with its message's id and a slash (`<outbox id>/email`,
        // `<outbox id>/webhook/<subscriber>`), so the primary key alone finds a message's deliveries (an id range) and
        // is stricter than UNIQUE (outbox_id, channel, destination): the table is keyed by id (WITHOUT ROWID) and that
        // index goes. The claim looks only at pending deliveries (`status = 'pending' AND next_attempt_at <= ?`): a
        // partial index on next_attempt_at over them serves it, and a delivery that is sent, failed, dead or skipped
        // leaves it (one B-tree delete) instead of moving within (status, next_attempt_at). Each delivery so costs two
        // B-tree inserts instead of four, and its outcome one row update and one index delete.
        migrator.registerMigration("v5-outbox-deliveries-by-id") { db in
            try db.execute(sql: """
                CREATE TABLE outbox_deliveries_v5 (
                    id TEXT PRIMARY KEY NOT NULL,
                    outbox_id TEXT NOT NULL REFERENCES outbox (id),
                    channel TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'pending',
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at REAL NOT NULL,
                    claimed_by TEXT,
                    lease_until REAL,
                    last_error TEXT,
                    last_attempt_at REAL,
                    delivered_at REAL,
                    created_at REAL NOT NULL
                ) WITHOUT ROWID;
                INSERT INTO outbox_deliveries_v5 (id, outbox_id, channel, destination, status, attempts, next_attempt_at,
                    claimed_by, lease_until, last_error, last_attempt_at, delivered_at, created_at)
                SELECT id, outbox_id, channel, destination, status, attempts, next_attempt_at,
                    claimed_by, lease_until, last_error, last_attempt_at, delivered_at, created_at
                FROM outbox_deliveries;
                DROP TABLE outbox_deliveries;
                ALTER TABLE outbox_deliveries_v5 RENAME TO outbox_deliveries;
                CREATE INDEX outbox_deliveries_due_pending ON outbox_deliveries (next_attempt_at) WHERE status = 'pending';
                """)
        }
    }
}
