import Foundation
import GRDB
import StorageCore
import StorageSQLite
import XCTest

/// The per-integration lookups and parked deletes work on a database written by an earlier release: its records are
/// found by sourcedId and integration, and the new tables start empty.
final class RecordLookupUpgradeTests: XCTestCase {
    func testAnEarlierDatabaseAnswersPerIntegrationLookupsAndParksDeletes() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/v3-database.sql")
        let folder = NSTemporaryDirectory() + "rosterflow-upgrade-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/old.sqlite"
        try DatabaseQueue(path: path).write { db in
            let sql = try String(contentsOf: fixture, encoding: .utf8)
                .replacingOccurrences(of: "BEGIN TRANSACTION;", with: "").replacingOccurrences(of: "COMMIT;", with: "")
            try db.execute(sql: sql)
        }
        let store = try SQLiteStore(path: path)
        let integration = try XCTUnwrap(try store.readNow { try $0.instances(workflow: "integration").first { $0.state == "live" } })
        let entities = ["orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics"]
        try store.readNow { tx in
            XCTAssertEqual(try tx.integrationsKnowing(sourcedID: "stu-0000001", entities: entities), [integration.id])
            XCTAssertEqual(try tx.rosterHistory(sourcedID: "stu-0000001", integrationID: integration.id, entities: entities)
                .map(\.operation), ["add"])
            XCTAssertEqual(try tx.rosterHistory(sourcedID: "stu-0000001", integrationID: "int_other", entities: entities), [])
            XCTAssertEqual(try tx.parkedDeleteKeys(integrationID: integration.id), [])
        }
        let run = try XCTUnwrap(try store.readNow { try $0.syncRuns(integrationID: integration.id).first })
        try store.writeNow { tx in
            try tx.rememberParkedDeletes([("users", "stu-0000001")], integrationID: integration.id, runID: run.id, actor: "test", now: 1)
        }
        XCTAssertEqual(try store.readNow { try $0.parkedDeleteKeys(integrationID: integration.id) }, ["users|stu-0000001"])
        XCTAssertEqual(try store.readNow { try $0.parkedDeleteKeys(integrationID: "int_other") }, [])
    }
}
