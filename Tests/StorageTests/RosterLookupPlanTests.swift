import Foundation
import GRDB
import StorageCore
@testable import StorageSQLite
import XCTest

/// A sign-in's linking and a class import must not read the whole held roster: each lookup by login name, e-mail,
/// class or user is answered from its index, in sourcedId order without a sort.
final class RosterLookupPlanTests: XCTestCase {
    func testEachRosterLookupSearchesItsIndex() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-plan-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/plan.sqlite"
        _ = try SQLiteStore(path: path)
        let database = try DatabaseQueue(path: path)
        let expected = [
            (RosterLookupSQL.usersByUsername, "roster_users_by_username"),
            (RosterLookupSQL.usersByEmail, "roster_users_by_email"),
        ]
        for (sql, index) in expected {
            let plan = try database.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: ["int-1", "x"]).map { $0["detail"] as String }
            }
            XCTAssertEqual(plan.count, 1, "\(sql): \(plan)")
            XCTAssertTrue(plan.first?.hasPrefix("SEARCH roster_records USING INDEX \(index) ") == true, "\(sql): \(plan)")
            XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE") }, "\(sql): \(plan)")
        }
        // Enrollments of integrations that keep their keys: the keys' primary key, then each record by its own.
        for sql in [EnrollmentLookupSQL.byClass, EnrollmentLookupSQL.byUser] {
            let plan = try database.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: ["int-1", "x"]).map { $0["detail"] as String }
            }
            XCTAssertEqual(plan, [
                "SEARCH l USING PRIMARY KEY (integration_id=? AND by=? AND value=?)",
                "SEARCH x USING PRIMARY KEY (integration_id=? AND entity=? AND sourced_id=?)",
            ], sql)
        }
    }
}
