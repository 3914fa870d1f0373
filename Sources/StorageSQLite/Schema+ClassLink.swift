import GRDB

extension Schema {
    /// Sign in with ClassLink: each integration's provider settings (never the secret, only its environment variable),
    /// sign-ins started at the provider (state as SHA-256, nonce, PKCE verifier) and teachers' and students' sessions
    /// (cookie as SHA-256).
    static func registerClassLinkMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-classlink-sign-in") { db in
            try db.execute(sql: """
                CREATE TABLE sign_in_providers (
                    integration_id TEXT PRIMARY KEY NOT NULL REFERENCES integrations (id),
                    provider TEXT NOT NULL,
                    issuer TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    secret_env TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    user_info_url TEXT,
                    actor TEXT NOT NULL,
                    set_at REAL NOT NULL
                );
                CREATE TABLE sign_in_requests (
                    state_hash TEXT PRIMARY KEY NOT NULL,
                    integration_id TEXT NOT NULL,
                    nonce TEXT NOT NULL,
                    code_verifier TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    used_at REAL
                ) WITHOUT ROWID;
                CREATE TABLE person_sessions (
                    id_hash TEXT PRIMARY KEY NOT NULL,
                    integration_id TEXT NOT NULL,
                    sourced_id TEXT NOT NULL,
                    role TEXT NOT NULL,
                    provider_user_id TEXT NOT NULL,
                    csrf_token TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    last_seen_at REAL NOT NULL,
                    expires_at REAL NOT NULL
                ) WITHOUT ROWID;
                """)
        }
    }
}
