import GRDB
import StorageCore

extension SQLiteTransaction {
    private static let catalogColumns = "base_id, title, subject, grades, status, version, previous_base_id, updated_at"

    private static func catalogCourse(_ row: FastRow) -> CatalogCourseRecord {
        let grades = row.string(3)
        return CatalogCourseRecord(
            baseID: row.string(0), title: row.string(1), subject: row.optionalString(2),
            grades: grades.isEmpty ? [] : grades.split(separator: ",").map(String.init),
            status: CatalogStatus(rawValue: row.string(4)) ?? .retired, version: row.int(5), previousBaseID: row.optionalString(6),
            updatedAt: row.double(7))
    }

    @discardableResult
    public func upsertCatalogCourse(_ course: CatalogCourseRecord) throws -> Bool {
        let existed = try first("SELECT 1 FROM catalog_courses WHERE base_id = ?", [course.baseID]) { _ in true } ?? false
        try db.execute(sql: """
            INSERT INTO catalog_courses (\(Self.catalogColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (base_id) DO UPDATE SET title = excluded.title, subject = excluded.subject, grades = excluded.grades,
                status = excluded.status, version = excluded.version, previous_base_id = excluded.previous_base_id,
                updated_at = excluded.updated_at
            """, arguments: [
                course.baseID, course.title, course.subject, course.grades.joined(separator: ","), course.status.rawValue,
                course.version, course.previousBaseID, course.updatedAt,
            ])
        return !existed
    }

    public func catalogCourse(baseID: String) throws -> CatalogCourseRecord? {
        try first("SELECT \(Self.catalogColumns) FROM catalog_courses WHERE base_id = ?", [baseID], Self.catalogCourse)
    }

    public func catalogCourses(includeRetired: Bool) throws -> [CatalogCourseRecord] {
        try all("""
            SELECT \(Self.catalogColumns) FROM catalog_courses
            WHERE ? OR status = 'active' ORDER BY title COLLATE NOCASE, version, base_id
            """, [includeRetired], Self.catalogCourse)
    }

    public func courses(integrationID: String, mappedTo baseID: String) throws -> [CourseRecord] {
        try all("""
            SELECT \(Self.courseColumns) FROM courses WHERE base_id = ? AND integration_id = ? ORDER BY created_at, id
            """, [baseID, integrationID], Self.courseRecord)
    }

    public func mappingCounts(baseID: String) throws -> (mapped: Int, locked: Int) {
        try first("SELECT COUNT(*), COUNT(locked_at) FROM courses WHERE base_id = ?", [baseID]) {
            (mapped: $0.int(0), locked: $0.int(1))
        } ?? (0, 0)
    }

    public func recordDigest(integrationID: String, kind: String, localDate: String, at: Double) throws -> Bool {
        try db.execute(sql: """
            INSERT INTO digests_sent (integration_id, kind, local_date, sent_at) VALUES (?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """, arguments: [integrationID, kind, localDate, at])
        return db.changesCount > 0
    }
}
