import RosterFlowApp
import Foundation
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import WorkflowEngine
import XCTest

/// Every lifecycle path and every refusal, on a real SQLite file.
final class LifecycleTests: XCTestCase {
    func testHappyPathFromRequestToLockedCourses() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        XCTAssertEqual(try service.integration(id: id).state, "scheduled")

        let algebra = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        let biology = try await service.addCourse(integrationID: id, sourcedID: "c2", title: "Biology", sender: .system)
        XCTAssertEqual(algebra.state, "shell_created")
        XCTAssertEqual(try service.integration(id: id).state, "shells_created")

        for course in [algebra, biology] {
            let mapped = try await service.mapCourse(id: course.id, catalogTitle: "Cat \(course.title)", baseID: "B-\(course.sourcedID)", actor: "dsp")
            XCTAssertEqual(mapped.role, "dsp")
            let verified = try await service.verifyCourse(id: course.id, actor: "school")
            XCTAssertEqual(verified.role, "school_admin")
        }
        _ = try await service.contentAdded(id: algebra.id, actor: "dsp")
        XCTAssertEqual(try service.integration(id: id).state, "shells_created", "one course still lacks content")
        let last = try await service.contentAdded(id: biology.id, actor: "dsp")
        XCTAssertEqual(last.followUps.map(\.to), ["content_mapped"], "the integration moves by itself in the same commit")
        XCTAssertEqual(try service.integration(id: id).state, "content_mapped")

        _ = try await service.send("go_live", to: id, actor: Fixture.vendor)
        let locked = try await service.studentStarted(id: algebra.id, actor: "platform")
        XCTAssertEqual(locked?.to, "locked")
        let again = try await service.studentStarted(id: algebra.id, actor: "platform")
        XCTAssertNil(again, "a second student changes nothing")

