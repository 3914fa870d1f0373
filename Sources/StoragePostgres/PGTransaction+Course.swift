import Foundation
import StorageCore

extension PGTransaction {
    func lockedCourseSourcedIDs(integrationID: String) throws -> Set<String> {
        let rows = try query(
            "SELECT sourced_id FROM courses WHERE integration_id = $1 AND locked_at IS NOT NULL", integrationID)
        return Set((0..<rows.count).map { rows.text($0, 0) })
    }

    func insertCourse(_ course: CourseRecord) throws {
        try execute("""
            INSERT INTO courses (\(PGCoreDecoders.courseColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            course.id, course.integrationID, course.sourcedID, course.title, course.catalogTitle, course.baseID,
            course.lockedAt, course.createdAt)
    }

    func course(id: String) throws -> CourseRecord? {
        let rows = try query("SELECT \(PGCoreDecoders.courseColumns) FROM courses WHERE id = $1", id)
        return rows.count == 0 ? nil : PGCoreDecoders.course(rows, 0)
    }

    func course(integrationID: String, sourcedID: String) throws -> CourseRecord? {
        let rows = try query(
            "SELECT \(PGCoreDecoders.courseColumns) FROM courses WHERE integration_id = $1 AND sourced_id = $2",
            integrationID, sourcedID)
        return rows.count == 0 ? nil : PGCoreDecoders.course(rows, 0)
    }

    func courses(integrationID: String) throws -> [CourseRecord] {
        let rows = try query(
            "SELECT \(PGCoreDecoders.courseColumns) FROM courses WHERE integration_id = $1 ORDER BY created_at, id",
            integrationID)
        return PGCoreDecoders.all(rows) { PGCoreDecoders.course($0, $1) }
    }

    func updateMapping(courseID: String, catalogTitle: String, baseID: String) throws {
        try execute("UPDATE courses SET catalog_title = $1, base_id = $2 WHERE id = $3", catalogTitle, baseID, courseID)
    }

    func markLocked(courseID: String, at: Double) throws {
        // One statement: of two lockers at once the second waits, then keeps the first one's time.
        try execute("UPDATE courses SET locked_at = COALESCE(locked_at, $1) WHERE id = $2", at, courseID)
    }

    func integrationProgress(courseID: String, notIn states: [String]) throws
        -> (integrationID: String, state: String, anyOutside: Bool)?
    {
        let rows = try query("""
            SELECT c.integration_id, i.state,
                   EXISTS (SELECT 1 FROM courses c2 JOIN workflow_instances i2 ON i2.id = c2.id
                           WHERE c2.integration_id = c.integration_id AND i2.state <> ALL($1::text[]))
            FROM courses c JOIN workflow_instances i ON i.id = c.integration_id
            WHERE c.id = $2
            """, Self.textArray(states), courseID)
        guard rows.count > 0 else { return nil }
        return (integrationID: rows.text(0, 0), state: rows.text(0, 1), anyOutside: rows.bool(0, 2) ?? false)
    }

    func courseCounts(integrationID: String, notIn states: [String]) throws -> (outside: Int, total: Int) {
        let rows = try query("""
            SELECT COUNT(*), COALESCE(SUM(CASE WHEN i.state = ANY($1::text[]) THEN 0 ELSE 1 END), 0)
            FROM courses c JOIN workflow_instances i ON i.id = c.id
            WHERE c.integration_id = $2
            """, Self.textArray(states), integrationID)
        guard rows.count > 0 else { return (0, 0) }
        return (outside: rows.int(0, 1) ?? 0, total: rows.int(0, 0) ?? 0)
    }
}
