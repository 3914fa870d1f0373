import GRDB

extension Schema {
    /// Dashboard sign-in: one-time links and sessions (each kept only as the SHA-256 of its secret) and the sign-in
    /// attempts that rate-limit them.
    static func registerSignInMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-sign-in-links-sessions") { db in
            try db.execute(sql: """
                CREATE TABLE sign_in_links (
                    token_hash TEXT PRIMARY KEY NOT NULL,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    used_at REAL
                ) WITHOUT ROWID;
                CREATE TABLE sessions (
                    id_hash TEXT PRIMARY KEY NOT NULL,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    csrf_token TEXT NOT NULL,
                    method TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    last_seen_at REAL NOT NULL,
                    expires_at REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX sessions_by_account ON sessions (account_id);
                CREATE TABLE sign_in_attempts (
                    key TEXT NOT NULL,
                    at REAL NOT NULL
                );
                CREATE INDEX sign_in_attempts_by_key ON sign_in_attempts (key, at);
                """)
        }
    }
}
