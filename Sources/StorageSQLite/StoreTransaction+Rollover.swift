import StorageCore
import GRDB

extension SQLiteTransaction {
    /// Keeps a held run's carry-forward proposals.
    public func storeCarryForwards(_ proposals: [CarryForwardRecord], runID: String) throws {
        for p in proposals {
            try db.execute(sql: """
                INSERT INTO carry_forward_proposals (run_id, new_sourced_id, new_title, old_course_id, old_sourced_id, old_title,
                    catalog_title, base_id, matched_on, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [runID, p.newSourcedID, p.newTitle, p.oldCourseID, p.oldSourcedID, p.oldTitle, p.catalogTitle,
                                 p.baseID, p.matchedOn, p.evidence])
        }
    }

    /// A run's carry-forward proposals, by new course sourcedId.
    public func carryForwards(runID: String) throws -> [CarryForwardRecord] {
        try Row.fetchAll(db, sql: """
            SELECT new_sourced_id, new_title, old_course_id, old_sourced_id, old_title, catalog_title, base_id, matched_on, evidence
            FROM carry_forward_proposals WHERE run_id = ? ORDER BY new_sourced_id
            """, arguments: [runID]).map {
            CarryForwardRecord(newSourcedID: $0[0], newTitle: $0[1], oldCourseID: $0[2], oldSourcedID: $0[3], oldTitle: $0[4],
                               catalogTitle: $0[5], baseID: $0[6], matchedOn: $0[7], evidence: $0[8])
        }
    }
}
