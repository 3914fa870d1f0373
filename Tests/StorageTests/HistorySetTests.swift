import Foundation
import GRDB
import StorageCore
import XCTest
@testable import StorageSQLite

/// SQLite tells a run of deletes applied as a range of held records (a rollover's) with a row of `roster_history_sets`
/// per range instead of a `roster_history` row per record; `migrate-store` reads them back as those rows.
final class HistorySetTests: XCTestCase {
    var path: String!

    override func setUpWithError() throws {
        path = NSTemporaryDirectory() + "rosterflow-history-sets-" + UUID().uuidString + ".sqlite"
    }

    override func tearDownWithError() throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    static func id(_ n: Int) -> String { "e-" + String(n + 100_000).dropFirst() }

    static func record(_ n: Int, suffix: String = "", digest: Int64? = nil) -> RosterRecord {
        RosterRecord(entity: "enrollments", sourcedID: id(n) + suffix, digest: digest ?? Int64(n), ref1: "c-\(n % 7)",
                     ref2: "u-\(n)", ref3: "student", title: n % 3 == 0 ? nil : "Enrollment \(n)")
    }

    /// 10,000 enrollments added by one run, one of them updated by another; a rollover adds 10,000 new ones between
    /// them and deletes all the old ones: five ranges (2,048 records at most), the last one telling the adds of its
    /// records with rows of their own since one was updated; no delete row per record; the roster as it should be.
    private func rollover() throws -> SQLiteStore {
        let store = try SQLiteStore(path: path)
        try store.writeNow { tx in
            try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "District", contactEmail: "it@example.org", importedAt: 1))
            try tx.insertInstance(InstanceRecord(id: "int-a", workflow: "integration", version: 1, state: "live", subjectTitle: "a",
                                                 rowVersion: 1, createdAt: 1, enteredAt: 1, updatedAt: 1))
            try tx.insertIntegration(IntegrationRecord(id: "int-a", tenantID: "t-1", district: "District", permission: "full",
                                                       contactEmail: "it@example.org", createdAt: 1))
            for (run, at) in [("run-1", 10.0), ("run-u", 20), ("run-2", 30)] {
                try tx.insertSyncRun(SyncRunRecord(id: run, integrationID: "int-a", bundle: "b", startedAt: at, finishedAt: at,
                                                   decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
            }
            try tx.applyRosterChanges((0..<10_000).map { RosterChange(operation: .add, record: Self.record($0)) },
                                      integrationID: "int-a", runID: "run-1", checkpoint: nil, now: 10)
            try tx.applyRosterChanges([RosterChange(operation: .update, record: Self.record(9_999, digest: -1))],
                                      integrationID: "int-a", runID: "run-u", checkpoint: nil, now: 20)
            var changes = (0..<10_000).map { RosterChange(operation: .add, record: Self.record($0, suffix: "n")) }
            changes += (0..<10_000).map { n in RosterChange.deleting(Self.record(n, digest: n == 9_999 ? -1 : nil)) }
            try tx.applyRosterChanges(changes, integrationID: "int-a", runID: "run-2", checkpoint: nil, now: 30)
        }
        return store
    }

