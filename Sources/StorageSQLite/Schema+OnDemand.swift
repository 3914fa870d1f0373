import GRDB

extension Schema {
    /// On-demand rostering: each integration's provisioning mode, sign-in identities linked to OneRoster users (and the
    /// queue of those that could not be), imported classes with their teachers and students, and the platform events
    /// already written (by idempotency key).
    static func registerOnDemandMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8-on-demand") { db in
            try db.execute(sql: """
                CREATE TABLE provisioning_modes (
                    integration_id TEXT PRIMARY KEY NOT NULL REFERENCES integrations (id),
                    mode TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    set_at REAL NOT NULL
                );
                CREATE TABLE identity_links (
                    provider TEXT NOT NULL,
                    integration_id TEXT NOT NULL REFERENCES integrations (id),
                    provider_user_id TEXT NOT NULL,
                    sourced_id TEXT NOT NULL,
                    matched_on TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    linked_at REAL NOT NULL,
                    PRIMARY KEY (provider, integration_id, provider_user_id)
                ) WITHOUT ROWID;
                CREATE INDEX identity_links_by_user ON identity_links (integration_id, sourced_id);
                CREATE TABLE unlinked_identities (
                    support_code TEXT PRIMARY KEY NOT NULL,
                    provider TEXT NOT NULL,
                    tenant_id TEXT NOT NULL,
                    integration_id TEXT,
                    provider_user_id TEXT NOT NULL,
                    claimed_sourced_id TEXT,
                    username TEXT,
                    email TEXT,
                    reason TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    resolved_sourced_id TEXT,
                    resolved_by TEXT,
                    resolved_at REAL
                );
                CREATE TABLE imported_classes (
                    integration_id TEXT NOT NULL REFERENCES integrations (id),
                    class_sourced_id TEXT NOT NULL,
                    instance_id TEXT NOT NULL,
                    title TEXT NOT NULL,
                    imported_by TEXT NOT NULL,
                    imported_at REAL NOT NULL,
                    PRIMARY KEY (integration_id, class_sourced_id)
                ) WITHOUT ROWID;
                CREATE UNIQUE INDEX imported_classes_by_instance ON imported_classes (instance_id);
                CREATE TABLE class_members (
                    role TEXT NOT NULL,
                    integration_id TEXT NOT NULL,
                    class_sourced_id TEXT NOT NULL,
                    user_sourced_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    how TEXT NOT NULL,
                    since REAL NOT NULL,
                    changed_at REAL NOT NULL,
                    PRIMARY KEY (integration_id, class_sourced_id, role, user_sourced_id)
                ) WITHOUT ROWID;
                CREATE INDEX class_members_by_user ON class_members (integration_id, user_sourced_id);
                CREATE TABLE platform_events (
                    idempotency_key TEXT PRIMARY KEY NOT NULL,
                    outbox_id TEXT NOT NULL,
                    at REAL NOT NULL
                ) WITHOUT ROWID;
                """)
        }
    }
}
