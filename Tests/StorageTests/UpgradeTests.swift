import Foundation
import GRDB
import StorageCore
import StorageSQLite
import XCTest

/// A database written by an earlier RosterFlow (schema up to `v3-sync-schedule` and `v2-outbox-deliveries`: the demo,
/// one applied sync and one worker pass, dumped with `sqlite3 .dump`) opens with today's code: every later migration
/// runs, and nothing it held is lost or unreadable.
final class UpgradeTests: XCTestCase {
    func testADatabaseFromAnEarlierReleaseMigratesWithEverythingKept() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/v3-database.sql")
        let folder = NSTemporaryDirectory() + "rosterflow-upgrade-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/old.sqlite"
        try DatabaseQueue(path: path).write { db in
            // The dump opens and commits its own transaction.
            let sql = try String(contentsOf: fixture, encoding: .utf8)
                .replacingOccurrences(of: "BEGIN TRANSACTION;", with: "").replacingOccurrences(of: "COMMIT;", with: "")
            try db.execute(sql: sql)
        }

        let store = try SQLiteStore(path: path)
        try store.readNow { tx in
            let integration = try XCTUnwrap(try tx.instances(workflow: "integration").first { $0.state == "live" })
            XCTAssertEqual(try tx.transitions(instanceID: integration.id).count, 6)
            XCTAssertEqual(try tx.instances(workflow: "course-mapping").count, 4)
            XCTAssertEqual(try tx.outboxMessages().count, 9)
            let deliveries = try tx.deliveries(status: nil)
            XCTAssertEqual(deliveries.count, 9)
            XCTAssertEqual(deliveries.filter { $0.status == .sent }.count, 2)
            XCTAssertEqual(deliveries.filter { $0.status == .skipped }.count, 7)
            XCTAssertEqual(try tx.rosterRecords(integrationID: integration.id).count, 40)
            XCTAssertEqual(try tx.rosterHistory(sourcedID: "stu-0000001", entities: ["users"]).map(\.operation), ["add"])
            let run = try XCTUnwrap(try tx.syncRuns(integrationID: integration.id).first)
            XCTAssertEqual(run.decision, .applied)
            XCTAssertNil(run.bundleSHA256, "runs from before fingerprints have none")
        }
        // And it takes new writes: a retried message gets a fresh delivery budget.
        let skipped = try XCTUnwrap(try store.readNow { try $0.deliveries(status: .skipped).first })
        let retried = try store.writeNow { try $0.retryOutbox(id: skipped.outboxID, now: 1) }
        XCTAssertEqual(retried, 1)
    }
}
