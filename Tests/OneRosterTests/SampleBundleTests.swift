import Foundation
import OneRoster
import XCTest

final class SampleBundleTests: OneRosterTestCase {
    func roundTrip(version: String, zip: Bool, demographics: Bool) throws {
        let dir = try makeTempDir()
        let url = zip ? dir.appendingPathComponent("sample.zip") : dir.appendingPathComponent("sample")
        let summary = try SampleBundle.write(to: url, users: 300, classes: 40, enrollments: 1_500, version: version,
                                             seed: 7, demographics: demographics)
        XCTAssertEqual(summary.users, 300)
        XCTAssertEqual(summary.classes, 40)
        XCTAssertEqual(summary.enrollments, 1_500)
        XCTAssertEqual(summary.teachers + summary.students, 300)
        XCTAssertEqual(summary.courses, 10)
        let b = try OneRosterBundleReader().read(at: url)
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        XCTAssertEqual(b.report.warningCount, 0, b.report.rendered())
        XCTAssertTrue(b.quarantined.isEmpty)
        XCTAssertEqual(b.version.rawValue, version)
        XCTAssertEqual(b.orgs.count, summary.orgs)
        XCTAssertEqual(b.orgs.filter { $0.type == .district }.count, 1)
        XCTAssertEqual(b.orgs.filter { $0.type == .school }.count, summary.schools)
        XCTAssertEqual(b.academicSessions.count, summary.academicSessions)
        XCTAssertEqual(b.courses.count, summary.courses)
        XCTAssertEqual(b.classes.count, 40)
        XCTAssertEqual(b.users.count, 300)
        XCTAssertEqual(b.users.filter { $0.role == .teacher }.count, summary.teachers)
        XCTAssertEqual(b.users.filter { $0.role == .student }.count, summary.students)
        XCTAssertEqual(b.roles.count, summary.roles)
        XCTAssertEqual(b.enrollments.count, 1_500)
        XCTAssertEqual(b.enrollments.filter { $0.role == .teacher }.count, 40)
        XCTAssertEqual(b.demographics.count, summary.demographics)
        XCTAssertEqual(Set(b.enrollments.map { "\($0.classSourcedId)|\($0.userSourcedId)" }).count, 1_500, "no duplicate pairs")
        for file in ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"] {
            XCTAssertEqual(b.manifest.fileModes[file], .bulk, file)
        }
        // Every class has exactly one primary teacher from its own school.
        let teachersByClass = Dictionary(grouping: b.enrollments.filter { $0.role == .teacher }, by: \.classSourcedId)
        XCTAssertEqual(teachersByClass.count, 40)
        XCTAssertTrue(teachersByClass.values.allSatisfy { $0.count == 1 && $0[0].primary == true })
        let schoolOfUser = Dictionary(uniqueKeysWithValues: b.users.map { ($0.sourcedId, $0.orgSourcedIds.first) })
        XCTAssertTrue(b.enrollments.allSatisfy { schoolOfUser[$0.userSourcedId] == $0.schoolSourcedId })
    }

    func testRoundTrip11Folder() throws { try roundTrip(version: "1.1", zip: false, demographics: true) }
    func testRoundTrip12Zip() throws { try roundTrip(version: "1.2", zip: true, demographics: false) }
    func testRoundTrip12FolderWithDemographics() throws { try roundTrip(version: "1.2", zip: false, demographics: true) }

    func testDeterministicForASeed() throws {
        let dir = try makeTempDir()
        for (name, seed) in [("a", UInt64(3)), ("b", 3), ("c", 4)] {
            try SampleBundle.write(to: dir.appendingPathComponent(name), users: 50, classes: 8, enrollments: 120,
                                   version: "1.2", seed: seed)
        }
        func bytes(_ folder: String, _ file: String) throws -> Data {
            try Data(contentsOf: dir.appendingPathComponent(folder).appendingPathComponent(file))
        }
        for file in ["manifest.csv", "orgs.csv", "users.csv", "roles.csv", "classes.csv", "enrollments.csv"] {
            XCTAssertEqual(try bytes("a", file), try bytes("b", file), file)
        }
        XCTAssertNotEqual(try bytes("a", "users.csv"), try bytes("c", "users.csv"))
    }

    func testMoreEnrollmentsThanPossibleIsCapped() throws {
        let dir = try makeTempDir()
        // 2 classes in one school: each of the students can be in at most 2 classes.
        let s = try SampleBundle.write(to: dir.appendingPathComponent("x"), users: 5, classes: 2, enrollments: 1_000,
                                       version: "1.1", seed: 1)
        XCTAssertEqual(s.enrollments, 2 + s.students * 2)
        let b = try OneRosterBundleReader().read(at: dir.appendingPathComponent("x"))
        XCTAssertEqual(b.enrollments.count, s.enrollments)
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
    }

    func testRejectsBadArguments() {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never")
        XCTAssertThrowsError(try SampleBundle.write(to: url, users: 1, classes: 1, enrollments: 1, version: "2.0"))
        XCTAssertThrowsError(try SampleBundle.write(to: url, users: 0, classes: 1, enrollments: 1, version: "1.1"))
    }
}
