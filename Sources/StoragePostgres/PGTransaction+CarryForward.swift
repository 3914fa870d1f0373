import Foundation
import StorageCore

extension PGTransaction {
    func storeCarryForwards(_ proposals: [CarryForwardRecord], runID: String) throws {
        guard !proposals.isEmpty else { return }
        // One statement for all of a run's proposals (a rollover can propose thousands): one array per column.
        try execute("""
            INSERT INTO carry_forward_proposals (run_id, new_sourced_id, new_title, old_course_id, old_sourced_id, old_title,
                catalog_title, base_id, matched_on, evidence)
            SELECT $1::text, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                $9::text[], $10::text[])
            """, list: [
                runID.pgParam,
                Self.textArray(proposals.map(\.newSourcedID)), Self.textArray(proposals.map(\.newTitle)),
                Self.textArray(proposals.map(\.oldCourseID)), Self.textArray(proposals.map(\.oldSourcedID)),
                Self.textArray(proposals.map(\.oldTitle)), Self.textArray(proposals.map(\.catalogTitle)),
                Self.textArray(proposals.map(\.baseID)), Self.textArray(proposals.map(\.matchedOn)),
                Self.textArray(proposals.map(\.evidence)),
            ])
    }

    func carryForwards(runID: String) throws -> [CarryForwardRecord] {
        let rows = try query("""
            SELECT new_sourced_id, new_title, old_course_id, old_sourced_id, old_title, catalog_title, base_id, matched_on, evidence
            FROM carry_forward_proposals WHERE run_id = $1 ORDER BY new_sourced_id
            """, runID)
        return (0..<rows.count).map {
            CarryForwardRecord(
                newSourcedID: rows.text($0, 0), newTitle: rows.text($0, 1), oldCourseID: rows.text($0, 2),
                oldSourcedID: rows.text($0, 3), oldTitle: rows.text($0, 4), catalogTitle: rows.text($0, 5),
                baseID: rows.text($0, 6), matchedOn: rows.text($0, 7), evidence: rows.text($0, 8))
        }
    }
}
