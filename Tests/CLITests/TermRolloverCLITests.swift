import Foundation
import XCTest

/// Term rollover through the real binary, on a district whose school year is the one running today: the current term
/// marked in `classes available`, no offer before a term ends (`classes rollover`), and restoring a class that is not
/// archived refused with the workflow's words.
extension CLITests {
    func testClassesRolloverAndRestoreFromTheCommandLine() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.dateComponents([.year, .month], from: Date())
        let schoolYear = (today.month ?? 1) >= 7 ? (today.year ?? 2026) + 1 : (today.year ?? 2026)
        let bundle = folder + "/district"
        try rosterflow("sample-bundle", bundle, "--users", "120", "--classes", "6", "--enrollments", "400", "--school-year", "\(schoolYear)")
        let rows = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        // A later school year's district names its classes by year: take the first teacher's first class.
        let first = try XCTUnwrap(rows.first { $0.count > 6 && $0[6] == "teacher" })
        let (cls, teacher) = (first[3], first[5])
        let other = try XCTUnwrap(rows.first { $0.count > 6 && $0[6] == "teacher" && $0[3] != cls }?[3])
        let id = try scheduledIntegration()
        try rosterflow("integrations", "mode", id, "on-demand")
        try rosterflow("sync", "run", "--integration", id, "--bundle", bundle)

        let available = try rosterflow("classes", "available", "--teacher", teacher).stdout
        XCTAssertEqual(available.components(separatedBy: "\tcurrent term").count - 1, 1, available)
        XCTAssertTrue(available.contains("school year \(schoolYear)"), available)
        let listed = try rosterflow("classes", "available", "--teacher", teacher, "--json").stdout
        let terms = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]], listed)
        XCTAssertEqual(terms.filter { $0["current"] as? Bool == true }.count, 1)
        XCTAssertNotNil(terms.first?["endDate"] as? String, "the held sessions keep their dates")

        XCTAssertTrue(try rosterflow("classes", "import", "--teacher", teacher, cls).stdout.contains("\(cls)\timported"))
        XCTAssertEqual(try rosterflow("classes", "rollover", "--teacher", teacher).stdout, "no offer of next term's classes for \(teacher)\n")
        let none = try rosterflow("classes", "rollover", "--teacher", teacher, "--accept", expect: 66)
        XCTAssertTrue(none.stderr.contains("no open offer"), none.stderr)
        try rosterflow("classes", "rollover", "--teacher", teacher, "--accept", "--decline", expect: 64)
        let notArchived = try rosterflow("classes", "restore", cls, "--integration", id, expect: 3)
        XCTAssertTrue(notArchived.stderr.contains("not archived"), notArchived.stderr)
        try rosterflow("classes", "restore", other, "--integration", id, expect: 66)
    }
}
