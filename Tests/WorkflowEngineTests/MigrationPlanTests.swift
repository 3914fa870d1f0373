import WorkflowEngine
import XCTest

/// Migration plans: reading, validation against two versions (with lines), and where each instance goes with its timers.
final class MigrationPlanTests: XCTestCase {
    /// Version 1: review (a 3-day reminder) → approved (final) or waiting.
    let v1 = """
        workflow: w
        version: 1
        initial: review
        states:
          review:
            after: { P3D: remind }
            on:
              approve: { to: approved, roles: [vendor_admin] }
              park: { to: waiting, roles: [vendor_admin] }
              remind: { to: stay, roles: [system] }
          waiting:
            on:
              resume: { to: review, roles: [vendor_admin] }
          approved:
            final: true
        """

    /// Version 2: `waiting` renamed `parked`, a new `late_review` state (a split of review), the reminder moved to 2 days.
    let v2 = """
        workflow: w
        version: 2
        initial: review
        states:
          review:
            after: { P2D: remind }
            on:
              approve: { to: approved, roles: [vendor_admin] }
              park: { to: parked, roles: [vendor_admin] }
              remind: { to: stay, roles: [system] }
              late: { to: late_review, roles: [system] }
          late_review:
            after: { P5D: escalate }
            on:
              approve: { to: approved, roles: [vendor_admin] }
              escalate: { to: stay, roles: [system] }
          parked:
            on:
              resume: { to: review, roles: [vendor_admin] }
          approved:
            final: true
        """

    func definition(_ text: String) throws -> WorkflowDefinition {
        let (definition, problems) = WorkflowLoader.parse(yaml: text, file: "w.yaml")
        XCTAssertEqual(problems, [])
        return try XCTUnwrap(definition)
    }

    func plan(_ text: String, file: String = "w-1-to-2.yaml") throws -> MigrationPlan {
        let (plan, problems) = MigrationPlan.parse(yaml: text, file: file, knownGuards: ["has_content"])
        XCTAssertEqual(problems, [], "\(problems)")
        return try XCTUnwrap(plan)
    }

    static let splitPlan = """
        workflow: w
        from: 1
        to: 2
        states:
          waiting: parked
          review:
            - { to: late_review, when: in_state_over P4D }
            - { to: review }
        timers: keep
        """

    let day = 86_400.0

    func testARenameASplitByAConditionAndANewStateWithTheirTimersKeepingTheTimeWaited() throws {
        let (old, new) = (try definition(v1), try definition(v2))
        let plan = try plan(Self.splitPlan)
        XCTAssertEqual(plan.name, "w-1-to-2", "the file name when `plan:` is not given")
        XCTAssertEqual(plan.validate(from: old, to: new), [])
        let now = 10 * day
        func move(_ state: String, enteredDaysAgo: Double, timers: [MigrationMove.TimerAfter], previous: String? = nil) throws -> MigrationMove {
            let subject = MigrationSubject(
                state: state, previousState: previous, createdAt: 0, enteredAt: now - enteredDaysAgo * day, timers: timers)
            return try MigrationPlanner.move(plan: plan, old: old, new: new, subject: subject, now: now) { _ in XCTFail(); return false }
        }
        // Renamed, no timers; its previous state is renamed too.
        let parked = try move("waiting", enteredDaysAgo: 1, timers: [], previous: "review")
        XCTAssertEqual(parked.state, "parked")
        XCTAssertEqual(parked.previousState, "review")
        XCTAssertEqual(parked.timers, [])
        XCTAssertEqual(try move("review", enteredDaysAgo: 1, timers: [], previous: "waiting").previousState, "parked")

        // 1 day in review, its 3-day reminder pending: stays in review, the reminder moved to 2 days counts the day
        // already waited (due tomorrow, not in two days).
        let young = try move("review", enteredDaysAgo: 1, timers: [.init(event: "remind", dueAt: now + 2 * day)])
        XCTAssertEqual(young.state, "review")
        XCTAssertNil(young.condition)
        XCTAssertEqual(young.timers, [.init(event: "remind", dueAt: now + day)])

        // 2.5 days in review: the 2-day reminder is already due (the worker sends it at once).
        let due = try move("review", enteredDaysAgo: 2.5, timers: [.init(event: "remind", dueAt: now + 0.5 * day)])
        XCTAssertEqual(due.timers, [.init(event: "remind", dueAt: now - 0.5 * day)])
        XCTAssertLessThan(due.timers[0].dueAt, now)

        // 3.5 days in review: its reminder fired (no timer pending): it is not sent again.
        XCTAssertEqual(try move("review", enteredDaysAgo: 3.5, timers: []).timers, [])

        // Over 4 days: split into the new state late_review, whose 5-day escalation counts from when it entered review.
        let late = try move("review", enteredDaysAgo: 4.5, timers: [])
        XCTAssertEqual(late.state, "late_review")
        XCTAssertEqual(late.condition, "in_state_over P4D")
        XCTAssertEqual(late.timers, [.init(event: "escalate", dueAt: now + 0.5 * day)])
    }

