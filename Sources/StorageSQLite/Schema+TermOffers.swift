import GRDB

extension Schema {
    /// On-demand terms: the held roster keeps what the diff does not need (`ref4`: a session's dates, a user's
    /// `enabledUser`), indexes find users by login name or e-mail and enrollments by class or user without reading the
    /// roster, and the offers of next term's classes made to teachers whose imported classes ended.
    static func registerTermOfferMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-on-demand-terms") { db in
            try db.execute(sql: """
                ALTER TABLE roster_records ADD COLUMN ref4 TEXT;
                ALTER TABLE sync_changes ADD COLUMN ref4 TEXT;
                CREATE INDEX roster_users_by_username ON roster_records (integration_id, ref1) WHERE entity = 'users';
                CREATE INDEX roster_users_by_email ON roster_records (integration_id, lower(ref2)) WHERE entity = 'users';
                CREATE INDEX roster_enrollments_by_class ON roster_records (integration_id, ref1) WHERE entity = 'enrollments';
                CREATE INDEX roster_enrollments_by_user ON roster_records (integration_id, ref2) WHERE entity = 'enrollments';
                CREATE TABLE next_term_offers (
                    integration_id TEXT NOT NULL REFERENCES integrations (id),
                    teacher_sourced_id TEXT NOT NULL,
                    ended_term_sourced_id TEXT NOT NULL,
                    ended_term TEXT NOT NULL,
                    classes TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    decided_at REAL,
                    decided_by TEXT,
                    PRIMARY KEY (integration_id, teacher_sourced_id, ended_term_sourced_id)
                ) WITHOUT ROWID;
                """)
        }
    }
}
