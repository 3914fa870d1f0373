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

/// The next sync instant, worked out from zone offsets: checked by its definition over many zones and days rather than
/// against `Calendar`, which answers the second occurrence of a repeated time when asked between the two.
final class SyncScheduleNextRunTests: XCTestCase {
    let formatter = ISO8601DateFormatter()

    func testTheTimeIsWrittenAsHHMM() throws {
        for time in ["00:00", "00:05", "09:45", "19:00", "23:59"] {
            XCTAssertEqual(try SyncSchedule(time: time, timezone: "UTC").timeText, time)
        }
    }

    func testAMissingSpringForwardTimeRunsAtTheTransition() throws {
        let schedule = try SyncSchedule(time: "02:30", timezone: "America/New_York")
        let next = schedule.nextRun(after: formatter.date(from: "2026-03-07T12:00:00Z")!)
        XCTAssertEqual(formatter.string(from: next), "2026-03-08T07:00:00Z", "03:00 EDT, the first valid time after the gap")
        XCTAssertEqual(formatter.string(from: schedule.nextRun(after: next)), "2026-03-09T06:30:00Z")
        let chatham = try SyncSchedule(time: "03:00", timezone: "Pacific/Chatham")
        XCTAssertEqual(
            formatter.string(from: chatham.nextRun(after: formatter.date(from: "2024-09-28T04:13:44Z")!)), "2024-09-28T14:00:00Z",
            "Chatham skips 02:45–03:45 local: the sync runs at the transition")
    }

    func testBetweenTheTwoOccurrencesOfARepeatedTimeTheNextRunIsTomorrow() throws {
        // 01:00 EDT (05:00Z) has passed, 01:00 EST (06:00Z) is yet to come: the day's run was the first one.
        let schedule = try SyncSchedule(time: "01:00", timezone: "America/New_York")
        let next = schedule.nextRun(after: formatter.date(from: "2025-11-02T05:46:47Z")!)
        XCTAssertEqual(formatter.string(from: next), "2025-11-03T06:00:00Z")
    }

    func testTheNextRunIsTheFirstInstantAfterShowingTheTimeInManyZones() throws {
        let zones = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                     "America/Anchorage", "Pacific/Honolulu", "Europe/London", "Europe/Berlin", "Australia/Sydney",
                     "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/St_Johns", "Pacific/Chatham", "America/Santiago"]
        var generator = SplitMix(seed: 20261201)
        var checked = 0
        for zoneName in zones {
            let zone = TimeZone(identifier: zoneName)!
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            for _ in 0..<400 {
                let after = Date(timeIntervalSince1970: 1_700_000_000 + Double(generator.next() % 100_000_000))
                let hour = Int(generator.next() % 24), minute = [0, 15, 30, 45, 59][Int(generator.next() % 5)]
                let schedule = try SyncSchedule(time: String(format: "%02d:%02d", hour, minute), timezone: zoneName)
                let next = schedule.nextRun(after: after)
                XCTAssertGreaterThan(next, after)
                XCTAssertLessThanOrEqual(next.timeIntervalSince(after), 2 * 86_400, "\(zoneName) \(after) \(hour):\(minute)")
                let shown = calendar.dateComponents([.hour, .minute, .second], from: next)
                if (shown.hour, shown.minute, shown.second) != (hour, minute, 0) {
                    // Only in a gap: the time does not exist that day and `next` is the zone's transition.
                    let transition = zone.nextDaylightSavingTimeTransition(after: next.addingTimeInterval(-1))
                    XCTAssertEqual(transition, next, "\(zoneName) \(after) \(hour):\(minute) gave \(next), which shows \(shown)")
                }
                // Calendar, an independent answer, agrees except where it answers the second occurrence of a repeated
                // time whose first occurrence was already past, or a time inside a gap other than the transition.
                let reference = calendar.nextDate(
                    after: after, matching: DateComponents(hour: hour, minute: minute, second: 0), matchingPolicy: .nextTime,
                    repeatedTimePolicy: .first, direction: .forward)!
                if reference != next {
                    let repeatedFirst = reference.addingTimeInterval(
                        -Double(zone.secondsFromGMT(for: reference.addingTimeInterval(-86_400)) - zone.secondsFromGMT(for: reference)))
                    let secondOfRepeated = repeatedFirst < reference && repeatedFirst <= after
                        && calendar.dateComponents([.hour, .minute], from: repeatedFirst) == DateComponents(hour: hour, minute: minute)
                    let inAGap = zone.nextDaylightSavingTimeTransition(after: next.addingTimeInterval(-1)) == next
                    XCTAssertTrue(secondOfRepeated || inAGap, "\(zoneName) \(after) \(hour):\(minute): \(next), Calendar \(reference)")
                    if secondOfRepeated { XCTAssertGreaterThan(next, reference, "the second occurrence is skipped for the next day") }
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, zones.count * 400)
    }
}

/// A small seeded generator, so a failure can be replayed.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
