import RosterFlowApp
import Foundation
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import WorkflowEngine
import XCTest

/// The course mapping's reminders and the schedule in the repeated hour of a daylight-saving fall-back.
extension LifecycleTests {
    func testTheCourseMappingRemindsTheSchoolAfterThreeDaysAndTheDSPAfterFive() async throws {
        let clock = TestClock()
        let service = try await Fixture.service(clock: clock)
        let id = try await Fixture.scheduledIntegration(service)
        let course = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        func fire() async throws -> [String] { try await service.fireDueTimers().map(\.event) }
        func sent() throws -> [String] {
            try service.store.readNow { try $0.outbox(instanceID: course.id).map(\.template) }
        }
        let announced = try sent()

        _ = try await service.mapCourse(id: course.id, catalogTitle: "Algebra I (2026)", baseID: "ALG1", actor: "dsp")
        clock.advance(days: 2.9)
        let none0 = try await fire()
        XCTAssertEqual(none0, [], "not three days yet")
        clock.advance(days: 0.2)
        let fired0 = try await fire()
        XCTAssertEqual(fired0, ["remind_unverified"])
        XCTAssertEqual(try sent(), announced + ["mapping-unverified"])
        XCTAssertEqual(try service.course(id: course.id).state, "mapped", "a reminder does not move the course")

        _ = try await service.verifyCourse(id: course.id, actor: "school")
        XCTAssertEqual(try sent(), announced + ["mapping-unverified"], "version 2: no e-mail per verified course (the DSP gets the daily digest)")
        clock.advance(days: 4.9)
        let none1 = try await fire()
        XCTAssertEqual(none1, [], "not five days yet; the mapped reminder was disarmed")
        clock.advance(days: 0.2)
        let fired1 = try await fire()
        XCTAssertEqual(fired1, ["remind_content"])
        XCTAssertEqual(try sent(), announced + ["mapping-unverified", "content-overdue"])

        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        clock.advance(days: 30)
        let none2 = try await fire()
        XCTAssertEqual(none2, [], "content added: no more reminders")
    }

    /// 01:30 happens twice in New York on 2026-11-01 (EDT, then EST): the sync runs once, at the first.
    func testASyncTimeInTheRepeatedHourOfAFallBackRunsOnce() throws {
        let schedule = try SyncSchedule(time: "01:30", timezone: "America/New_York")
        let formatter = ISO8601DateFormatter()
        let first = schedule.nextRun(after: formatter.date(from: "2026-10-31T12:00:00Z")!)
        XCTAssertEqual(formatter.string(from: first), "2026-11-01T05:30:00Z", "the first 01:30 (EDT)")
        let next = schedule.nextRun(after: first)
        XCTAssertEqual(formatter.string(from: next), "2026-11-02T06:30:00Z", "not again at the second 01:30 (EST)")
        XCTAssertEqual(formatter.string(from: schedule.nextRun(after: next)), "2026-11-03T06:30:00Z")
    }
}
