import Foundation
import GRDB
import StorageCore
@testable import StorageSQLite
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

    /// A first sync that adds more users than the store holds builds their indexes after inserting them: the same
    /// indexes come back, exactly as the migrations created them, and the lookups through them find every row; a
    /// failure part-way leaves the indexes as they were.
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
        XCTAssertTrue(before.keys.contains("roster_users_by_username"), "\(before)")
        XCTAssertFalse(before.keys.contains("roster_enrollments_by_class"), "enrollments are keyed only where used: \(before)")
        // Half as many users are added with their indexes kept (building one reads the whole table).
        try seedIntegration(store, "int-0")
        let rootKept = try rootPage("roster_users_by_username")
        try store.writeNow { tx in
            try tx.applyRosterChanges((0..<SQLiteTransaction.entityIndexRebuildThreshold / 2).map { i in
                RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "k-\(i)", digest: 1, ref1: "kept-\(i)"))
            }, integrationID: "int-0", runID: "run-int-0", checkpoint: nil, now: 2)
        }
        XCTAssertEqual(try rootPage("roster_users_by_username"), rootKept, "kept, not built anew")
        XCTAssertEqual(try store.readNow { try $0.rosterUsers(integrationID: "int-0", username: "kept-7").count }, 1)
        let rootBefore = try rootPage("roster_users_by_username")
        try seedIntegration(store, "int-1")
        let count = SQLiteTransaction.entityIndexRebuildThreshold
        let users = (0..<count).map { i in
            RosterChange(operation: .add, record: RosterRecord(
                entity: "users", sourcedID: "u-\(i)", digest: 1, ref1: "login-\(i % 7_000)", ref2: "U\(i % 1_000)@school.example"))
        }
        struct Interrupted: Error {}
        var checkpoints = 0
        XCTAssertThrowsError(try store.writeNow { tx in
            try tx.applyRosterChanges(users, integrationID: "int-1", runID: "run-1", checkpoint: {
                checkpoints += 1
                throw Interrupted()
            }, now: 2)
        })
        XCTAssertEqual(checkpoints, 1)
        XCTAssertEqual(try indexes(), before, "interrupted: the indexes are as they were")
        XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") }["users"] ?? 0, 0)

        try store.writeNow { tx in
            try tx.applyRosterChanges(users, integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 2)
        }
        XCTAssertEqual(try indexes(), before, "the same indexes, as the migrations wrote them")
        XCTAssertNotEqual(try rootPage("roster_users_by_username"), rootBefore, "built anew after the inserts")
        try store.readNow { tx in
            XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "login-7").count, (count + 6_999 - 7) / 7_000)
            XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", email: "u7@SCHOOL.example").count, count / 1_000)
        }
        let plan = try store.readNow { _ in
            try DatabaseQueue(path: path).read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM roster_records WHERE integration_id = 'int-1' AND ref1 = 'login-7' AND entity = 'users'")
                    .map { $0["detail"] as String }
            }
        }
        XCTAssertTrue(plan.joined().contains("roster_users_by_username"), "\(plan)")
    }

    func seedIntegration(_ store: SQLiteStore, _ id: String) throws {
        try store.writeNow { tx in
            if try tx.customer(tenantID: "t-1") == nil {
                try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "District", contactEmail: "it@example.org", importedAt: 1))
            }
            try tx.insertInstance(InstanceRecord(id: id, workflow: "integration", version: 1, state: "live", subjectTitle: id,
                                                 rowVersion: 1, createdAt: 1, enteredAt: 1, updatedAt: 1))
            try tx.insertIntegration(IntegrationRecord(id: id, tenantID: "t-1", district: "District", permission: "full",
                                                       contactEmail: "it@example.org", createdAt: 1))
            try tx.insertSyncRun(SyncRunRecord(id: "run-\(id)", integrationID: id, bundle: "b", startedAt: 1, finishedAt: 1,
                                               decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
        }
    }

    /// Enrollments are keyed by class and user only for integrations that look them up (on-demand, or with Sign in with
    /// ClassLink): a pre-provisioned district's first sync writes no keys; an on-demand district's massive first sync
    /// writes them after its inserts (an interrupted one leaves none); change by change after that, a long run of
    /// deletes included, the keys stay exactly those of the held enrollments; leaving on-demand removes them.
    func testEnrollmentsAreKeyedOnlyWhereLookedUpAndStayInStepWithTheRoster() throws {
        let store = try SQLiteStore(path: path)
        try seedIntegration(store, "int-pre")
        try seedIntegration(store, "int-od")
        try store.writeNow { try $0.setProvisioningMode(integrationID: "int-od", mode: .onDemand, actor: "t", at: 1) }
        let count = SQLiteTransaction.indexRebuildThreshold
        func enrollment(_ i: Int, _ operation: RosterChange.Operation = .add, cls: Int? = nil) -> RosterChange {
            RosterChange(operation: operation, record: RosterRecord(
                entity: "enrollments", sourcedID: String(format: "e-%06d", i), digest: 1, ref1: "c-\(cls ?? i % 1_000)",
                ref2: "u-\(i % 7_000)", ref3: "student"))
        }
        let first = (0..<count).map { enrollment($0) }
        func keys(_ integration: String) throws -> [String] {
            try DatabaseQueue(path: path).read { db in
                try String.fetchAll(db, sql: """
                    SELECT by || ' ' || value || ' ' || sourced_id FROM roster_enrollment_lookups WHERE integration_id = ? ORDER BY 1
                    """, arguments: [integration])
            }
        }
        func expected(_ integration: String) throws -> [String] {
            try DatabaseQueue(path: path).read { db in
                try String.fetchAll(db, sql: """
                    SELECT k FROM (
                        SELECT 'class ' || ref1 || ' ' || sourced_id AS k FROM roster_records WHERE integration_id = ?1 AND entity = 'enrollments'
                        UNION ALL
                        SELECT 'user ' || ref2 || ' ' || sourced_id FROM roster_records WHERE integration_id = ?1 AND entity = 'enrollments')
                    ORDER BY 1
                    """, arguments: [integration])
            }
        }
        func assertInStep(_ integration: String, _ message: String, line: UInt = #line) throws {
            let have = try keys(integration), want = try expected(integration)
            XCTAssertEqual(have.count, want.count, message, line: line)
            XCTAssertEqual(Array(Set(have).symmetricDifference(want).sorted().prefix(5)), [], message, line: line)
        }
        struct Interrupted: Error {}
        XCTAssertThrowsError(try store.writeNow { tx in
            try tx.applyRosterChanges(first, integrationID: "int-od", runID: "run-int-od", checkpoint: { throw Interrupted() }, now: 2)
        })
        XCTAssertEqual(try keys("int-od"), [], "interrupted: nothing")
        try store.writeNow { tx in
            try tx.applyRosterChanges(first, integrationID: "int-pre", runID: "run-int-pre", checkpoint: nil, now: 2)
            try tx.applyRosterChanges(first, integrationID: "int-od", runID: "run-int-od", checkpoint: nil, now: 2)
        }
        XCTAssertEqual(try keys("int-pre"), [], "a pre-provisioned district keeps no keys")
        XCTAssertEqual(try keys("int-od").count, 2 * count)
        try assertInStep("int-od", "after the first sync")

        // A nightly delta: some moved to another class, some added, a long run of deletes (applied as a set).
        let delta = (0..<100).map { enrollment($0, .update, cls: 5_000) } + (count..<count + 10).map { enrollment($0) }
            + (1_000..<2_000).map { enrollment($0, .delete) }
        try store.writeNow { tx in
            try tx.insertSyncRun(SyncRunRecord(id: "run-2", integrationID: "int-od", bundle: "b", startedAt: 3, finishedAt: 3,
                                               decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
            try tx.applyRosterChanges(delta, integrationID: "int-od", runID: "run-2", checkpoint: nil, now: 3)
        }
        XCTAssertEqual(try keys("int-od").count, 2 * (count + 10 - 1_000))
        try assertInStep("int-od", "after the delta")
        try store.readNow { tx in
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-od", classSourcedID: "c-5000").count, 100)
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-pre", classSourcedID: "c-7").count, count / 1_000,
                           "a district without keys is read through")
        }

        try store.writeNow { try $0.setProvisioningMode(integrationID: "int-od", mode: .preProvisioned, actor: "t", at: 4) }
        XCTAssertEqual(try keys("int-od"), [], "no longer on-demand: removed")
        try store.writeNow { try $0.setProvisioningMode(integrationID: "int-pre", mode: .onDemand, actor: "t", at: 4) }
        XCTAssertEqual(try keys("int-pre").count, 2 * count)
        try assertInStep("int-pre", "made on-demand: written from the held roster")
    }

    /// A database from before `v13-enrollment-lookups-where-used` (both enrollment indexes over every district) comes
    /// out with the indexes gone and the keys written for its on-demand districts only.
    func testUpgradingKeysTheEnrollmentsOfOnDemandDistrictsAndDropsTheIndexesOverAll() throws {
        do {
            let store = try SQLiteStore(path: path)
            try seedIntegration(store, "int-pre")
            try seedIntegration(store, "int-od")
            try store.writeNow { tx in
                try tx.setProvisioningMode(integrationID: "int-od", mode: .onDemand, actor: "t", at: 1)
                for id in ["int-pre", "int-od"] {
                    try tx.applyRosterChanges((0..<10).map { i in
                        RosterChange(operation: .add, record: RosterRecord(
                            entity: "enrollments", sourcedID: "e-\(i)", digest: 1, ref1: "c-\(i % 2)", ref2: "u-\(i)", ref3: "student"))
                    }, integrationID: id, runID: "run-\(id)", checkpoint: nil, now: 2)
                }
            }
        }
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: """
                DROP TABLE roster_enrollment_lookups;
                CREATE INDEX roster_enrollments_by_class ON roster_records (ref1, integration_id) WHERE entity = 'enrollments';
                CREATE INDEX roster_enrollments_by_user ON roster_records (ref2, integration_id) WHERE entity = 'enrollments';
                DELETE FROM grdb_migrations WHERE identifier = 'v13-enrollment-lookups-where-used';
                """)
        }
        let store = try SQLiteStore(path: path)
        try DatabaseQueue(path: path).read { db in
            XCTAssertEqual(try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'roster_enrollments_by_%'
                """), [])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_enrollment_lookups WHERE integration_id = 'int-od'"), 20)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_enrollment_lookups WHERE integration_id = 'int-pre'"), 0)
        }
        try store.readNow { tx in
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-od", classSourcedID: "c-1").map(\.sourcedID), ["e-1", "e-3", "e-5", "e-7", "e-9"])
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-pre", userSourcedID: "u-4").map(\.sourcedID), ["e-4"])
        }
    }

    /// The writing connection copies its log into the database once a commit left 10,000 pages or more in it, after
    /// the commit is acknowledged rather than inside it: through `writeNow` and through group commit alike.
    func testTheLogIsCopiedIntoTheDatabaseOnceABigCommitIsAcknowledged() async throws {
        let store = try SQLiteStore(path: path)
        try seedIntegration(store, "int-a")
        try seedIntegration(store, "int-b")
        func size(_ file: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let title = String(repeating: "t", count: 200)
        func records(_ prefix: String) -> [RosterChange] {
            (0..<200_000).map { i in
                RosterChange(operation: .add, record: RosterRecord(
                    entity: "enrollments", sourcedID: prefix + String(format: "%07d", i), digest: Int64(i), ref1: "c-\(i % 500)",
                    ref2: "u-\(i % 9_000)", ref3: "student", title: title))
            }
        }
        let small = size(path)
        XCTAssertLessThan(small, 10 << 20)
        let first = records("a-")
        try store.writeNow { tx in
            try tx.applyRosterChanges(first, integrationID: "int-a", runID: "run-int-a", checkpoint: nil, now: 2)
        }
        XCTAssertGreaterThan(size(path + "-wal"), 40 << 20, "the commit went to the log")
        var deadline = Date().addingTimeInterval(20)
        while size(path) < 40 << 20, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertGreaterThan(size(path), 40 << 20, "and the log was copied into the database after writeNow returned")
        let before = size(path)
        let second = records("b-")
        try await store.write { tx in
            try tx.applyRosterChanges(second, integrationID: "int-b", runID: "run-int-b", checkpoint: nil, now: 2)
        }
        deadline = Date().addingTimeInterval(20)
        while size(path) < before + (40 << 20), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertGreaterThan(size(path), before + (40 << 20), "copied after the group commit was acknowledged")
        XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-b") }["enrollments"], 200_000)
    }

    /// The copy of a long log into the database runs beside the writer: the next transaction commits while it is held.
    func testAWriteAfterABigCommitDoesNotWaitForTheLogsCopy() async throws {
        let store = try SQLiteStore(path: path)
        try seedIntegration(store, "int-a")
        try seedIntegration(store, "int-b")
        let entered = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        // The first checkpoint is held; the later ones (each commit while the log is long asks again) are not.
        let held = ManagedFlag()
        store.checkpointer.runBeforeEachCheckpoint {
            guard !held.isSet else { return }
            held.set()
            entered.signal()
            gate.wait()
        }
        let records = (0..<200_000).map { i in
            RosterChange(operation: .add, record: RosterRecord(
                entity: "enrollments", sourcedID: String(format: "e-%07d", i), digest: Int64(i), ref1: "c-\(i % 500)",
                ref2: "u-\(i % 9_000)", ref3: "student", title: String(repeating: "t", count: 200)))
        }
        try await store.write { tx in
            try tx.applyRosterChanges(records, integrationID: "int-a", runID: "run-int-a", checkpoint: nil, now: 2)
        }
        XCTAssertEqual(entered.wait(timeout: .now() + 20), .success, "the long commit asked for a checkpoint")
        // The checkpoint is held: a small write still commits (before, it waited on the writer for the copy).
        let small = Task {
            try await store.write { tx in
                try tx.applyRosterChanges([RosterChange(operation: .add, record: RosterRecord(
                    entity: "users", sourcedID: "u-1", digest: 1, ref1: nil, ref2: nil, ref3: nil, title: "A"))],
                    integrationID: "int-b", runID: "run-int-b", checkpoint: nil, now: 3)
            }
        }
        let committed = ManagedFlag()
        Task { _ = try? await small.value; committed.set() }
        let deadline = Date().addingTimeInterval(10)
        while !committed.isSet, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertTrue(committed.isSet, "a write waited for the checkpoint")
        XCTAssertEqual(store.checkpointer.completedCount, 0)
        gate.signal()
        try await small.value
        let copied = Date().addingTimeInterval(20)
        while store.checkpointer.completedCount == 0, Date() < copied { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertGreaterThanOrEqual(store.checkpointer.completedCount, 1, "the held checkpoint ran once released")
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        XCTAssertGreaterThan(size, 40 << 20, "the log was copied into the database")
        XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-b") }["users"], 1)
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

/// A flag set once, read from any thread.
private final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
