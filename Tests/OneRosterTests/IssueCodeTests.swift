import Foundation
import OneRoster
import XCTest

/// The issue codes no other test reaches, each with its file, line, value and what happened to the row.
final class IssueCodeTests: OneRosterTestCase {
    func testABadUserIdItemIsIgnoredWithAWarningAndTheUserLoaded() throws {
        var files = Fixture.bundle11()
        files["users.csv"] = Fixture.users11.replacingOccurrences(of: "tina,{LDAP:1},", with: "tina,\"{LDAP:1},LDAP-2\",")
        let b = try read(files)
        let i = try issue(b, .badUserId)
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.file, "users.csv")
        XCTAssertEqual(i.line, 2)
        XCTAssertEqual(i.column, "userIds")
        XCTAssertEqual(i.value, "LDAP-2")
        XCTAssertEqual(b.users.first { $0.sourcedId == "t-1" }?.userIds.map(\.csvText), ["{LDAP:1}"])
        XCTAssertTrue(b.quarantined.isEmpty)
    }

    func testAGradeThatIsNotACEDSCodeIsAWarningWithAHint() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: "cls-1,,,Biology P1,09,", with: "cls-1,,,Biology P1,9,")
        let b = try read(files)
        let i = try issue(b, .nonstandardGrade, file: "classes.csv")
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.line, 2)
        XCTAssertEqual(i.column, "grades")
        XCTAssertEqual(i.value, "9")
        XCTAssertTrue(i.message.contains("Use two digits, e.g. `09`"), i.message)
        XCTAssertEqual(b.classes.count, 2, "the class is loaded")
    }

    func testADuplicatedHeaderIsAWarningNamingTheColumn() throws {
        var files = Fixture.bundle11()
        var lines = Fixture.users11.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[0] += ",email"
        for index in 1..<lines.count where !lines[index].isEmpty { lines[index] += ",dup@example.org" }
        files["users.csv"] = lines.joined(separator: "\n")
        let b = try read(files)
        let i = try issue(b, .duplicateHeader)
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.file, "users.csv")
        XCTAssertEqual(i.line, 1)
        XCTAssertEqual(i.column, "email")
        XCTAssertEqual(b.users.count, 3)
    }

    func testAStrayQuoteIsKeptWithAWarningAndAnUnclosedOneQuarantinesTheRow() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: "Biology P2", with: "Biology \"P2")
        let stray = try read(files)
        let warning = try issue(stray, .badQuoting)
        XCTAssertEqual(warning.severity, .warning)
        XCTAssertEqual(warning.line, 3)
        XCTAssertEqual(stray.classes.first { $0.sourcedId == "cls-2" }?.title, "Biology \"P2")

        files["classes.csv"] = Fixture.classes.trimmingCharacters(in: .newlines) + "\ncls-3,,,\"Chemistry,09,crs-1,CH,scheduled,Room 3,org-s1,as-t1,Science,,3\n"
        let cut = try read(files)
        let error = try issue(cut, .badQuoting)
        XCTAssertEqual(error.severity, .error)
        XCTAssertEqual(error.line, 4)
        assertQuarantined(cut, file: "classes.csv", line: 4, reason: .badQuoting)
        XCTAssertEqual(cut.classes.map(\.sourcedId), ["cls-1", "cls-2"])
    }

    func testAFileOutsideRosteringIsListedAsNotRead() throws {
        var files = Fixture.bundle11()
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11, extra: ["file.resources,bulk"])
        files["resources.csv"] = "sourcedId,status,dateLastModified,vendorResourceId,title\nr-1,,,V1,Atlas\n"
        let b = try read(files)
        let i = try issue(b, .fileNotRead)
        XCTAssertEqual(i.severity, .info)
        XCTAssertEqual(i.file, "resources.csv")
        XCTAssertFalse(b.report.hasErrors)
    }
}
