import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// The summer pause: nightly syncs skipped without missed-sync alerts, and one sync held for review on resume.
final class PauseTests: XCTestCase {
    var clock: TestClock!
    var service: RosterFlowService!
    var integrationID: String!
    var source: String!

    override func setUp() async throws {
        clock = TestClock("2027-06-10T12:00:00Z")
        service = try await Fixture.service(clock: clock)
        integrationID = try await Fixture.scheduledIntegration(service)
        source = try Fixture.folder() + "/district"
        try writeBundle(seed: 7)
        try await service.setSyncSource(integrationID: integrationID, source: source, actor: Fixture.vendor)
        let first = try await service.runSync(integrationID: integrationID, bundlePath: source, actor: "test")
        XCTAssertEqual(first.decision, "applied")
    }

    func writeBundle(seed: UInt64) throws {
        try? FileManager.default.removeItem(atPath: source)
        _ = try SampleBundle.write(to: URL(fileURLWithPath: source), users: 200, classes: 10, enrollments: 800, version: "1.2", seed: seed)
    }

    func alerts() throws -> [String] {
        try service.store.readNow { try $0.outbox(instanceID: integrationID) }.map(\.template).filter { $0 == "missed-sync" }
    }

    func testNightlySyncsAreSkippedAcrossTheSummerAndTheFirstOneAfterIsHeldForReview() async throws {
        let before = try service.integration(id: integrationID).state
        let step = try await service.pause(integrationID: integrationID, until: "2027-08-16", reason: "summer break", actor: Fixture.vendor)
        XCTAssertEqual(step.to, "paused")
        XCTAssertEqual(step.reason, "paused until 2027-08-16: summer break")
        XCTAssertEqual(try service.pauseRecord(integrationID: integrationID)?.untilText, "2027-08-16")

        // The district's export changes over the summer; nothing of it is read while paused.
        try writeBundle(seed: 8)
        var decisions: [String] = []
        for _ in 0..<66 {  // 2027-06-11 … 2027-08-15
            clock.advance(days: 1)
            decisions += try await service.runDueSyncs().map(\.decision)
        }
        XCTAssertEqual(decisions.count, 66)
        XCTAssertEqual(Set(decisions), ["paused"])
        XCTAssertEqual(try alerts(), [], "no missed-sync alert while paused")
        XCTAssertEqual(try service.store.readNow { try $0.syncRuns(integrationID: integrationID) }.count, 1, "no run while paused")

        // The first nightly sync on the pause's date resumes it and holds its run for review.
        clock.advance(days: 1)
        let outcome = try await service.runDueSyncs()
        XCTAssertEqual(outcome.map(\.decision), ["held"])
        XCTAssertNil(outcome.first?.alert)
        let runID = try XCTUnwrap(outcome.first?.runID)
        let run = try service.syncRun(id: runID)
        XCTAssertTrue(run.reasons.first?.hasPrefix("first sync after the pause") ?? false, "\(run.reasons)")
        XCTAssertEqual(try service.integration(id: integrationID).state, "on_hold", "nothing applied before approval")
        XCTAssertNil(try service.pauseRecord(integrationID: integrationID))
        let history = try service.integration(id: integrationID).history.map { "\($0.event):\($0.actor)" }
        XCTAssertTrue(history.contains("pause:\(Fixture.vendor)"), "\(history)")
        XCTAssertTrue(history.contains("resume:scheduler"), "\(history)")

        _ = try await service.approveSync(runID: runID, merge: run.merges.isEmpty ? nil : false, actor: Fixture.vendor)
        XCTAssertEqual(try service.integration(id: integrationID).state, before)
        XCTAssertEqual(try alerts(), [])
    }

    func testResumingByHandRunsOneSyncHeldForReview() async throws {
        _ = try await service.pause(integrationID: integrationID, until: "2027-08-16", reason: nil, actor: Fixture.vendor)
        // One small change, which a nightly sync would apply at once.
        let users = source + "/users.csv"
        var lines = try String(contentsOfFile: users, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var fields = lines[5].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        fields[6] = "Renamed"
        lines[5] = fields.joined(separator: ",")
        try lines.joined(separator: "\n").write(toFile: users, atomically: true, encoding: .utf8)
        clock.advance(days: 20)
        let outcome = try await service.resume(integrationID: integrationID, actor: Fixture.vendor)
        XCTAssertEqual(outcome.step.event, "resume")
        XCTAssertEqual(outcome.run?.decision, "held")
        XCTAssertEqual(outcome.run?.reasons.count, 1, "held for the pause alone: \(outcome.run?.reasons ?? [])")
        XCTAssertEqual(outcome.run?.counts["users"]?.updates, 1)
        XCTAssertEqual(try service.integration(id: integrationID).state, "on_hold")
        // Resuming again: it is no longer paused.
        await assertRefused(.refused) { try await self.service.resume(integrationID: self.integrationID, actor: Fixture.vendor) }
    }

    func testAnUnchangedExportAfterThePauseHasNothingToReview() async throws {
        _ = try await service.pause(integrationID: integrationID, until: "2027-07-01", reason: nil, actor: Fixture.vendor)
        clock.advance(days: 30)
        let outcome = try await service.resume(integrationID: integrationID, actor: Fixture.vendor)
        XCTAssertEqual(outcome.run?.decision, "unchanged")
        XCTAssertNotEqual(try service.integration(id: integrationID).state, "on_hold")
    }

    func testAPauseNeedsAFutureDate() async throws {
        await assertRefused(.invalidInput) {
            try await self.service.pause(integrationID: self.integrationID, until: "2027-06-01", reason: nil, actor: Fixture.vendor)
        }
        await assertRefused(.invalidInput) {
            try await self.service.pause(integrationID: self.integrationID, until: "16/08/2027", reason: nil, actor: Fixture.vendor)
        }
        XCTAssertNotEqual(try service.integration(id: integrationID).state, "paused")
    }
}
