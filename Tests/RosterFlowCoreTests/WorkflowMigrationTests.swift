import Foundation
import RosterFlowApp
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import WorkflowEngine
import XCTest

/// Moving running instances to a new definition version with a migration plan, on a real database: the shipped plans
/// (integration 6 → 7, course-mapping 2 → 3), a split with a new state and a moved timer, idempotence, a transition
/// made while the migration runs, and plans refused.
final class WorkflowMigrationTests: XCTestCase {
    /// A folder with the definitions as shipped before integration 7 and course-mapping 3: the versions the running
    /// instances started on.
    static func previousVersions() throws -> String {
        let folder = try Fixture.folder() + "/Workflows"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let integration = try String(contentsOfFile: Fixture.workflows + "/integration.yaml", encoding: .utf8)
            .replacingOccurrences(of: "version: 7", with: "version: 6")
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("content_withdrawn") }
            .joined(separator: "\n")
        let course = try String(contentsOfFile: Fixture.workflows + "/course-mapping.yaml", encoding: .utf8)
            .replacingOccurrences(of: "version: 3", with: "version: 2")
            .replacingOccurrences(of: "effects: [store_mapping, withdraw_content]", with: "effects: [store_mapping]")
        try integration.write(toFile: folder + "/integration.yaml", atomically: true, encoding: .utf8)
        try course.write(toFile: folder + "/course-mapping.yaml", atomically: true, encoding: .utf8)
        return folder
    }

    static func shippedPlan(_ name: String) throws -> (text: String, file: String) {
        let file = Fixture.workflows + "/migrations/\(name).yaml"
        return (try String(contentsOfFile: file, encoding: .utf8), file)
    }

    let vendor = Sender(actor: "vendor:ana", role: .vendorAdmin)

    /// A database whose integration runs version 6 and courses version 2 (mapped, verified, content added, locked),
    /// reopened with the shipped definitions as an upgrade does.
    func runningOnPreviousVersions(clock: TestClock) async throws -> (service: RosterFlowService, integration: String, courses: [String: String]) {
        let database = try Fixture.folder() + "/rf.sqlite"
        let old = try RosterFlowService(databasePath: database, workflowsPath: try Self.previousVersions(), clock: { clock.now })
        _ = try await old.importCustomers(csv: Fixture.registry, file: "customers.csv")
        let id = try await Fixture.scheduledIntegration(old)
        var courses: [String: String] = [:]
        for (key, title) in [("mapped", "Algebra I"), ("verified", "Biology"), ("content", "Chemistry"), ("locked", "Drama")] {
            let course = try await old.addCourse(integrationID: id, sourcedID: key, title: title, sender: .system)
            courses[key] = course.id
            _ = try await old.mapCourse(id: course.id, catalogTitle: title + " (2026)", baseID: key.uppercased(), actor: "dsp")
            clock.advance(days: 0.5)
            if key != "mapped" { _ = try await old.verifyCourse(id: course.id, actor: "school") }
            if key == "content" || key == "locked" { _ = try await old.contentAdded(id: course.id, actor: "dsp") }
            if key == "locked" { _ = try await old.studentStarted(id: course.id, actor: "dsp") }
        }
        let service = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        return (service, id, courses)
    }

    func testTheShippedPlansMoveInstancesOfIntegrationSixAndCourseMappingTwoAndASecondRunDoesNothing() async throws {
        let clock = TestClock()
        let (service, integrationID, courses) = try await runningOnPreviousVersions(clock: clock)
        XCTAssertEqual(try service.workflowVersions().map { "\($0.name): " + $0.versions.map { "\($0.version)=\($0.instances)" }.joined(separator: " ") },
                       ["class-import: 2=0", "course-mapping: 2=4 3=0", "integration: 6=1 7=0"])
        let timersBefore = try service.store.readNow { tx in try courses.mapValues { try tx.timers(instanceID: $0) } }
        let outboxBefore = try service.store.readNow { try $0.outbox(instanceID: nil).count }
        let tasksBefore = try service.tasks().map(\.todo)

        let (courseText, courseFile) = try Self.shippedPlan("course-mapping-2-to-3")
        let coursePlan = try service.migrationPlan(yaml: courseText, file: courseFile)
        let dry = try service.migrate(coursePlan, dryRun: true, sender: vendor)
        XCTAssertEqual([dry.migrated, dry.refused, dry.alreadyMigrated], [3, 1, 0])
        let lockedItem = try XCTUnwrap(dry.instances.first { $0.id == courses["locked"] })
        XCTAssertEqual(lockedItem.outcome, .refused)
        XCTAssertEqual(lockedItem.reason, "it is in final state 'locked', which stays")
        let mappedItem = try XCTUnwrap(dry.instances.first { $0.id == courses["mapped"] })
        XCTAssertEqual(mappedItem.outcome, .wouldMigrate)
        XCTAssertEqual(mappedItem.target, "mapped")
        XCTAssertEqual(mappedItem.timersAfter, mappedItem.timersBefore, "same state, same timer: the time waited counts")
        XCTAssertEqual(mappedItem.timersBefore.map(\.event), ["remind_unverified"])
        XCTAssertEqual(try service.workflowVersions().first { $0.name == "course-mapping" }?.versions.first?.instances, 4, "a dry run changes nothing")

        let run = try service.migrate(coursePlan, dryRun: false, sender: vendor)
        XCTAssertEqual([run.migrated, run.refused, run.alreadyMigrated], [3, 1, 0])
        let (integrationText, integrationFile) = try Self.shippedPlan("integration-6-to-7")
        let integrationRun = try service.migrate(
            try service.migrationPlan(yaml: integrationText, file: integrationFile), dryRun: false, sender: vendor)
        XCTAssertEqual(integrationRun.migrated, 1)

        try service.store.readNow { tx in
            for (key, id) in courses {
                let instance = try XCTUnwrap(try tx.instance(id: id))
                XCTAssertEqual(instance.version, key == "locked" ? 2 : 3, key)
                // Re-armed by the migration (new rows, armed now), for the same events, due when they were.
                XCTAssertEqual(try tx.timers(instanceID: id).map { "\($0.event) \($0.dueAt) \($0.armedInState)" },
                               timersBefore[key]?.map { "\($0.event) \($0.dueAt) \($0.armedInState)" }, key)
                let last = try XCTUnwrap(try tx.transitions(instanceID: id).last)
                if key == "locked" { XCTAssertEqual(last.to, "locked"); continue }
                XCTAssertEqual(last.event, "migrated 2 → 3")
                XCTAssertEqual(last.actor, "vendor:ana")
                XCTAssertEqual(last.role, "vendor_admin")
                XCTAssertEqual(last.reason, "plan course-mapping-2-to-3")
                XCTAssertEqual(last.from, instance.state)
                XCTAssertEqual(last.rowVersion, instance.rowVersion)
            }
            XCTAssertEqual(try tx.instance(id: integrationID)?.version, 7)
            XCTAssertEqual(try tx.transitions(instanceID: integrationID).last?.event, "migrated 6 → 7")
            XCTAssertEqual(try tx.outbox(instanceID: nil).count, outboxBefore, "the plans ask for no notification")
        }
        XCTAssertEqual(try service.tasks().map(\.todo), tasksBefore, "the same tasks, now from the new versions")
        XCTAssertEqual(try service.workflowVersions().map { $0.versions.map(\.instances) }, [[0], [1, 3], [0, 1]])

        // A second run does nothing and says so.
        let again = try service.migrate(coursePlan, dryRun: false, sender: vendor)
        XCTAssertEqual([again.migrated, again.alreadyMigrated], [0, 3])
        XCTAssertTrue(again.summary.hasSuffix("nothing to do"), again.summary)

        // Version 3's behaviour now applies: re-mapping the course with content withdraws it (the DSP is told).
        let contentID = try XCTUnwrap(courses["content"])
        _ = try await service.mapCourse(
            id: contentID, catalogTitle: "Chemistry (2027)", baseID: "CHEM2", actor: "dsp", reason: "the 2027 edition")
        XCTAssertTrue(try service.store.readNow { try $0.outbox(instanceID: contentID).map(\.template) }.contains("course-content-withdrawn"))
    }

    /// Course-mapping 3 → a version 4 that moves the school's reminder from 3 to 2 days and adds `mapped_overdue`
    /// (the vendor chases the school), into which the plan splits courses mapped more than 3 days ago.
    func testASplitIntoANewStateAndAMovedTimerKeepTheTimeWaitedAndTheNewTasksShow() async throws {
        let clock = TestClock()
        let database = try Fixture.folder() + "/rf.sqlite"
        let v3 = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        _ = try await v3.importCustomers(csv: Fixture.registry, file: "customers.csv")
        let integration = try await Fixture.scheduledIntegration(v3)
        var ids: [String] = []
        for (index, title) in ["Old", "Due", "Fresh"].enumerated() {
            let course = try await v3.addCourse(integrationID: integration, sourcedID: title, title: title, sender: .system)
            ids.append(course.id)
            _ = try await v3.mapCourse(id: course.id, catalogTitle: title, baseID: title.uppercased(), actor: "dsp")
            clock.advance(days: [1, 2, 0.5][index])
        }
        // Now: Old mapped 3.5 days ago (its 3-day reminder due, not yet sent), Due 2.5 days ago, Fresh 0.5 days ago.
        let folder = try Fixture.folder() + "/Workflows"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixture.workflows + "/integration.yaml", toPath: folder + "/integration.yaml")
        let v4 = try String(contentsOfFile: Fixture.workflows + "/course-mapping.yaml", encoding: .utf8)
            .replacingOccurrences(of: "version: 3", with: "version: 4")
            .replacingOccurrences(of: "after: { P3D: remind_unverified }", with: "after: { P2D: remind_unverified }")
            .replacingOccurrences(of: "      verify: { to: verified, roles: [school_admin] }\n", with: """
                      verify: { to: verified, roles: [school_admin] }
                      overdue: { to: mapped_overdue, roles: [vendor_admin] }

                """)
            .replacingOccurrences(of: "  verified:\n", with: """
                  mapped_overdue:
                    description: Mapped long ago and still not verified; the vendor chases the school.
                    task: { owner: vendor_admin, todo: "Chase the school to verify {subject}" }
                    after: { P5D: remind_unverified }
                    on:
                      map: { to: mapped, roles: [dsp, school_admin], effects: [store_mapping] }
                      verify: { to: verified, roles: [school_admin] }
                      remind_unverified: { to: stay, roles: [system] }

                  verified:

                """)
        try v4.write(toFile: folder + "/course-mapping.yaml", atomically: true, encoding: .utf8)
        let service = try RosterFlowService(databasePath: database, workflowsPath: folder, clock: { clock.now })
        let plan = try service.migrationPlan(yaml: """
            plan: overdue-mappings
            workflow: course-mapping
            from: 3
            to: 4
            states:
              mapped:
                - { to: mapped_overdue, when: in_state_over P3D }
                - { to: mapped }
            timers: keep
            notify: { to: dsp, template: mapping-unverified }
            """, file: "overdue.yaml")
        let outboxBefore = try service.store.readNow { tx in try ids.map { try tx.outbox(instanceID: $0).count } }
        let report = try service.migrate(plan, dryRun: false, sender: vendor)
        XCTAssertEqual(report.migrated, 3)
        let now = clock.now
        let day = 86_400.0
        try service.store.readNow { tx in
            let states = try ids.map { try XCTUnwrap(try tx.instance(id: $0)).state }
            XCTAssertEqual(states, ["mapped_overdue", "mapped", "mapped"])
            let due = try ids.map { try tx.timers(instanceID: $0).map { $0.dueAt - now } }
            XCTAssertEqual(due, [[1.5 * day], [-0.5 * day], [1.5 * day]], "counted from when each entered its state")
            XCTAssertEqual(try tx.transitions(instanceID: ids[0]).last?.reason, "plan overdue-mappings (in_state_over P3D)")
            XCTAssertEqual(try ids.map { try tx.outbox(instanceID: $0).count }, outboxBefore.map { $0 + 1 }, "the plan asks for one notice each")
        }
        // The moved reminder of the course mapped 2.5 days ago is due now; the others' are not.
        let fired = try await service.fireDueTimers()
        XCTAssertEqual(fired.map(\.event), ["remind_unverified"])
        XCTAssertEqual(try service.tasks().first { $0.instanceID == ids[0] }?.todo, "Chase the school to verify Old (Springfield USD)")
        XCTAssertEqual(try service.tasks().first { $0.instanceID == ids[0] }?.owner, "vendor_admin")
    }

    func testATransitionMadeWhileTheMigrationRunsIsNotOverwritten() async throws {
        let clock = TestClock()
        let (service, _, courses) = try await runningOnPreviousVersions(clock: clock)
        let (text, file) = try Self.shippedPlan("course-mapping-2-to-3")
        let plan = try service.migrationPlan(yaml: text, file: file)
        let mapped = try XCTUnwrap(courses["mapped"])
        // Between the migration's listing and its move of this course, the school verifies it (another writer).
        let report = try service.migrate(plan, dryRun: false, sender: vendor, beforeEach: { id in
            guard id == mapped else { return }
            try service.store.writeNow { tx in
                _ = try service.runtime.apply(tx, instanceID: id, event: "verify", sender: Sender(actor: "school", role: .schoolAdmin), now: clock.now)
            }
        })
        let item = try XCTUnwrap(report.instances.first { $0.id == mapped })
        XCTAssertEqual(item.state, "verified")
        XCTAssertTrue(item.reason?.contains("changed while the migration ran") ?? false, item.reason ?? "")
        try service.store.readNow { tx in
            let instance = try XCTUnwrap(try tx.instance(id: mapped))
            XCTAssertEqual([instance.state, "\(instance.version)"], ["verified", "3"])
            XCTAssertEqual(try tx.transitions(instanceID: mapped).suffix(2).map(\.event), ["verify", "migrated 2 → 3"])
            XCTAssertEqual(try tx.timers(instanceID: mapped).map(\.event), ["remind_content"], "the verified state's timer")
        }
    }

    func testPlansAreRefusedForUnknownVersionsRolesAndIds() async throws {
        let clock = TestClock()
        let (service, _, _) = try await runningOnPreviousVersions(clock: clock)
        do {
            _ = try service.migrationPlan(yaml: "workflow: course-mapping\nfrom: 1\nto: 3\n", file: "old.yaml")
            XCTFail("version 1 is not known")
        } catch let error as WorkflowValidationError {
            XCTAssertEqual(error.problems.map(\.code), [.unknownVersion])
            XCTAssertTrue(error.message.contains("course-mapping@1 is neither in the definitions folder nor in the database (known versions: 2, 3)"), error.message)
        }
        do {
            _ = try service.migrationPlan(yaml: "workflow: course-mapping\nfrom: 2\nto: 3\nstates:\n  mapped: mapt\n", file: "typo.yaml")
            XCTFail("mapt is not a state")
        } catch let error as WorkflowValidationError {
            XCTAssertEqual(error.problems.map(\.description), ["typo.yaml:5: [unknown-target-state] state 'mapped': maps 'mapped' to 'mapt', which course-mapping@3 does not define"])
        }
        let (text, file) = try Self.shippedPlan("course-mapping-2-to-3")
        let plan = try service.migrationPlan(yaml: text, file: file)
        await assertRefused(.refused) { try service.migrate(plan, dryRun: false, sender: Sender(actor: "dsp", role: .dsp)) }
        await assertRefused(.notFound) { try service.migrate(plan, dryRun: true, only: ["crs-nope"], sender: self.vendor) }
        XCTAssertEqual(try service.workflowVersions().first { $0.name == "course-mapping" }?.versions.first?.instances, 4, "nothing moved")
    }
}
