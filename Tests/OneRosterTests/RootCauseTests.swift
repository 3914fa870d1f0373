import Foundation
import OneRoster
import XCTest

/// One root cause, one entry: rows not loaded only because a row they refer to was not loaded are counted under it.
final class RootCauseTests: OneRosterTestCase {
    /// A school whose type is unknown, with `students` students each in one class.
    func bundleWithABrokenSchool(students: Int) -> [String: String] {
        var files = Fixture.bundle11()
        files["orgs.csv"] = Fixture.orgs.replacingOccurrences(of: "Test High,school", with: "Test High,campus")
        var users = Fixture.users11
        var enrollments = Fixture.enrollments
        for n in 0..<students {
            users += "x-\(n),,,true,org-s1,student,x\(n),,X,Student\(n),,,,,,,09,\n"
            enrollments += "ex-\(n),,,cls-1,org-s1,x-\(n),student,,,\n"
        }
        files["users.csv"] = users
        files["enrollments.csv"] = enrollments
        return files
    }

    func testOneBrokenOrgWithHundredsOfDependantsIsOneRootCause() throws {
        let b = try read(bundleWithABrokenSchool(students: 300))
        XCTAssertEqual(b.report.rootCauses.count, 1, b.report.rootCauses.map(\.summary).joined(separator: "\n"))
        let root = try XCTUnwrap(b.report.rootCauses.first)
        XCTAssertEqual(root.id, "orgs.csv:3")
        XCTAssertEqual(root.sourcedId, "org-s1")
        XCTAssertEqual(root.codes, [.unknownEnumValue])
        XCTAssertEqual(root.followers, ["classes.csv": 2, "users.csv": 303, "enrollments.csv": 303])
        XCTAssertEqual(root.rows, 1 + 2 + 303 + 303)
        XCTAssertEqual(b.quarantined.count, root.rows)
        XCTAssertTrue(b.quarantined.allSatisfy { $0.rootCause == "orgs.csv:3" })
        XCTAssertTrue(root.summary.contains("1 fix → 2 classes, 303 users, 303 enrollments follow"), root.summary)

        // Every affected row is still an issue in the JSON, pointing at its root cause.
        let json = try JSONSerialization.jsonObject(with: b.report.jsonData()) as? [String: Any]
        let issues = try XCTUnwrap(json?["issues"] as? [[String: Any]])
        let following = issues.filter { $0["rootCause"] as? String == "orgs.csv:3" }
        XCTAssertEqual(Set(following.map { "\($0["file"] ?? ""):\($0["line"] ?? "")" }).count, 2 + 303 + 303)
        XCTAssertEqual((json?["rootCauses"] as? [[String: Any]])?.first?["rows"] as? Int, 609)

        // Text leads with the root cause; the followers are counted, and listed with `all`.
        let text = b.report.rendered(maxPerFile: 50)
        XCTAssertTrue(text.hasPrefix("Root causes (1), by rows they cost:\n  609 rows: org `org-s1` (orgs.csv:3) was not loaded"), text)
        XCTAssertTrue(text.contains("303 rows not loaded only because of a root cause above (`--all` lists them)"), text)
        XCTAssertFalse(text.contains("enrollments.csv:12 "), "followers are not listed one by one")
        XCTAssertLessThan(text.split(separator: "\n").count, 30, text)
        let all = b.report.rendered(maxPerFile: 1_000, all: true)
        XCTAssertTrue(all.contains("enrollments.csv:12 "), "with all, each row is listed")
        XCTAssertGreaterThan(all.split(separator: "\n").count, 600)
    }

    func testRootCausesAreOrderedByTheRowsTheyCost() throws {
        var files = bundleWithABrokenSchool(students: 5)
        // A second, cheaper root cause: a class with a bad type and one enrollment in it.
        files["classes.csv"] = Fixture.classes + "cls-3,,,Lab,,crs-1,,lab,,org-d,as-t1,,,\n"
        files["enrollments.csv"]! += "e-lab,,,cls-3,org-d,t-1,teacher,,,\n"
        // And a row with a fault of its own and nothing following.
        files["courses.csv"] = Fixture.courses + "crs-2,,,as-y,,C2,,org-d,,\n"
        let b = try read(files)
        XCTAssertEqual(b.report.rootCauses.map(\.id), ["orgs.csv:3", "classes.csv:4", "courses.csv:3"])
        XCTAssertEqual(b.report.rootCauses.map(\.rows), [1 + 2 + 8 + 8, 2, 1])
    }

    func testAMissingColumnIsOneRootCauseForTheWholeFile() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: ",classType,", with: ",kind,")
        let b = try read(files)
        let root = try XCTUnwrap(b.report.rootCauses.first)
        XCTAssertEqual(root.id, "classes.csv")
        XCTAssertNil(root.line)
        XCTAssertEqual(root.followers, ["enrollments.csv": 3])
        XCTAssertEqual(root.rows, 2 + 3)
        XCTAssertEqual(b.report.rootCauses.count, 1)
    }

    func testAReportStoredBeforeRootCausesStillReads() throws {
        let old = #"{"countsByCode":{},"errorCount":0,"files":[],"infoCount":0,"issues":[],"warningCount":0}"#
        let report = try JSONDecoder().decode(ValidationReport.self, from: Data(old.utf8))
        XCTAssertEqual(report.rootCauses, [])
    }
}
