import GRDB

extension Schema {
    /// Inbound hooks: their senders (name, signing secret kept as is because an HMAC is verified with the key itself,
    /// the secret before the last rotation and until when it is still accepted, the districts they may act on), and the
    /// hooks applied, by sender and `webhook-id`, with the answer given (a redelivery gets it again).
    static func registerHookMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-hook-senders-deliveries") { db in
            try db.execute(sql: """
                CREATE TABLE hook_senders (
                    name TEXT PRIMARY KEY NOT NULL,
                    secret TEXT NOT NULL,
                    previous_secret TEXT,
                    previous_valid_until REAL,
                    districts TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    rotated_at REAL,
                    disabled_at REAL
                );
                CREATE TABLE hook_deliveries (
                    sender TEXT NOT NULL,
                    webhook_id TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    body BLOB NOT NULL,
                    received_at REAL NOT NULL,
                    PRIMARY KEY (sender, webhook_id)
                ) WITHOUT ROWID;
                CREATE INDEX hook_deliveries_by_time ON hook_deliveries (received_at);
                """)
        }
    }
}
