import Foundation
import StorageCore

extension PGTransaction {
    private static let catalogColumns = "base_id, title, subject, grades, status, version, previous_base_id, updated_at"

    private static func catalogCourse(_ rows: PGRows, _ row: Int) -> CatalogCourseRecord {
        let grades = rows.text(row, 3)
        return CatalogCourseRecord(
            baseID: rows.text(row, 0), title: rows.text(row, 1), subject: rows.string(row, 2),
            grades: grades.isEmpty ? [] : grades.split(separator: ",").map(String.init),
            status: CatalogStatus(rawValue: rows.text(row, 4)) ?? .retired, version: rows.int(row, 5) ?? 1,
            previousBaseID: rows.string(row, 6), updatedAt: rows.double(row, 7) ?? 0)
    }

    @discardableResult
    func upsertCatalogCourse(_ course: CatalogCourseRecord) throws -> Bool {
        // Race-safe: insert-or-update and "was it new" in one statement (`xmax = 0` only on a row it inserted).
        let rows = try query("""
            INSERT INTO catalog_courses (\(Self.catalogColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (base_id) DO UPDATE SET title = EXCLUDED.title, subject = EXCLUDED.subject, grades = EXCLUDED.grades,
                status = EXCLUDED.status, version = EXCLUDED.version, previous_base_id = EXCLUDED.previous_base_id,
                updated_at = EXCLUDED.updated_at
            RETURNING (xmax = 0)
            """,
            course.baseID, course.title, course.subject, course.grades.joined(separator: ","), course.status.rawValue,
            course.version, course.previousBaseID, course.updatedAt)
        return rows.bool(0, 0) ?? false
    }

    func catalogCourse(baseID: String) throws -> CatalogCourseRecord? {
        let rows = try query("SELECT \(Self.catalogColumns) FROM catalog_courses WHERE base_id = $1", baseID)
        return rows.count == 0 ? nil : Self.catalogCourse(rows, 0)
    }

    func catalogCourses(includeRetired: Bool) throws -> [CatalogCourseRecord] {
        // SQLite's `COLLATE NOCASE` folds ASCII letters only; so does lower() under the columns' "C" collation.
        let rows = try query("""
            SELECT \(Self.catalogColumns) FROM catalog_courses
            WHERE $1::boolean OR status = 'active' ORDER BY lower(title), version, base_id
            """, includeRetired)
        return PGCoreDecoders.all(rows, Self.catalogCourse)
    }

    func courses(integrationID: String, mappedTo baseID: String) throws -> [CourseRecord] {
        let rows = try query("""
            SELECT \(PGCoreDecoders.courseColumns) FROM courses WHERE base_id = $1 AND integration_id = $2
            ORDER BY created_at, id
            """, baseID, integrationID)
        return PGCoreDecoders.all(rows) { PGCoreDecoders.course($0, $1) }
    }

    func mappingCounts(baseID: String) throws -> (mapped: Int, locked: Int) {
        let rows = try query("SELECT COUNT(*), COUNT(locked_at) FROM courses WHERE base_id = $1", baseID)
        guard rows.count > 0 else { return (0, 0) }
        return (mapped: rows.int(0, 0) ?? 0, locked: rows.int(0, 1) ?? 0)
    }
}
