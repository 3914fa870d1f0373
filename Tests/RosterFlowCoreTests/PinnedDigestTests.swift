import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Record digests are a stored format: a database written by an earlier release holds them, and the next sync compares
/// against them. If the formula changed, every held record would look updated after an upgrade. These tests pin the
/// digests with values computed by that earlier release, not by today's code.
final class PinnedDigestTests: XCTestCase {
    /// The earlier release's database (its demo: one applied sync of `sample-bundle --users 12 --classes 2
    /// --enrollments 20`, OneRoster 1.2, seed 1), loaded with the sqlite3 shell.
    func earlierReleaseDatabase() throws -> String {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StorageTests/Fixtures/v3-database.sql").path
        let folder = try Fixture.folder()
        let path = folder + "/old.sqlite"
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        shell.arguments = ["sqlite3", path, ".read \(fixture)"]
        try shell.run()
        shell.waitUntilExit()
        XCTAssertEqual(shell.terminationStatus, 0, "sqlite3 could not load the fixture (scripts/install-deps installs sqlite3)")
        return path
    }

    func testDigestsOfTheSameRecordsEqualThoseAnEarlierReleaseStored() throws {
        let bundle = try Fixture.folder() + "/b1"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 12, classes: 2, enrollments: 20, version: "1.2", seed: 1)
        var digests: [String: Int64] = [:]
        _ = try OneRosterBundleReader(options: .init(retainRecords: false)).read(at: URL(fileURLWithPath: bundle)) { record in
            if let held = SyncPlanner.rosterRecord(record)?.record { digests["\(held.entity)/\(held.sourcedID)"] = held.digest }
        }
        // Known answers, copied from the earlier release's roster_records.
        let pinned: [String: Int64] = [
            "academicSessions/as-2025": -738_564_699_120_899_647,
            "academicSessions/as-2025-s1": 8_707_161_408_212_766_236,
            "classes/cls-1": 8_112_775_254_208_638_914,
            "classes/cls-2": 8_931_141_732_508_719_343,
            "users/stu-0000001": -8_025_722_332_669_018_023,
            "users/stu-0000002": -2_421_745_417_399_144_048,
            "users/stu-0000003": 1_312_787_381_347_995_792,
        ]
        for (key, value) in pinned { XCTAssertEqual(digests[key], value, key) }
    }

    func testAnUpgradedDatabaseResyncedWithTheSameExportSeesNoUpdates() async throws {
        let path = try earlierReleaseDatabase()
        let service = try RosterFlowService(databasePath: path, workflowsPath: Fixture.workflows)
        let bundle = try Fixture.folder() + "/b1"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 12, classes: 2, enrollments: 20, version: "1.2", seed: 1)
        let run = try await service.runSync(integrationID: "int_hp93eh8n", bundlePath: bundle, revalidate: true, actor: "test")
        XCTAssertEqual(run.decision, "unchanged", "\(run.reasons)")
        for (entity, counts) in run.counts {
            XCTAssertEqual(counts.updates, 0, "\(entity): a digest differs from the one the earlier release stored")
            XCTAssertEqual(counts.adds + counts.deletes, 0, entity)
        }
        XCTAssertEqual(run.counts.values.map(\.unchanged).reduce(0, +), 40)
    }
}
