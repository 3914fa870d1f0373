import CodedErrors
import WorkflowEngine
import XCTest

/// States and events the code relies on are required of the workflow that should define them.
final class RequiredNamesTests: XCTestCase {
    let yaml = """
        workflow: w
        version: 1
        initial: open
        states:
          open:
            on:
              pause: { to: paused, roles: [system] }
          paused:
            on:
              go_on: { to: open, roles: [system] }
        """

    func testAMissingRequiredStateOrEventIsRefusedByName() throws {
        let validator = WorkflowValidator(requiredNames: [
            "w": .init(states: [("on_hold", "a held sync parks it there"), ("open", "opened")],
                       events: [("resume", "approving sends it"), ("pause", "pausing")]),
        ])
        let (definition, parseProblems) = WorkflowLoader.parse(yaml: yaml, file: "w.yaml")
        XCTAssertEqual(parseProblems, [])
        let problems = validator.validate(try XCTUnwrap(definition))
        XCTAssertEqual(problems.map(\.code), [.missingRequiredState, .missingRequiredEvent])
        XCTAssertTrue(problems[0].description.contains("has no state 'on_hold', which RosterFlow relies on (a held sync parks it there)"),
                      problems[0].description)
        XCTAssertTrue(problems[1].description.contains("has no event 'resume'"), problems[1].description)
        XCTAssertTrue(problems[0].description.hasPrefix("w.yaml:"), problems[0].description)

        // Another workflow's requirements do not apply, and without requirements nothing is required.
        XCTAssertEqual(WorkflowValidator(requiredNames: ["other": .init(states: [("on_hold", "x")], events: [])])
            .validate(try XCTUnwrap(definition)), [])
        XCTAssertEqual(WorkflowValidator().validate(try XCTUnwrap(definition)), [])
    }

    func testValidationErrorsKeepTheirThrowSite() throws {
        let folder = try TestPaths.temporaryFolder()
        try "workflow: x\nversion: 1\ninitial: a\nstates:\n  a:\n    on:\n      go: { to: nowhere, roles: [system] }\n"
            .write(toFile: folder + "/one.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WorkflowCatalog.load(from: folder)) { error in
            guard let validation = error as? WorkflowValidationError else { return XCTFail("\(error)") }
            XCTAssertEqual(validation.codeName, "invalid-workflow")
            XCTAssertEqual(validation.site.fileID, "WorkflowEngine/WorkflowCatalog.swift")
            XCTAssertGreaterThan(validation.site.line, 0)
            XCTAssertTrue(validation.message.hasPrefix("1 problem in workflow definitions:"), validation.message)
        }
        let here = #line + 1
        let made = WorkflowValidationError(problems: [])
        XCTAssertEqual(made.site.description, "WorkflowEngineTests/RequiredNamesTests.swift:\(here)")
    }
}
