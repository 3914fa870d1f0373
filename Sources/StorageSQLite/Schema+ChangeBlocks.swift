import GRDB
import StorageCore

extension Schema {
    /// Held change sets in blocks (``ChangeBlocks``) instead of a row a change: the change sets already held are
    /// re-encoded, run by run, in their apply order.
    static func registerChangeBlockMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v14-change-set-blocks") { db in
            try db.execute(sql: """
                CREATE TABLE sync_change_blocks (
                    run_id TEXT NOT NULL REFERENCES sync_runs (id),
                    first_seq INTEGER NOT NULL,
                    entity TEXT NOT NULL,
                    op TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    changes BLOB NOT NULL,
                    PRIMARY KEY (run_id, first_seq)
                );
                """)
            for runID in try String.fetchAll(db, sql: "SELECT DISTINCT run_id FROM sync_changes ORDER BY run_id") {
                var writer = try ChangeBlockWriter(db, runID: runID)
                try db.fastEach("""
                    SELECT op, entity, sourced_id, digest, ref1, ref2, ref3, title, parked, fields, changed, ref4
                    FROM sync_changes WHERE run_id = ? ORDER BY seq
                    """, [runID]) { row in
                    try writer.add(RosterChange(
                        operation: RosterChange.Operation(rawValue: row.string(0)) ?? .update,
                        record: RosterRecord(entity: row.string(1), sourcedID: row.string(2), digest: Int64(row.int(3)),
                                             ref1: row.optionalString(4), ref2: row.optionalString(5), ref3: row.optionalString(6),
                                             title: row.optionalString(7), fields: row.optionalData(9), ref4: row.optionalString(11)),
                        parked: row.int(8) != 0,
                        changedFieldMask: row.optionalInt(10).map { UInt32(truncatingIfNeeded: $0) }))
                }
                try writer.flush()
            }
            try db.execute(sql: "DROP TABLE sync_changes")
        }
    }
}
