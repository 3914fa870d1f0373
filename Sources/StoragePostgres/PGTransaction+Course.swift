import Foundation
import StorageCore

extension PGTransaction {
    func lockedCourseSourcedIDs(integrationID: String) throws -> Set<String> {
        throw PGTransaction.unported("CourseStore.lockedCourseSourcedIDs")
    }

    func insertCourse(_ course: CourseRecord) throws {
        throw PGTransaction.unported("CourseStore.insertCourse")
    }

    func course(id: String) throws -> CourseRecord? {
        throw PGTransaction.unported("CourseStore.course")
    }

    func course(integrationID: String, sourcedID: String) throws -> CourseRecord? {
        throw PGTransaction.unported("CourseStore.course")
    }

    func courses(integrationID: String) throws -> [CourseRecord] {
        throw PGTransaction.unported("CourseStore.courses")
    }

    func updateMapping(courseID: String, catalogTitle: String, baseID: String) throws {
        throw PGTransaction.unported("CourseStore.updateMapping")
    }

    func markLocked(courseID: String, at: Double) throws {
        throw PGTransaction.unported("CourseStore.markLocked")
    }

    func integrationProgress(courseID: String, notIn states: [String]) throws -> (integrationID: String, state: String, anyOutside: Bool)? {
        throw PGTransaction.unported("CourseStore.integrationProgress")
    }

    func courseCounts(integrationID: String, notIn states: [String]) throws -> (outside: Int, total: Int) {
        throw PGTransaction.unported("CourseStore.courseCounts")
    }
}
