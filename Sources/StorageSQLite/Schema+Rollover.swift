import GRDB

extension Schema {
    /// A held school-year rollover's course-map carry-forward: for each new course, the mapped course of the previous
    /// year it matches, how (course code, normalised title, grades and subject) and the evidence.
    static func registerRolloverMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-carry-forward-proposals") { db in
            try db.execute(sql: """
                CREATE TABLE carry_forward_proposals (
                    run_id TEXT NOT NULL REFERENCES sync_runs (id),
                    new_sourced_id TEXT NOT NULL,
                    new_title TEXT NOT NULL,
                    old_course_id TEXT NOT NULL,
                    old_sourced_id TEXT NOT NULL,
                    old_title TEXT NOT NULL,
                    catalog_title TEXT NOT NULL,
                    base_id TEXT NOT NULL,
                    matched_on TEXT NOT NULL,
                    evidence TEXT NOT NULL,
                    PRIMARY KEY (run_id, new_sourced_id)
                ) WITHOUT ROWID;
                """)
        }
    }
}
