import Foundation
@testable import rosterflow
import RosterFlowCore
import XCTest

/// `workflows validate` refuses definitions that lack a name the code relies on; `--json` errors say where they were
/// made; the CLI alone maps codes to exit codes.
extension CLITests {
    func testRenamingADomainStateInACopyOfWorkflowsIsRefused() throws {
        let copy = folder + "/Workflows-renamed"
        try FileManager.default.copyItem(atPath: Self.workflows, toPath: copy)
        let file = copy + "/integration.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "on_hold", with: "waiting_for_review").write(toFile: file, atomically: true, encoding: .utf8)

        let refused = try rosterflow("workflows", "validate", copy, expect: 78)
        XCTAssertTrue(refused.stdout.contains("[missing-required-state]"), refused.stdout)
        XCTAssertTrue(refused.stdout.contains("workflow 'integration' has no state 'on_hold', which RosterFlow relies on"),
                      refused.stdout)
        let json = try rosterflow("workflows", "validate", copy, "--json", expect: 78).json()
        XCTAssertEqual(json["valid"] as? Bool, false)
        let problems = try XCTUnwrap(json["problems"] as? [[String: Any]])
        XCTAssertEqual(problems.compactMap { $0["code"] as? String }, ["missing-required-state"])

        // An event the code sends, renamed, is refused the same way; commands that load the copy refuse it too.
        try text.replacingOccurrences(of: "resume:", with: "continue:").write(toFile: file, atomically: true, encoding: .utf8)
        let event = try rosterflow("workflows", "validate", copy, expect: 78)
        XCTAssertTrue(event.stdout.contains("has no event 'resume'"), event.stdout)
        let list = try rosterflow("integrations", "list", "--workflows", copy, "--json", expect: 78).json()
        XCTAssertEqual(list["code"] as? String, "workflow-definition")
        XCTAssertEqual(list["cause"] as? String, "invalid-workflow")

        XCTAssertTrue(try rosterflow("workflows", "validate", Self.workflows).stdout.hasPrefix("ok: "))
    }

    func testJSONErrorsSayWhereTheyWereMade() throws {
        let missing = try rosterflow("integrations", "show", "int_nope", "--json", expect: 66).json()
        XCTAssertEqual(missing["code"] as? String, "not-found")
        let at = try XCTUnwrap(missing["at"] as? String)
        XCTAssertTrue(at.hasPrefix("RosterFlowCore/RosterFlowService"), at)
        XCTAssertNotNil(Int(at.split(separator: ":").last ?? ""), at)
        // Argument errors have no throw site of ours.
        let arguments = try rosterflow("integrations", "show", "--json", "--bogus", expect: 64).json()
        XCTAssertNil(arguments["at"])
    }

    func testEveryCodeHasTheExitCodeTheREADMEDocuments() throws {
        let documented: [RosterFlowError.Code: Int32] = [
            .refused: 3, .stale: 4, .conflict: 5, .invalidInput: 64, .notFound: 66, .unavailable: 69, .unexpected: 70, .storage: 74,
            .busy: 75,
            .workflowDefinition: 78, .cancelled: 130,
        ]
        for (code, exit) in documented { XCTAssertEqual(code.exitCode, exit, code.rawValue) }
        let readme = try String(contentsOfFile: Self.workflows + "/../README.md", encoding: .utf8)
        for exit in Set(documented.values) where exit != 130 {
            XCTAssertTrue(readme.contains("| \(exit) |"), "the README's exit table lacks \(exit)")
        }
    }
}