    func testRestartArmsTheNewStatesTimersFromTheMigration() throws {
        let (old, new) = (try definition(v1), try definition(v2))
        let plan = try plan(Self.splitPlan.replacingOccurrences(of: "timers: keep", with: "timers: restart"))
        XCTAssertEqual(plan.timers, .restart)
        let now = 10 * day
        let subject = MigrationSubject(state: "review", previousState: nil, createdAt: 0, enteredAt: now - 3.5 * day, timers: [])
        let moved = try MigrationPlanner.move(plan: plan, old: old, new: new, subject: subject, now: now) { _ in false }
        XCTAssertEqual(moved.timers, [.init(event: "remind", dueAt: now + 2 * day)])
    }

    func testAGuardConditionIsAskedAndTheFilterSaysWhyAnInstanceStays() throws {
        let (old, new) = (try definition(v1), try definition(v2))
        let plan = try plan("""
            workflow: w
            from: 1
            to: 2
            states:
              waiting: parked
              review:
                - { to: late_review, when: has_content }
                - { to: review }
            only: { states: [review, waiting], min_age: P1D, max_age: P30D }
            """)
        let subject = MigrationSubject(state: "review", previousState: nil, createdAt: 0, enteredAt: 0, timers: [])
        var asked: [String] = []
        let moved = try MigrationPlanner.move(plan: plan, old: old, new: new, subject: subject, now: 5 * day) { asked.append($0); return true }
        XCTAssertEqual(asked, ["has_content"])
        XCTAssertEqual(moved.state, "late_review")
        XCTAssertNil(MigrationPlanner.exclusion(plan: plan, old: old, subject: subject, now: 5 * day))
        XCTAssertEqual(MigrationPlanner.exclusion(plan: plan, old: old, subject: subject, now: 0.5 * day),
                       "it is younger than the plan's min_age P1D")
        XCTAssertEqual(MigrationPlanner.exclusion(plan: plan, old: old, subject: subject, now: 31 * day),
                       "it is older than the plan's max_age P30D")
        var final = subject
        final.state = "approved"
        XCTAssertEqual(MigrationPlanner.exclusion(plan: plan, old: old, subject: final, now: 5 * day),
                       "it is in final state 'approved', which stays")
    }

    func testValidationRefusesUnknownAndUnmappedStatesWithTheirLines() throws {
        let (old, new) = (try definition(v1), try definition(v2))
        // `waiting` is not in version 2 and not mapped; `reviw` is not a state of version 1; `review` goes nowhere known.
        let plan = try plan("""
            workflow: w
            from: 1
            to: 2
            states:
              reviw: review
              review:
                - { to: late_reviews, when: in_state_over P4D }
                - { to: review }
              approved: review
            """)
        let problems = plan.validate(from: old, to: new)
        XCTAssertEqual(Set(problems.map(\.code)), [.unknownSourceState, .unmappedState, .unknownTargetState, .finalStateMoved], "\(problems)")
        let unknown = try XCTUnwrap(problems.first { $0.code == .unknownSourceState })
        XCTAssertEqual(unknown.location.line, 5)
        XCTAssertEqual(unknown.state, "reviw")
        let unmapped = try XCTUnwrap(problems.first { $0.code == .unmappedState })
        XCTAssertEqual(unmapped.state, "waiting")
        XCTAssertTrue(unmapped.message.contains("map it: `waiting: NEW_STATE`"), unmapped.message)
        XCTAssertEqual(problems.first { $0.code == .unknownTargetState }?.location.line, 7)
        XCTAssertEqual(problems.first { $0.code == .finalStateMoved }?.location.line, 9)
        XCTAssertTrue(problems.allSatisfy { $0.description.hasPrefix("w-1-to-2.yaml:") }, "\(problems)")
    }

    func testStructuralProblemsOfAPlanAreAllReported() {
        let (plan, problems) = MigrationPlan.parse(yaml: """
            workflow: w
            from: 1
            to: 1
            states:
              review:
                - { to: late_review, when: sometimes }
            timers: later
            colour: blue
            """, file: "bad.yaml", knownGuards: ["has_content"])
        XCTAssertNil(plan)
        XCTAssertEqual(problems.map(\.code), [.unknownKey, .badValue, .unknownCondition, .badValue], "\(problems)")
        XCTAssertEqual(problems.map(\.location.line), [8, 3, 6, 7])
    }

    func testASplitMustEndUnconditionallyAndANonFinalStateMayNotBecomeFinal() throws {
        let (old, new) = (try definition(v1), try definition(v2))
        let plan = try plan("""
            workflow: w
            from: 1
            to: 2
            states:
              waiting: approved
              review:
                - { to: late_review, when: age_over P4D }
            """)
        let problems = plan.validate(from: old, to: new)
        XCTAssertEqual(problems.map(\.code), [.missingField, .finalStateMoved], "\(problems)")
        XCTAssertEqual(problems.map(\.location.line), [7, 5])
    }
}
