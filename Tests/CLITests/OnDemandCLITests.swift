import Foundation
import XCTest

/// On-demand rostering through the real binary: the mode, a teacher's classes and import, a student's sign-in and
/// placements, the explanation, the unlinked queue, and a hand change to an imported roster refused.
extension CLITests {
    func testOnDemandRosteringFromTheCommandLine() throws {
        let bundle = folder + "/district"
        try rosterflow("sample-bundle", bundle, "--users", "120", "--classes", "6", "--enrollments", "400")
        let rows = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let teacher = try XCTUnwrap(rows.first { $0[3] == "cls-1" && $0[6] == "teacher" }?[5])
        let student = try XCTUnwrap(rows.first { $0[3] == "cls-1" && $0[6] == "student" }?[5])
        let id = try scheduledIntegration()

        XCTAssertTrue(try rosterflow("integrations", "show", id).stdout.contains("provisioning: pre-provisioned"))
        XCTAssertEqual(try rosterflow("integrations", "mode", id, "on-demand", "--json").json()["provisioningMode"] as? String, "on-demand")
        try rosterflow("integrations", "mode", id, "sideways", expect: 64)
        try rosterflow("sync", "run", "--integration", id, "--bundle", bundle)
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["courseCount"] as? Int, 0)

        let available = try rosterflow("classes", "available", "--teacher", teacher)
        XCTAssertTrue(available.stdout.contains("cls-1\t"), available.stdout)
        XCTAssertTrue(available.stdout.contains("students"), available.stdout)

        // The student signs in first: a pending placement naming the class.
        let signIn = try rosterflow("identities", "sign-in", "--tenant", "t1", "--user-id", "cl-42", "--sourced-id", student)
        XCTAssertTrue(signIn.stdout.contains("by sourcedId"), signIn.stdout)
        XCTAssertTrue(signIn.stdout.contains("cls-1\tpending"), signIn.stdout)

        let imported = try rosterflow("classes", "import", "--teacher", teacher, "cls-1")
        XCTAssertTrue(imported.stdout.contains("cls-1\timported"), imported.stdout)
        XCTAssertTrue(try rosterflow("students", "placements", student).stdout.contains("cls-1\tplaced"))
        let notMine = try XCTUnwrap(rows.first { $0[6] == "teacher" && $0[5] != teacher }?[3])
        let refused = try rosterflow("classes", "import", "--teacher", teacher, notMine, expect: 3)
        XCTAssertTrue(refused.stdout.contains("\(notMine)\trefused"), refused.stdout)

        let explained = try rosterflow("explain", "placement", "--student", student, "--class", "cls-1", "--json").json()
        XCTAssertEqual(explained["status"] as? String, "placed")
        XCTAssertTrue((explained["steps"] as? [String] ?? []).contains { $0.contains("was imported by") }, "\(explained)")
        XCTAssertTrue(try rosterflow("explain", "placement", "--student", student, "--class", "cls-1").stdout.contains("1. "))

        let hand = try rosterflow("classes", "add-student", "cls-1", "--student", student, "--integration", id, expect: 3)
        XCTAssertTrue(hand.stderr.contains("make this change in your SIS"), hand.stderr)

        // A sign-in nobody matches waits in the queue until a vendor admin links it.
        let lost = try rosterflow("identities", "sign-in", "--tenant", "t1", "--user-id", "cl-43", "--email", "nobody@nowhere.example", "--json").json()
        let code = try XCTUnwrap((lost["link"] as? [String: Any])?["supportCode"] as? String)
        XCTAssertTrue(try rosterflow("identities", "unlinked").stdout.contains(code))
        XCTAssertTrue(try rosterflow("identities", "link", code, "--user", student).stdout.contains("(manual)"))
        XCTAssertEqual(try rosterflow("identities", "unlinked").stdout, "no unlinked sign-ins\n")
        try rosterflow("identities", "link", code, "--user", student, expect: 5)
    }
}
