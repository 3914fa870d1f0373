import Foundation
import StorageCore

extension PGTransaction {
    @discardableResult
    func upsertCatalogCourse(_ course: CatalogCourseRecord) throws -> Bool {
        throw PGTransaction.unported("CatalogStore.upsertCatalogCourse")
    }

    func catalogCourse(baseID: String) throws -> CatalogCourseRecord? {
        throw PGTransaction.unported("CatalogStore.catalogCourse")
    }

    func catalogCourses(includeRetired: Bool) throws -> [CatalogCourseRecord] {
        throw PGTransaction.unported("CatalogStore.catalogCourses")
    }

    func courses(integrationID: String, mappedTo baseID: String) throws -> [CourseRecord] {
        throw PGTransaction.unported("CatalogStore.courses")
    }

    func mappingCounts(baseID: String) throws -> (mapped: Int, locked: Int) {
        throw PGTransaction.unported("CatalogStore.mappingCounts")
    }
}
