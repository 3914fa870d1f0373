import Foundation
import GRDB
import StorageCore
import StorageSQLite
import XCTest

/// The store on a real SQLite file: optimistic concurrency, append-only history, group commit.
final class SQLiteStoreTests: XCTestCase {
    var path: String!

    override func setUpWithError() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        path = folder + "/test.sqlite"
    }

    func seed(_ store: SQLiteStore, ids: [String]) throws {
        try store.writeNow { tx in
            for id in ids {
                try tx.insertInstance(InstanceRecord(
                    id: id, workflow: "w", version: 1, state: "a", subjectTitle: id, createdAt: 0, enteredAt: 0, updatedAt: 0))
            }
        }
    }

    func testTwoWritersOnOneInstanceOneWinsTheOtherIsTold() throws {
        let first = try SQLiteStore(path: path)
        let second = try SQLiteStore(path: path)
        try seed(first, ids: ["i1"])
        let seenByFirst = try first.readNow { try $0.instance(id: "i1")! }
        let seenBySecond = try second.readNow { try $0.instance(id: "i1")! }
        XCTAssertEqual(seenByFirst.rowVersion, seenBySecond.rowVersion)

        try first.writeNow { tx in
            try tx.updateInstance(id: "i1", expectedRowVersion: seenByFirst.rowVersion, state: "b", previousState: "a",
                                  enteredAt: 1, now: 1)
        }
        XCTAssertThrowsError(try second.writeNow { tx in
            try tx.updateInstance(id: "i1", expectedRowVersion: seenBySecond.rowVersion, state: "c", previousState: "a",
                                  enteredAt: 2, now: 2)
        }) { error in
            let storage = error as? StorageError
            XCTAssertEqual(storage?.code, .staleInstance)
            XCTAssertTrue(storage?.message.contains("now version 2, in state 'b'") ?? false, storage?.message ?? "")
        }
        XCTAssertEqual(try second.readNow { try $0.instance(id: "i1")?.state }, "b")
    }

    /// The commit counter changes with every commit, whichever connection or process makes it, and not with reads
    /// or a write that is rolled back.
    func testTheCommitCounterChangesWithEveryCommitFromAnyConnection() async throws {
        let store = try SQLiteStore(path: path)
        let other = try SQLiteStore(path: path)
        try seed(store, ids: ["i1"])
        let start = try XCTUnwrap(store.commitCounter())
        _ = try store.readNow { try $0.instance(id: "i1") }
        _ = try await store.read { try $0.instance(id: "i1") }
        XCTAssertEqual(store.commitCounter(), start, "reads change nothing")

        try await store.write { tx in try tx.insertInstance(InstanceRecord(
            id: "i2", workflow: "w", version: 1, state: "a", subjectTitle: "i2", createdAt: 0, enteredAt: 0, updatedAt: 0)) }
        let afterGroupCommit = try XCTUnwrap(store.commitCounter())
        XCTAssertNotEqual(afterGroupCommit, start, "a group commit in this process")

        try seed(other, ids: ["i3"])
        let afterOther = try XCTUnwrap(store.commitCounter())
        XCTAssertNotEqual(afterOther, afterGroupCommit, "a commit by another store on the same file (another process)")

        struct Refused: Error {}
        XCTAssertThrowsError(try store.writeNow { tx in
            try tx.insertInstance(InstanceRecord(
                id: "i4", workflow: "w", version: 1, state: "a", subjectTitle: "i4", createdAt: 0, enteredAt: 0, updatedAt: 0))
            throw Refused()
        })
        XCTAssertEqual(store.commitCounter(), afterOther, "a rolled-back write commits nothing")
    }

    /// A first sync that adds more enrollments than the store holds builds their indexes after inserting them: the
    /// same indexes come back, exactly as the migrations created them, and the lookups through them find every row;
    /// a failure part-way leaves the indexes as they were.
    func testAMassiveFirstSyncRebuildsTheEntityIndexesAsTheyWere() throws {
        let store = try SQLiteStore(path: path)
        func indexes() throws -> [String: String] {
            try store.readNow { _ in
                let queue = try DatabaseQueue(path: path)
                return try queue.read { db in
                    Dictionary(uniqueKeysWithValues: try Row.fetchAll(
                        db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'roster_records' AND sql IS NOT NULL"
                    ).map { ($0["name"] as String, $0["sql"] as String) })
                }
            }
        }
        func rootPage(_ index: String) throws -> Int {
            try DatabaseQueue(path: path).read { db in
                try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = ?", arguments: [index]) ?? -1
            }
        }
        let before = try indexes()
        XCTAssertTrue(before.keys.contains("roster_enrollments_by_class"), "\(before)")
        let rootBefore = try rootPage("roster_enrollments_by_class")
        try store.writeNow { tx in
            try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "District", contactEmail: "it@example.org", importedAt: 1))
            try tx.insertInstance(InstanceRecord(id: "int-1", workflow: "integration", version: 1, state: "live", subjectTitle: "int-1",
                                                 rowVersion: 1, createdAt: 1, enteredAt: 1, updatedAt: 1))
            try tx.insertIntegration(IntegrationRecord(id: "int-1", tenantID: "t-1", district: "District", permission: "full",
                                                       contactEmail: "it@example.org", createdAt: 1))
            try tx.insertSyncRun(SyncRunRecord(id: "run-1", integrationID: "int-1", bundle: "b", startedAt: 1, finishedAt: 1,
                                               decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
        }
        let count = SQLiteTransaction.indexRebuildThreshold
        let enrollments = (0..<count).map { i in
            RosterChange(operation: .add, record: RosterRecord(
                entity: "enrollments", sourcedID: "e-\(i)", digest: 1, ref1: "c-\(i % 1_000)", ref2: "u-\(i % 7_000)", ref3: "student"))
        }
        struct Interrupted: Error {}
        var checkpoints = 0
        XCTAssertThrowsError(try store.writeNow { tx in
            try tx.applyRosterChanges(enrollments, integrationID: "int-1", runID: "run-1", checkpoint: {
                checkpoints += 1
                throw Interrupted()
            }, now: 2)
        })
        XCTAssertEqual(checkpoints, 1)
        XCTAssertEqual(try indexes(), before, "interrupted: the indexes are as they were")
        XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") }["enrollments"] ?? 0, 0)

        try store.writeNow { tx in
            try tx.applyRosterChanges(enrollments, integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 2)
        }
        XCTAssertEqual(try indexes(), before, "the same indexes, as the migrations wrote them")
        XCTAssertNotEqual(try rootPage("roster_enrollments_by_class"), rootBefore, "built anew after the inserts")
        try store.readNow { tx in
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", classSourcedID: "c-7").count, count / 1_000)
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-7").count, (count + 6_999 - 7) / 7_000)
        }
        let plan = try store.readNow { _ in
            try DatabaseQueue(path: path).read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM roster_records WHERE integration_id = 'int-1' AND ref1 = 'c-7' AND entity = 'enrollments'")
                    .map { $0["detail"] as String }
            }
        }
        XCTAssertTrue(plan.joined().contains("roster_enrollments_by_class"), "\(plan)")
    }

    func testHistoryIsAppendOnly() throws {
        let store = try SQLiteStore(path: path)
        try seed(store, ids: ["i1"])
        try store.writeNow { tx in
            try tx.appendTransition(instanceID: "i1", from: nil, to: "a", event: "create", actor: "t", role: "system",
                                    at: 0, reason: nil, rowVersion: 1)
        }
        // Even SQL on the file, past the store's API, cannot rewrite or remove history.
        let database = try DatabaseQueue(path: path)
        XCTAssertThrowsError(try database.write { try $0.execute(sql: "UPDATE transitions SET to_state = 'x'") })
        XCTAssertThrowsError(try database.write { try $0.execute(sql: "DELETE FROM transitions") })
        XCTAssertEqual(try store.readNow { try $0.transitions(instanceID: "i1").map(\.to) }, ["a"])
    }

    func testGroupCommitIsolatesAFailingWriteAndBatches() async throws {
        let store = try SQLiteStore(path: path)
        let ids = (0..<200).map { "i\($0)" }
        try seed(store, ids: ids)
        let before = store.groupCommitStatistics
        let outcomes = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
            for id in ids {
                group.addTask {
                    do {
                        try await store.write { tx in
                            try tx.updateInstance(id: id, expectedRowVersion: 1, state: "b", previousState: "a",
                                                  enteredAt: 1, now: 1)
                            try tx.appendTransition(instanceID: id, from: "a", to: "b", event: "go", actor: "t",
                                                    role: "system", at: 1, reason: nil, rowVersion: 2)
                            // Every tenth write fails after writing: its changes alone must be undone.
                            if id.hasSuffix("0") { throw StorageError(.database, "refused \(id)") }
                        }
                        return (id, true)
                    } catch {
                        return (id, false)
                    }
                }
            }
            return try await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(outcomes.values.filter { $0 }.count, 180)
        let after = store.groupCommitStatistics
        XCTAssertEqual(after.writes - before.writes, 200)
        XCTAssertLessThan(after.transactions - before.transactions, 200, "concurrent writes should share commits")
        try store.readNow { tx in
            for id in ids {
                let instance = try tx.instance(id: id)!
                let history = try tx.transitions(instanceID: id)
                if id.hasSuffix("0") {
                    XCTAssertEqual(instance.state, "a", id)
                    XCTAssertEqual(history.count, 0, id)
                } else {
                    XCTAssertEqual(instance.state, "b", id)
                    XCTAssertEqual(history.map(\.to), ["b"], id)
                }
            }
        }
    }

    func testPipelinedWritesAreAcknowledgedAfterTheirFlushAndSurviveReopening() async throws {
        let store = try SQLiteStore(path: path, durability: .pipelined)
        XCTAssertEqual(store.durability, .pipelined)
        let ids = (0..<100).map { "p\($0)" }
        try seed(store, ids: ids)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in ids {
                group.addTask {
                    _ = try await store.write { tx in
                        try tx.updateInstance(id: id, expectedRowVersion: 1, state: "b", previousState: "a", enteredAt: 1, now: 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-wal"))
        let reopened = try SQLiteStore(path: path, durability: .full)
        let states = try reopened.readNow { tx in try ids.map { try tx.instance(id: $0)!.state } }
        XCTAssertEqual(Set(states), ["b"])
    }

    func testChangedDefinitionUnderTheSameVersionIsRefused() throws {
        let store = try SQLiteStore(path: path)
        try store.writeNow { try $0.recordDefinition(name: "w", version: 1, source: "a", checksum: "1", file: "w.yaml", now: 0) }
        try store.writeNow { try $0.recordDefinition(name: "w", version: 1, source: "a", checksum: "1", file: "w.yaml", now: 0) }
        // The same text under another checksum form (an earlier release's) is the same definition.
        try store.writeNow { try $0.recordDefinition(name: "w", version: 1, source: "a", checksum: "other", file: "w.yaml", now: 0) }
        XCTAssertThrowsError(try store.writeNow {
            try $0.recordDefinition(name: "w", version: 1, source: "b", checksum: "2", file: "w.yaml", now: 0)
        }) { error in
            XCTAssertEqual((error as? StorageError)?.code, .definitionChanged)
        }
        try store.writeNow { try $0.recordDefinition(name: "w", version: 2, source: "b", checksum: "2", file: "w.yaml", now: 0) }
        XCTAssertEqual(try store.readNow { try $0.storedDefinitions().map(\.version) }, [1, 2])
    }

    func testOpeningInAMissingFolderSaysSo() {
        XCTAssertThrowsError(try SQLiteStore(path: "/nonexistent-folder/x.sqlite")) { error in
            XCTAssertTrue("\(error)".contains("does not exist"))
        }
    }
}
