import Foundation
import OneRoster
@testable import RosterFlowCore
import XCTest

/// How many times a source was read (shared by the copies of a source value).
final class ReadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

/// A roster source with no files: records and issues held in memory, as a REST pull would produce them, with its
/// issues located by record reference.
struct InMemoryRosterSource: RosterSource {
    var description: String
    var records: [OneRosterRecord]
    var issues: [ValidationIssue]
    var digest: String?
    let reads = ReadCounter()

    func fingerprint() throws -> String? { digest }

    func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
              visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
        reads.increment()
        var report = ValidationReport()
        for issue in issues { report.add(issue) }
        for record in records { try visitor?(record) }
        let bulk = [OneRosterFile.orgs, .academicSessions, .courses, .classes, .users, .enrollments]
        let manifest = Manifest(isPresent: true, manifestVersion: "1.0", declaredVersion: "1.2",
                                fileModes: Dictionary(uniqueKeysWithValues: bulk.map { ($0.rawValue, FileMode.bulk) }))
        return OneRosterBundle(manifest: manifest, version: .v1_2, report: report)
    }

    /// One school, one term, one course and class, a teacher and `students` students, each enrolled.
    static func district(students: Int, digest: String?) -> InMemoryRosterSource {
        let term = AcademicSession(
            sourcedId: "term-1", title: "Fall", type: .term, startDate: OneRosterDate(year: 2026, month: 8, day: 20)!,
            endDate: OneRosterDate(year: 2026, month: 12, day: 18)!, schoolYear: 2027)
        var records: [OneRosterRecord] = [
            .org(Org(sourcedId: "org-1", name: "Springfield High", type: .school)),
            .academicSession(term),
            .course(Course(sourcedId: "course-1", title: "Algebra I", orgSourcedId: "org-1")),
            .rosterClass(RosterClass(sourcedId: "class-1", title: "Algebra I - 1", courseSourcedId: "course-1",
                                     classType: .scheduled, schoolSourcedId: "org-1", termSourcedIds: ["term-1"])),
            .user(User(sourcedId: "t-1", givenName: "Edna", familyName: "Krabappel", role: .teacher, orgSourcedIds: ["org-1"])),
        ]
        var enrollments: [OneRosterRecord] = [
            .enrollment(Enrollment(sourcedId: "e-t-1", classSourcedId: "class-1", schoolSourcedId: "org-1",
                                   userSourcedId: "t-1", role: .teacher)),
        ]
        for n in 1...students {
            records.append(.user(User(sourcedId: "s-\(n)", givenName: "Student", familyName: "No \(n)", role: .student,
                                      orgSourcedIds: ["org-1"])))
            enrollments.append(.enrollment(Enrollment(sourcedId: "e-s-\(n)", classSourcedId: "class-1", schoolSourcedId: "org-1",
                                                      userSourcedId: "s-\(n)", role: .student)))
        }
        let issue = ValidationIssue(
            severity: .warning, code: .nonstandardGrade, entity: "users", sourcedId: "s-1", page: 2, column: "grades",
            value: "9", message: "Grade `9` is not a CEDS grade-level code.", fix: "Use `09`.")
        return InMemoryRosterSource(description: "rest:springfield/users", records: records + enrollments,
                                    issues: [issue], digest: digest)
    }
}

/// A sync reads any ``RosterSource`` through the same validation, diff, safeguards and apply path as a CSV bundle.
final class RosterSourceTests: SyncTestCase {
    func testAnInMemorySourceSyncsEndToEndWithRecordLocatedIssues() async throws {
        let source = InMemoryRosterSource.district(students: 9, digest: "a1")
        let first = try await service.runSync(integrationID: integrationID, source: source, actor: "test")
        XCTAssertEqual(first.decision, "applied", "\(first.reasons)")
        XCTAssertEqual(first.bundle, "rest:springfield/users")
        XCTAssertEqual(first.counts["users"]?.adds, 10)
        XCTAssertEqual(first.counts["enrollments"]?.adds, 10)
        XCTAssertEqual(first.warningCount, 1)
        XCTAssertEqual(try held(.users), 10)
        // Lifecycle: the course got its shell and the integration moved on, as after a CSV bundle.
        XCTAssertEqual(try service.courses(integrationID: integrationID).count, 1)
        XCTAssertEqual(try service.integration(id: integrationID).state, "shells_created")

        // The stored report keeps the record reference, and renders it.
        let stored = try service.syncRun(id: first.id)
        let issue = try XCTUnwrap(stored.report?.issues.first)
        XCTAssertEqual(issue.location, .record(entity: "users", sourcedId: "s-1", page: 2))
        XCTAssertEqual(issue.file, "users")
        XCTAssertNil(issue.line)
        XCTAssertTrue(stored.report?.rendered().contains("warning record s-1 of users, page 2 column grades") ?? false,
                      stored.report?.rendered() ?? "")

        // The same fingerprint again: unchanged, not read, the report reused with its record reference.
        let second = try await service.runSync(integrationID: integrationID, source: source, actor: "test")
        XCTAssertEqual(second.decision, "unchanged")
        XCTAssertEqual(source.reads.value, 1)
        XCTAssertEqual(second.report?.issues.first?.location, .record(entity: "users", sourcedId: "s-1", page: 2))

        // Four students gone (4 of 10 users): the delete safeguard holds the sync for review, nothing applied.
        let cut = InMemoryRosterSource.district(students: 5, digest: "b2")
        let third = try await service.runSync(integrationID: integrationID, source: cut, actor: "test")
        XCTAssertEqual(third.decision, "held")
        XCTAssertEqual(third.counts["users"]?.deletes, 4)
        XCTAssertFalse(third.reasons.isEmpty)
        XCTAssertEqual(try held(.users), 10)
        XCTAssertEqual(try service.integration(id: integrationID).state, "on_hold")
    }

    func testASourceWithoutAFingerprintIsReadEveryTime() async throws {
        let source = InMemoryRosterSource.district(students: 3, digest: nil)
        _ = try await service.runSync(integrationID: integrationID, source: source, actor: "test")
        let again = try await service.runSync(integrationID: integrationID, source: source, actor: "test")
        XCTAssertEqual(again.decision, "unchanged")
        XCTAssertEqual(source.reads.value, 2)
    }

    func testACSVBundleSourceSyncsLikeItsPath() async throws {
        let b = try bundle("b1")
        let run = try await service.runSync(integrationID: integrationID, source: CSVBundleSource(path: b), actor: "test")
        XCTAssertEqual(run.decision, "applied")
        XCTAssertEqual(run.bundle, b)
        let again = try await sync(b)
        XCTAssertEqual(again.decision, "unchanged")
        XCTAssertTrue(again.reasons.contains { $0.contains("byte-for-byte the one run \(run.id) applied") }, "\(again.reasons)")
    }
}
