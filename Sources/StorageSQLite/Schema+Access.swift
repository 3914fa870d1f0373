import GRDB

extension Schema {
    /// Who may use the HTTP API: accounts (a person with a role and the districts they may see), their API tokens
    /// (stored only as the SHA-256 of the token), and the answers to event requests sent with an `Idempotency-Key`.
    static func registerAccessMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-accounts-tokens") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    districts TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    disabled_at REAL
                );
                CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    name TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL,
                    expires_at REAL,
                    revoked_at REAL
                );
                CREATE INDEX api_tokens_by_account ON api_tokens (account_id);
                CREATE TABLE idempotency_keys (
                    account_id TEXT NOT NULL,
                    key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    status INTEGER,
                    content_type TEXT,
                    body BLOB,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (account_id, key)
                ) WITHOUT ROWID;
                """)
        }
    }
}
