import GRDB

extension Schema {
    /// Enrollments are found by class and by user only where someone needs it: integrations in on-demand mode
    /// (class imports, placements) or with Sign in with ClassLink set up (a signed-in person's roles). Their keys live in
    /// `roster_enrollment_lookups`, kept by the store as those integrations' rosters change; every other district's
    /// enrollments (a pre-provisioned district's two million) no longer pay for two partial indexes over all of them,
    /// which cost a first sync 3.4–4.1 s each to sort (docs/performance.md, "Regressed, found 1 December 2026").
    static func registerEnrollmentLookupMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v13-enrollment-lookups-where-used") { db in
            try db.execute(sql: """
                CREATE TABLE roster_enrollment_lookups (
                    integration_id TEXT NOT NULL,
                    by TEXT NOT NULL,
                    value TEXT NOT NULL,
                    sourced_id TEXT NOT NULL,
                    PRIMARY KEY (integration_id, by, value, sourced_id)
                ) WITHOUT ROWID;
                WITH kept AS (
                    SELECT integration_id FROM provisioning_modes WHERE mode = 'on-demand'
                    UNION SELECT integration_id FROM sign_in_providers)
                INSERT INTO roster_enrollment_lookups (integration_id, by, value, sourced_id)
                SELECT integration_id, 'class', ref1, sourced_id FROM roster_records
                WHERE entity = 'enrollments' AND ref1 IS NOT NULL AND integration_id IN kept
                UNION ALL
                SELECT integration_id, 'user', ref2, sourced_id FROM roster_records
                WHERE entity = 'enrollments' AND ref2 IS NOT NULL AND integration_id IN kept
                ORDER BY 1, 2, 3, 4;
                DROP INDEX roster_enrollments_by_class;
                DROP INDEX roster_enrollments_by_user;
                """)
        }
    }
}
