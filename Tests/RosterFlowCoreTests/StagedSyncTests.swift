import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
@testable import StorageSQLite
import XCTest

/// A district's first sync from a source whose reading waits (a REST pull) stages its adds while it reads (SQLite) and
/// moves them into the roster when it applies: the roster is the same as when they are inserted at the apply, and a
/// run that is not applied leaves no stage behind. A bundle read from disk (which keeps the cores busy) stages nothing.
final class StagedSyncTests: XCTestCase {
    /// A bundle on disk read as if it were pulled: what a REST source says of its reading.
    struct WaitingSource: RosterSource {
        let bundle: CSVBundleSource
        var description: String { bundle.description }
        var readingWaits: Bool { true }
        func fingerprint() throws -> String? { try bundle.fingerprint() }
        func read(options: OneRosterBundleReader.Options, held: any HeldSourcedIds,
                  visitor: ((OneRosterRecord) throws -> Void)?) throws -> OneRosterBundle {
            try bundle.read(options: options, held: held, visitor: visitor)
        }
    }

    func sync(_ service: RosterFlowService, _ integrationID: String, _ path: String, dryRun: Bool = false) async throws -> SyncRunView {
        try await service.runSync(integrationID: integrationID, source: WaitingSource(bundle: CSVBundleSource(path: path)),
                                  dryRun: dryRun, actor: "test")
    }

    func service(stagingFrom minimum: Int) async throws -> (RosterFlowService, SQLiteStore, String) {
        let store = try SQLiteStore(path: try Fixture.folder() + "/rf.sqlite", rosterStageMinimum: minimum)
        let clock = TestClock()
        let service = try RosterFlowService(store: store, workflowsPath: Fixture.workflows, clock: { clock.now })
        _ = try await service.importCustomers(csv: Fixture.registry, file: "customers.csv")
        return (service, store, try await Fixture.scheduledIntegration(service))
    }

    func bundle(users: Int, seed: UInt64 = 7) throws -> String {
        let path = try Fixture.folder() + "/bundle"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: users, classes: 10, enrollments: 4 * users, version: "1.2", seed: seed)
        return path
    }

    /// Every held record without the run that added it (run ids differ between the two databases).
    func roster(_ service: RosterFlowService, _ integrationID: String) throws -> [String] {
        try service.store.readNow { try $0.rosterRecords(integrationID: integrationID) }.map { record in
            var record = record
            record.fields = record.fields.map { Data($0) }
            return "\(record)"
        }.sorted()
    }

    func waitForNoStage(_ store: SQLiteStore) throws {
        let deadline = Date().addingTimeInterval(10)
        while !store.rosterStageStatistics.liveTables.isEmpty {
            if Date() > deadline { return XCTFail("a stage's table is still there: \(store.rosterStageStatistics.liveTables)") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    func testAStagedFirstSyncHoldsWhatAnUnstagedOneHoldsAndTheNextSyncsGoOnAsUsual() async throws {
        let (staged, stagedStore, stagedID) = try await service(stagingFrom: 100)
        let (plain, plainStore, plainID) = try await service(stagingFrom: .max)
        let first = try bundle(users: 200)
        let a = try await sync(staged, stagedID, first)
        let b = try await sync(plain, plainID, first)
        XCTAssertEqual(a.decision, "applied")
        XCTAssertEqual(b.decision, "applied")
        XCTAssertEqual(stagedStore.rosterStageStatistics.stagesMoved, 1, "the first sync's adds came from its stage")
        XCTAssertEqual(plainStore.rosterStageStatistics.stagesMoved, 0)
        XCTAssertEqual(a.counts, b.counts)
        let held = try roster(staged, stagedID)
        XCTAssertEqual(held.count, try roster(plain, plainID).count)
        XCTAssertEqual(held, try roster(plain, plainID))
        XCTAssertEqual(try staged.courses(integrationID: stagedID).count, try plain.courses(integrationID: plainID).count,
                       "a shell for each new course")
        try waitForNoStage(stagedStore)

        // The next export (more users, some gone): diffed against the staged roster like any other; nothing staged,
        // since the integration holds records now.
        let next = try bundle(users: 210, seed: 8)
        let c = try await sync(staged, stagedID, next)
        let d = try await sync(plain, plainID, next)
        XCTAssertEqual(c.decision, d.decision)
        XCTAssertEqual(c.counts, d.counts)
        XCTAssertEqual(try roster(staged, stagedID), try roster(plain, plainID))
        XCTAssertEqual(stagedStore.rosterStageStatistics.stagesMoved, 1)
        try waitForNoStage(stagedStore)
    }

    func testAFirstSyncFromABundleOnDiskStagesNothing() async throws {
        let (service, store, integrationID) = try await service(stagingFrom: 100)
        let run = try await service.runSync(integrationID: integrationID, bundlePath: try bundle(users: 200), actor: "test")
        XCTAssertEqual(run.decision, "applied")
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 0)
        XCTAssertEqual(store.rosterStageStatistics.liveTables, [])
        XCTAssertEqual(try roster(service, integrationID).count, run.counts.values.reduce(0) { $0 + $1.adds })
    }

    func testAFirstSyncThatIsNotAppliedLeavesNoStage() async throws {
        let (service, store, integrationID) = try await service(stagingFrom: 100)
        let dry = try await sync(service, integrationID, try bundle(users: 200), dryRun: true)
        XCTAssertEqual(dry.decision, "dry-run")
        XCTAssertEqual(try roster(service, integrationID), [])
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 0)
        try waitForNoStage(store)
        // A bundle without its manifest is read (and staged) but rejected: nothing staged stays.
        let unlisted = try bundle(users: 200)
        try FileManager.default.removeItem(atPath: unlisted + "/manifest.csv")
        let rejected = try await sync(service, integrationID, unlisted)
        XCTAssertEqual(rejected.decision, "rejected")
        XCTAssertEqual(try roster(service, integrationID), [])
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 0)
        try waitForNoStage(store)
        // And then the real first sync stages and applies.
        let run = try await sync(service, integrationID, try bundle(users: 200))
        XCTAssertEqual(run.decision, "applied")
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 1)
        XCTAssertEqual(try roster(service, integrationID).count, run.counts.values.reduce(0) { $0 + $1.adds })
        try waitForNoStage(store)
    }
}