        let view = try service.integration(id: id)
        XCTAssertEqual(view.state, "live")
        XCTAssertEqual(view.history.map(\.to), ["requested", "authenticated", "scheduled", "shells_created", "content_mapped", "live"])
        XCTAssertEqual(view.history[1].actor, Fixture.vendor)
        XCTAssertEqual(view.history[1].role, "vendor_admin")
        let course = try service.course(id: algebra.id)
        XCTAssertTrue(course.locked)
        XCTAssertEqual(course.baseID, "B-c1")
        XCTAssertEqual(course.allowedEvents, [])
    }

    func testRemapAllowedUntilLockedThenRefusedWithExplanation() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        let course = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: course.id, catalogTitle: "Algebra A", baseID: "B1", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        let remap = try await service.mapCourse(id: course.id, catalogTitle: "Algebra B", baseID: "B2", actor: "dsp")
        XCTAssertEqual(remap.to, "mapped", "re-mapping a verified course sends it back for verification")
        XCTAssertEqual(try service.course(id: course.id).baseID, "B2")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        _ = try await service.studentStarted(id: course.id, actor: "platform")

        let error = await assertRefused(.refused) {
            try await service.mapCourse(id: course.id, catalogTitle: "Algebra C", baseID: "B3", actor: "dsp")
        }
        XCTAssertTrue(error?.message.contains("would lose the student's work") ?? false, error?.message ?? "")
        XCTAssertEqual(error?.code, .refused, "refused: the CLI exits 3 for it")
        let after = try service.course(id: course.id)
        XCTAssertEqual(after.baseID, "B2", "a refused re-map changes nothing")
        XCTAssertEqual(after.history.last?.to, "locked")
    }

    func testNotACustomerIsRejectedWithTheReasonStoredThenReconsidered() async throws {
        let service = try await Fixture.service()
        let integration = try await service.requestIntegration(
            tenantID: "t-unknown", district: "Shelbyville", permission: "full", contactEmail: "a@b.example", sender: .system)
        let step = try await service.authenticate(integrationID: integration.id, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "rejected")
        let stored = try service.integration(id: integration.id).history.last
        XCTAssertEqual(stored?.to, "rejected")
        XCTAssertTrue(stored?.reason?.contains("tenant 't-unknown' (Shelbyville) is not in the customer registry") ?? false)

        _ = try await service.importCustomers(csv: "tenant_id,district,contact_email\nt-unknown,Shelbyville,a@b.example\n", file: "more.csv")
        _ = try await service.send("reconsider", to: integration.id, actor: Fixture.vendor)
        let second = try await service.authenticate(integrationID: integration.id, actor: Fixture.vendor)
        XCTAssertEqual(second.to, "authenticated")
    }

    func testRefusalsNameWhatIsAllowed() async throws {
        let service = try await Fixture.service()
        let integration = try await service.requestIntegration(
            tenantID: "t-spring", district: "Springfield USD", permission: "full", contactEmail: "it@springfield.example",
            sender: .system)
        // Wrong state.
        let early = await assertRefused(.refused) {
            try await service.schedule(integrationID: integration.id, time: "02:00", timezone: "UTC", actor: "school")
        }
        XCTAssertEqual(early?.allowedEvents, [], "nothing here is for the school admin")
        XCTAssertTrue(early?.message.contains("for others: authenticate (vendor admin), reject (vendor admin)") ?? false,
                      early?.message ?? "")
        let asVendor = await assertRefused(.refused) {
            try await service.schedule(integrationID: integration.id, time: "02:00", timezone: "UTC", role: .vendorAdmin, actor: "v")
        }
        XCTAssertEqual(asVendor?.allowedEvents, ["authenticate", "reject", "disable"])
        // Wrong role.
        let role = await assertRefused(.refused) {
            try await service.authenticate(integrationID: integration.id, role: .schoolAdmin, actor: "school")
        }
        XCTAssertTrue(role?.message.contains("it is for the vendor admin") ?? false, role?.message ?? "")
        // Unknown event.
        await assertRefused(.refused) { try await service.send("fly", to: integration.id, role: .vendorAdmin, actor: "x") }
        // Unknown instance.
        await assertRefused(.notFound) { try await service.authenticate(integrationID: "int_nope", actor: "x") }
        // Courses before scheduling.
        await assertRefused(.refused) {
            try await service.addCourse(integrationID: integration.id, sourcedID: "c", title: "C", sender: .system)
        }
        // Nothing was recorded by any refusal.
        XCTAssertEqual(try service.integration(id: integration.id).history.count, 1)
    }

    func testGoLiveGuardAndStudentStartOnUnmappedShell() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        let course = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        let guardError = await assertRefused(.refused) { try await service.send("all_content_mapped", to: id, actor: Fixture.vendor) }
        XCTAssertTrue(guardError?.message.contains("1 of 1 courses still need content") ?? false, guardError?.message ?? "")
        let unmapped = await assertRefused(.refused) { try await service.studentStarted(id: course.id, actor: "platform") }
        XCTAssertTrue(unmapped?.message.contains("map it first") ?? false, unmapped?.message ?? "")
    }

    func testHoldResumesToThePreviousStateAndDisableReenable() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        _ = try await service.send("hold", to: id, role: .vendorAdmin, actor: Fixture.vendor, reason: "sync would delete 40% of users")
        XCTAssertEqual(try service.integration(id: id).state, "on_hold")
        XCTAssertEqual(try service.tasks(integrationID: id).first?.owner, "vendor_admin")
        let resumed = try await service.send("resume", to: id, actor: Fixture.vendor)
        XCTAssertEqual(resumed.to, "scheduled")
        _ = try await service.send("disable", to: id, actor: "classlink")
        XCTAssertEqual(try service.integration(id: id).allowedEvents.map(\.event), ["re_enable"])
        let back = try await service.send("re_enable", to: id, actor: "classlink")
        XCTAssertEqual(back.to, "requested")
    }

    func testCourseAddedAfterStartUpNotifiesTheDSP() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        let first = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: first.id, catalogTitle: "A", baseID: "B", actor: "dsp")
        _ = try await service.verifyCourse(id: first.id, actor: "school")
        _ = try await service.contentAdded(id: first.id, actor: "dsp")
        XCTAssertEqual(try service.integration(id: id).state, "content_mapped")

        let late = try await service.addCourse(integrationID: id, sourcedID: "c9", title: "Chemistry", sender: .system)
        let messages = try service.store.readNow { try $0.outbox(instanceID: late.id) }
        XCTAssertEqual(messages.map(\.template), ["course-added-after-startup"])
        XCTAssertEqual(messages.first?.recipient, "dsp")
        XCTAssertTrue(messages.first?.payload.contains("\"course_title\":\"Chemistry\"") ?? false)
        await assertRefused(.refused) { try await service.send("go_live", to: id, actor: Fixture.vendor) }
        await assertRefused(.conflict) {
            try await service.addCourse(integrationID: id, sourcedID: "c9", title: "Chemistry again", sender: .system)
        }
    }

    func testOutboxRowsAreWrittenWithTheTransitionAndEscapeNothingAway() async throws {
        let service = try await Fixture.service()
        let integration = try await service.requestIntegration(
            tenantID: "t-obrien", district: "O'Brien & <Sons> ISD", permission: "legacy-custom",
            contactEmail: "admin@obrien.example", sender: .system)
        let messages = try service.store.readNow { try $0.outbox(instanceID: integration.id) }
        XCTAssertEqual(messages.map(\.template), ["integration-requested"])
        XCTAssertEqual(messages.first?.transitionSeq, try service.store.readNow { try $0.transitions(instanceID: integration.id).first?.seq })
        let payload = try JSONSerialization.jsonObject(with: Data(messages.first!.payload.utf8)) as? [String: String]
        XCTAssertEqual(payload?["district"], "O'Brien & <Sons> ISD")
    }

    func testTimersFireRemindersDurably() async throws {
        let clock = TestClock()
        let database = try Fixture.newDatabase()
        let service = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        _ = try await service.importCustomers(csv: Fixture.registry, file: "customers.csv")
        let integration = try await service.requestIntegration(
            tenantID: "t-spring", district: "Springfield USD", permission: "full", contactEmail: "it@springfield.example",
            sender: .system)
        _ = try await service.authenticate(integrationID: integration.id, actor: Fixture.vendor)
        let early = try await service.fireDueTimers()
        XCTAssertEqual(early, [])
        clock.advance(days: 3.01)
        // A reopened service sees the same durable timer.
        let reopened = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        let fired = try await reopened.fireDueTimers()
        XCTAssertEqual(fired.map(\.event), ["remind_school"])
        XCTAssertNil(fired.first?.refusal)
        let templates = try reopened.store.readNow { try $0.outbox(instanceID: integration.id).map(\.template) }
        XCTAssertEqual(templates, ["integration-requested", "sync-time-needed", "sync-time-reminder", "sync-time-needed"])
        // Re-entering re-armed the reminder for three days later; scheduling cancels it.
        _ = try await reopened.schedule(integrationID: integration.id, time: "07:00", timezone: "Europe/London", actor: "school")
        clock.advance(days: 10)
        let none = try await reopened.fireDueTimers()
        XCTAssertEqual(none, [])
    }

    func testScheduleIsCorrectAcrossDaylightSavingChanges() throws {
        let schedule = try SyncSchedule(time: "02:30", timezone: "America/New_York")
        let formatter = ISO8601DateFormatter()
        // 2026-03-08: clocks jump from 02:00 to 03:00 in New York; 02:30 does not exist that day.
        let beforeSpring = formatter.date(from: "2026-03-07T12:00:00Z")!
        XCTAssertEqual(formatter.string(from: schedule.nextRun(after: beforeSpring)), "2026-03-08T07:00:00Z")
        let afterSpring = formatter.date(from: "2026-03-08T12:00:00Z")!
        XCTAssertEqual(formatter.string(from: schedule.nextRun(after: afterSpring)), "2026-03-09T06:30:00Z")
        // 2026-11-01: 01:00–02:00 repeats; 02:30 exists once (EST).
        let autumn = formatter.date(from: "2026-10-31T12:00:00Z")!
        XCTAssertEqual(formatter.string(from: schedule.nextRun(after: autumn)), "2026-11-01T07:30:00Z")
        let summer = formatter.date(from: "2026-07-01T12:00:00Z")!
        XCTAssertEqual(formatter.string(from: schedule.nextRun(after: summer)), "2026-07-02T06:30:00Z")
    }

    func testScheduleRefusesBadTimesAndNonIANAZones() async throws {
        XCTAssertThrowsError(try SyncSchedule(time: "25:00", timezone: "UTC"))
        XCTAssertThrowsError(try SyncSchedule(time: "2:30", timezone: "UTC"))
        XCTAssertThrowsError(try SyncSchedule(time: "02:30", timezone: "EST"))
        XCTAssertThrowsError(try SyncSchedule(time: "02:30", timezone: "america/chicago")) { error in
            XCTAssertTrue("\(error)".contains("did you mean America/Chicago"), "\(error)")
        }
        XCTAssertNoThrow(try SyncSchedule(time: "23:59", timezone: "Asia/Kolkata"))
    }

    func testTasksAreOldestFirstAndNameTheirOwner() async throws {
        let clock = TestClock()
        let service = try await Fixture.service(clock: clock)
        let id = try await Fixture.scheduledIntegration(service)
        clock.advance(days: 1)
        let course = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        clock.advance(days: 1)
        _ = try await service.requestIntegration(
            tenantID: "t-obrien", district: "O'Brien & <Sons> ISD", permission: "full", contactEmail: "admin@obrien.example",
            sender: .system)
        let tasks = try service.tasks()
        XCTAssertEqual(tasks.map(\.owner), ["dsp", "dsp", "vendor_admin"])
        XCTAssertEqual(tasks[1].instanceID, course.id)
        XCTAssertEqual(tasks[1].todo, "Match Algebra I (Springfield USD) to a catalog course")
        XCTAssertEqual(try service.tasks(integrationID: id).count, 2)
        _ = try await service.mapCourse(id: course.id, catalogTitle: "A", baseID: "B", actor: "dsp")
        XCTAssertEqual(try service.tasks(integrationID: id).first { $0.instanceID == course.id }?.owner, "school_admin")
    }

    func testStaleWriterIsToldAndNothingIsApplied() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        let seen = try service.integration(id: id).rowVersion
        async let first = service.send("hold", to: id, role: .vendorAdmin, actor: "ana", expectedRowVersion: seen)
        async let second = service.send("disable", to: id, role: .vendorAdmin, actor: "bob", expectedRowVersion: seen)
        var outcomes: [Result<AppliedStep, Error>] = []
        do { outcomes.append(.success(try await first)) } catch { outcomes.append(.failure(error)) }
        do { outcomes.append(.success(try await second)) } catch { outcomes.append(.failure(error)) }
        let wins = outcomes.filter { if case .success = $0 { true } else { false } }
        XCTAssertEqual(wins.count, 1)
        for case let .failure(error) in outcomes {
            XCTAssertEqual((error as? RosterFlowError)?.code, .stale)
            XCTAssertTrue((error as? RosterFlowError)?.message.contains("changed since you read it") ?? false)
        }
        XCTAssertEqual(try service.integration(id: id).history.count, 4, "create, authenticate, schedule and one winner")
    }

    func testCustomerImportReportsEveryBadRowAndImportsNothing() async throws {
        let service = try RosterFlowService(databasePath: try Fixture.folder() + "/c.sqlite", workflowsPath: Fixture.workflows)
        let error = await assertRefused(.invalidInput) {
            try await service.importCustomers(csv: """
                tenant_id,district,contact_email
                a,District A,a@a.example
                ,District B,b@b.example
                c,District C,not-an-email
                a,District A again,a@a.example
                """, file: "bad.csv")
        }
        XCTAssertTrue(error?.message.contains("bad.csv:3: tenant_id is empty") ?? false, error?.message ?? "")
        XCTAssertTrue(error?.message.contains("bad.csv:4: contact_email 'not-an-email'") ?? false)
        XCTAssertTrue(error?.message.contains("bad.csv:5: tenant_id 'a' already appears on line 2") ?? false)
        XCTAssertEqual(try service.customers(), [])
        await assertRefused(.invalidInput) { try await service.importCustomers(csv: "tenant,district\nx,y\n", file: "h.csv") }
        let ok = try await service.importCustomers(
            csv: "\u{FEFF}district,contact_email,tenant_id,notes\r\n\"Quoted, District\",q@q.example,q,\"says \"\"hi\"\"\"\r\n", file: "ok.csv")
        XCTAssertEqual(ok, CustomerImportResult(added: 1, updated: 0))
        XCTAssertEqual(try service.customers().first?.district, "Quoted, District")
    }

    func testInstancesStayOnTheVersionTheyStartedOn() async throws {
        let folder = try Fixture.folder()
        let v1 = folder + "/v1"
        try FileManager.default.createDirectory(atPath: v1, withIntermediateDirectories: true)
        for name in ["integration.yaml", "course-mapping.yaml"] {
            try FileManager.default.copyItem(atPath: Fixture.workflows + "/" + name, toPath: v1 + "/" + name)
        }
        let database = folder + "/v.sqlite"
        let first = try RosterFlowService(databasePath: database, workflowsPath: v1)
        _ = try await first.importCustomers(csv: Fixture.registry, file: "c.csv")
        let old = try await first.requestIntegration(
            tenantID: "t-spring", district: "Springfield USD", permission: "full", contactEmail: "it@springfield.example",
            sender: .system)

        // The same version number with different text is refused.
        let integrationYAML = try String(contentsOfFile: v1 + "/integration.yaml", encoding: .utf8)
        let edited = integrationYAML.replacingOccurrences(of: "reject: { to: rejected, roles: [vendor_admin] }",
                                                          with: "reject: { to: rejected, roles: [vendor_admin, dsp] }")
        XCTAssertNotEqual(edited, integrationYAML)
        try edited.write(toFile: v1 + "/integration.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RosterFlowService(databasePath: database, workflowsPath: v1)) { error in
            XCTAssertEqual((error as? RosterFlowError)?.code, .workflowDefinition)
            XCTAssertTrue("\(error)".contains("give the changed definition a new version number"))
        }
        // As the next version it loads; new instances use it, the old one keeps its version.
        let shipped = try XCTUnwrap(first.runtime.current["integration"]?.version)
        try edited.replacingOccurrences(of: "version: \(shipped)", with: "version: \(shipped + 1)").write(
            toFile: v1 + "/integration.yaml", atomically: true, encoding: .utf8)
        let second = try RosterFlowService(databasePath: database, workflowsPath: v1)
        let new = try await second.requestIntegration(
            tenantID: "t-spring", district: "Springfield USD", permission: "full", contactEmail: "it@springfield.example",
            sender: .system)
        XCTAssertEqual(try second.integration(id: old.id).workflowVersion, shipped)
        XCTAssertEqual(try second.integration(id: new.id).workflowVersion, shipped + 1)
        await assertRefused(.refused) { try await second.send("reject", to: old.id, role: .dsp, actor: "dsp") }
        let rejected = try await second.send("reject", to: new.id, role: .dsp, actor: "dsp")
        XCTAssertEqual(rejected.to, "rejected")
        // Without files, the stored definitions still run.
        let stored = try RosterFlowService(databasePath: database, workflowsPath: nil)
        XCTAssertEqual(try stored.integration(id: old.id).allowedEvents.first?.event, "authenticate")
    }
}
