import WorkflowEngine
import XCTest

/// The pure step function: what is allowed, to whom, and what follows.
final class EngineStepTests: XCTestCase {
    var definition: WorkflowDefinition!

    override func setUpWithError() throws {
        let (parsed, problems) = WorkflowLoader.parse(yaml: """
            workflow: demo
            version: 3
            initial: requested
            states:
              requested:
                after: { P2D: nudge }
                on:
                  authenticate:
                    - { to: authenticated, guard: existing_customer, roles: [vendor_admin], effects: [welcome] }
                    - { to: rejected, roles: [vendor_admin], reason: "not an existing customer" }
                  nudge: { to: stay, roles: [system], effects: [remind] }
                  hold: { to: on_hold, roles: [vendor_admin] }
              authenticated:
                enter: [ask_time]
                after: { P3D: remind_school }
                on:
                  remind_school: { to: authenticated, roles: [system] }
                  hold: { to: on_hold, roles: [vendor_admin] }
              on_hold:
                on:
                  resume: { to: previous, roles: [vendor_admin] }
              rejected:
                final: true
                refuse:
                  authenticate: "it was already rejected"
            """, file: "demo.yaml")
        XCTAssertEqual(problems, [])
        definition = try XCTUnwrap(parsed)
    }

    func guards(customer: Bool) -> GuardTable {
        GuardTable(["existing_customer": { _, _ in customer ? .pass : .refuse("tenant is not a customer") }])
    }

    func testFirstPassingCandidateWinsWithEffectsAndTimers() throws {
        let outcome = try Engine.step(
            definition: definition, position: .init(state: "requested"), event: "authenticate", role: .vendorAdmin,
            guards: guards(customer: true))
        XCTAssertEqual(outcome.to, "authenticated")
        XCTAssertTrue(outcome.entersState)
        XCTAssertEqual(outcome.effects.map(\.name), ["welcome", "ask_time"])
        XCTAssertEqual(outcome.timers.map(\.event), ["remind_school"])
    }

    func testFallbackCandidateRecordsWhyTheGuardRefused() throws {
        let outcome = try Engine.step(
            definition: definition, position: .init(state: "requested"), event: "authenticate", role: .vendorAdmin,
            guards: guards(customer: false))
        XCTAssertEqual(outcome.to, "rejected")
        XCTAssertEqual(outcome.reason, "not an existing customer: tenant is not a customer")
    }

    func testEventNotAllowedListsAllowedEvents() {
        XCTAssertThrowsError(try Engine.step(
            definition: definition, position: .init(state: "requested"), event: "resume", role: .vendorAdmin,
            guards: guards(customer: true))
        ) { error in
            let refused = error as? EventRefused
            XCTAssertEqual(refused?.code, .eventNotAllowed)
            XCTAssertEqual(refused?.allowedEvents, ["authenticate", "hold"])
            XCTAssertTrue(refused?.description.contains("Allowed to the vendor admin here: authenticate, hold") ?? false)
        }
    }

    func testWrongRoleIsRefusedNamingTheRightOne() {
        XCTAssertThrowsError(try Engine.step(
            definition: definition, position: .init(state: "requested"), event: "authenticate", role: .schoolAdmin,
            guards: guards(customer: true))
        ) { error in
            let refused = error as? EventRefused
            XCTAssertEqual(refused?.code, .roleNotAllowed)
            XCTAssertEqual(refused?.allowedRoles, [.vendorAdmin])
            XCTAssertEqual(refused?.allowedEvents, [])
        }
    }

    func testFinalStateRefusalCarriesTheWorkflowsExplanation() {
        XCTAssertThrowsError(try Engine.step(
            definition: definition, position: .init(state: "rejected"), event: "authenticate", role: .vendorAdmin,
            guards: guards(customer: true))
        ) { error in
            let refused = error as? EventRefused
            XCTAssertEqual(refused?.code, .finalState)
            XCTAssertEqual(refused?.explanation, "it was already rejected")
        }
    }

    func testStayDoesNotReenterAndPreviousReturns() throws {
        let stay = try Engine.step(
            definition: definition, position: .init(state: "requested"), event: "nudge", role: .system,
            guards: guards(customer: true))
        XCTAssertEqual(stay.to, "requested")
        XCTAssertFalse(stay.entersState)
        XCTAssertEqual(stay.timers, [])
        XCTAssertEqual(stay.effects.map(\.name), ["remind"])

        let back = try Engine.step(
            definition: definition, position: .init(state: "on_hold", previousState: "authenticated"), event: "resume",
            role: .vendorAdmin, guards: guards(customer: true))
        XCTAssertEqual(back.to, "authenticated")
        XCTAssertEqual(back.effects.map(\.name), ["ask_time"])
    }

    func testSelfTransitionReentersAndRearmsTimers() throws {
        let outcome = try Engine.step(
            definition: definition, position: .init(state: "authenticated"), event: "remind_school", role: .system,
            guards: guards(customer: true))
        XCTAssertTrue(outcome.entersState)
        XCTAssertEqual(outcome.timers.map(\.duration.seconds), [3 * 86_400])
    }

    func testDiagrams() {
        let mermaid = definition.diagram(.mermaid)
        XCTAssertTrue(mermaid.hasPrefix("stateDiagram-v2"))
        XCTAssertTrue(mermaid.contains("[*] --> requested"))
        XCTAssertTrue(mermaid.contains("requested --> authenticated: authenticate [existing_customer] (vendor_admin)"))
        XCTAssertTrue(mermaid.contains("rejected --> [*]"))
        let dot = definition.diagram(.dot)
        XCTAssertTrue(dot.hasPrefix("digraph \"demo@3\""))
        XCTAssertTrue(dot.contains("\"requested\" -> \"rejected\" [label=\"authenticate (vendor_admin)\"]"))
        XCTAssertTrue(dot.contains("\"requested\" -> \"requested\" [label=\"nudge (system) after P2D\"]"))
    }
}
