import Foundation
import OneRoster
import XCTest

/// `sample-bundle --school-year` writes the same district a year later; `--defects` writes each tolerated fault.
final class SampleYearTests: OneRosterTestCase {
    func district(_ year: Int, version: String = "1.2", defects: [String] = [], demographics: Bool = false) throws
        -> (OneRosterBundle, SampleBundle.Summary)
    {
        let url = try makeTempDir().appendingPathComponent("y\(year)")
        let summary = try SampleBundle.write(to: url, users: 400, classes: 60, enrollments: 2_000, version: version, seed: 3,
                                             demographics: demographics, schoolYear: year, defects: defects)
        return (try OneRosterBundleReader().read(at: url), summary)
    }

    func testTheNextYearIsTheSameDistrictAYearOn() throws {
        let (now, _) = try district(2025, demographics: true)
        let (next, summary) = try district(2026, demographics: true)
        XCTAssertEqual(next.report.errorCount, 0, next.report.rendered())
        XCTAssertEqual(next.report.warningCount, 0, next.report.rendered())
        XCTAssertEqual(next.users.count, summary.users)
        XCTAssertEqual(next.demographics.count, summary.users)
        XCTAssertEqual(next.academicSessions.map(\.schoolYear), [2026, 2026, 2026])
        XCTAssertEqual(next.academicSessions.first?.title, "2025-26 School Year")
        XCTAssertEqual(next.academicSessions.first?.startDate, OneRosterDate(year: 2025, month: 8, day: 19))
        // Teachers stay; most students stay a grade up; seniors leave.
        let before = Dictionary(uniqueKeysWithValues: now.users.map { ($0.sourcedId, $0) })
        let after = Dictionary(uniqueKeysWithValues: next.users.map { ($0.sourcedId, $0) })
        XCTAssertEqual(now.users.filter { $0.role == .teacher }.map(\.sourcedId), next.users.filter { $0.role == .teacher }.map(\.sourcedId))
        let gone = Set(before.keys).subtracting(after.keys)
        XCTAssertFalse(gone.isEmpty)
        XCTAssertTrue(gone.allSatisfy { before[$0]?.grades == ["12"] }, "only seniors leave")
        XCTAssertGreaterThan(after.count, before.count * 3 / 4, "most students stay")
        for (id, user) in after where user.role == .student {
            let old = try XCTUnwrap(before[id])
            XCTAssertEqual(old.givenName, user.givenName)
            if let grade = old.grades.first, grade != "05", grade != "08", let n = Int(grade) {
                XCTAssertEqual(user.grades, [String(format: "%02d", n + 1)], id)
            }
        }
        // New sourcedIds for courses, classes and enrollments; of the courses, codes kept and titles renamed.
        XCTAssertTrue(Set(now.courses.map(\.sourcedId)).isDisjoint(with: next.courses.map(\.sourcedId)))
        XCTAssertTrue(Set(now.classes.map(\.sourcedId)).isDisjoint(with: next.classes.map(\.sourcedId)))
        XCTAssertTrue(Set(now.enrollments.map(\.sourcedId)).isDisjoint(with: next.enrollments.map(\.sourcedId)))
        XCTAssertTrue(next.enrollments.allSatisfy { after[$0.userSourcedId] != nil }, "no enrollment of a student who left")
        let codes = zip(now.courses, next.courses).map { ($0.courseCode == $1.courseCode, $0.title == $1.title) }
        XCTAssertEqual(codes.prefix(4).map(\.0), [true, true, false, false])
        XCTAssertEqual(codes.prefix(4).map(\.1), [true, false, false, false])
        XCTAssertEqual(next.courses[2].title, now.courses[2].title.uppercased())
        // The base year is the sample as it always was.
        XCTAssertEqual(now.courses.first?.sourcedId, "crs-1")
        XCTAssertEqual(now.academicSessions.first?.sourcedId, "as-2025")
        XCTAssertThrowsError(try district(2024))
    }

    func testEachDefectIsLoadedWithItsWarning() throws {
        for version in ["1.1", "1.2"] {
            let (b, summary) = try district(2025, version: version, defects: SampleBundle.defectNames)
            XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
            XCTAssertEqual(Set(b.report.issues.map(\.code.rawValue)), Set(SampleBundle.defectNames), b.report.rendered())
            XCTAssertTrue(b.report.issues.allSatisfy { $0.severity == .warning })
            XCTAssertEqual(b.users.count, summary.users)
            XCTAssertEqual(b.classes.count, 60)
        }
        XCTAssertThrowsError(try district(2025, defects: ["no-such-defect"]))
    }
}