    func testARolloverWritesARowPerRangeAndEachRecordsHistoryReadsAsOneByOne() throws {
        let store = try rollover()
        try DatabaseQueue(path: path).read { db in
            let sets = try Row.fetchAll(db, sql: """
                SELECT first_key, last_key, count, added_run, added_at FROM roster_history_sets ORDER BY first_key
                """)
            XCTAssertEqual(sets.map { $0[2] as Int }, [2_048, 2_048, 2_048, 2_048, 1_808])
            XCTAssertEqual(sets.map { $0[0] as String }, [0, 2_048, 4_096, 6_144, 8_192].map { Self.id($0) })
            XCTAssertEqual(sets.map { $0[1] as String }, [2_047, 4_095, 6_143, 8_191, 9_999].map { Self.id($0) })
            XCTAssertEqual(sets.map { $0[3] as String? }, ["run-1", "run-1", "run-1", "run-1", nil])
            XCTAssertEqual(sets.map { $0[4] as Double? }, [10, 10, 10, 10, nil])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_history WHERE op = 'delete'"), 0)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_history WHERE op = 'add'"), 1_808,
                           "the last range's adds, told by rows of their own")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_records WHERE sourced_id NOT LIKE '%n'"), 0)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_records"), 10_000)
        }
        try store.readNow { tx in
            func story(_ sourcedID: String) throws -> [String] {
                try tx.rosterHistory(sourcedID: sourcedID, integrationID: "int-a", entities: ["enrollments"])
                    .map { "\($0.operation) \($0.runID) \(Int($0.at)) \($0.title ?? "-")" }
            }
            XCTAssertEqual(try story(Self.id(3)), ["add run-1 10 -", "delete run-2 30 -"])
            XCTAssertEqual(try story(Self.id(5_000)), ["add run-1 10 Enrollment 5000", "delete run-2 30 Enrollment 5000"])
            XCTAssertEqual(try story(Self.id(9_001)), ["add run-1 10 Enrollment 9001", "delete run-2 30 Enrollment 9001"])
            XCTAssertEqual(try story(Self.id(9_999)), ["add run-1 10 -", "update run-u 20 -", "delete run-2 30 -"])
            XCTAssertEqual(try story(Self.id(5_000) + "n"), ["add run-2 30 Enrollment 5000"])
            XCTAssertEqual(try story(Self.id(10_000)), [])
            XCTAssertEqual(try tx.integrationsKnowing(sourcedID: Self.id(5_000), entities: ["enrollments"]), ["int-a"])
            XCTAssertEqual(try tx.integrationsKnowing(sourcedID: Self.id(10_000), entities: ["enrollments"]), [])
        }
    }

    /// `migrate-store` reads roster_history as PostgreSQL keeps it: a row per record, the sets' members among the rows
    /// in the primary key's order, each with its add when the set carries it.
    func testTheHistoryIsReadForACopyAsARowPerRecordInKeyOrder() throws {
        let store = try rollover()
        try store.withTableReader { reader in
            let tables = try reader.tables()
            XCTAssertFalse(tables.contains { $0.name == "roster_history_sets" })
            var table = try XCTUnwrap(tables.first { $0.name == "roster_history" })
            table.orderBy = HistoryRowCursor.order
            let cursor = try reader.rows(of: table)
            let column = { (name: String) in table.columns.firstIndex(of: name)! }
            var rows: [[StoreValue]] = []
            while let row = try cursor.next() { rows.append(row) }
            XCTAssertEqual(rows.count, 10_000 + 1_808 + 1)
            func text(_ row: [StoreValue], _ name: String) -> String? {
                if case let .text(value) = row[column(name)] { return value }
                return nil
            }
            let keys = rows.map { [text($0, "sourced_id")!, text($0, "integration_id")!, text($0, "entity")!, text($0, "run_id")!] }
            XCTAssertEqual(keys, keys.sorted { a, b in a.lexicographicallyPrecedes(b) { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } })
            XCTAssertEqual(Set(keys.map { $0.joined(separator: "|") }).count, keys.count)
            let fifth = rows.filter { text($0, "sourced_id") == Self.id(5) }
            XCTAssertEqual(fifth.count, 1)
            XCTAssertEqual(fifth.first.map { text($0, "op") }, "delete")
            XCTAssertEqual(fifth.first.map { text($0, "added_run") }, "run-1")
            XCTAssertEqual(fifth.first?[column("added_at")], .real(10))
            XCTAssertEqual(fifth.first?[column("digest")], .integer(5))
            XCTAssertEqual(fifth.first?[column("at")], .real(30))
            XCTAssertEqual(rows.filter { text($0, "sourced_id") == Self.id(9_999) }.map { text($0, "op")! }, ["add", "delete", "update"],
                           "run-1, run-2, run-u")
        }
    }

    /// A damaged set is an error with a stable code, never a wrong story.
    func testADamagedSetIsAnError() throws {
        let store = try rollover()
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "UPDATE roster_history_sets SET changes = substr(changes, 1, 100)")
        }
        XCTAssertThrowsError(try store.readNow { try $0.rosterHistory(sourcedID: Self.id(5), entities: ["enrollments"]) }) { error in
            XCTAssertEqual((error as? StorageError)?.code, .database, "\(error)")
            XCTAssertTrue("\(error)".contains("roster_history_sets does not decode"), "\(error)")
        }
    }
}
