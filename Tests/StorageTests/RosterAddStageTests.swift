import Foundation
import GRDB
import StorageCore
@testable import StorageSQLite
import XCTest

/// A first sync's adds written ahead into a temporary table and moved into the roster with one statement: the roster
/// ends exactly as when they are inserted one by one, and a stage that does not hold exactly the adds is not used.
final class RosterAddStageTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-stage-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func makeStore(_ name: String, minimum: Int = 100) throws -> SQLiteStore {
        let store = try SQLiteStore(path: folder + "/\(name).sqlite", rosterStageMinimum: minimum)
        try store.writeNow { tx in
            try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "District", contactEmail: "it@example.org", importedAt: 1))
            try tx.insertInstance(InstanceRecord(id: "int-1", workflow: "integration", version: 1, state: "live", subjectTitle: "int-1",
                                                 rowVersion: 1, createdAt: 1, enteredAt: 1, updatedAt: 1))
            try tx.insertIntegration(IntegrationRecord(id: "int-1", tenantID: "t-1", district: "District", permission: "full",
                                                       contactEmail: "it@example.org", createdAt: 1))
            try tx.insertSyncRun(SyncRunRecord(id: "run-1", integrationID: "int-1", bundle: "b", startedAt: 1, finishedAt: 2,
                                               decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil))
        }
        return store
    }

    /// A first sync's change groups: orgs, users (with usernames and e-mails, which partial indexes hold), enrollments.
    func firstSync(users: Int = 300, enrollments: Int = 3_000) -> [[RosterChange]] {
        func add(_ record: RosterRecord) -> RosterChange { RosterChange(operation: .add, record: record) }
        let orgs = (0..<3).map { i in
            add(RosterRecord(entity: "orgs", sourcedID: "org-\(i)", digest: Int64(i) &* 7_919, ref1: "school", title: "School \(i)"))
        }
        let people = (0..<users).map { (i: Int) -> RosterChange in
            let digest: Int64 = Int64(i) &* 104_729 &+ 1
            let role: String = i % 10 == 0 ? "teacher" : "student"
            let enabled: String = i % 7 == 0 ? "false" : "true"
            let fields = Data([UInt8(i % 256), 1, 2])
            return add(RosterRecord(entity: "users", sourcedID: String(format: "u-%05d", i), digest: digest, ref1: "user\(i)",
                                    ref2: "User\(i)@Example.org", ref3: role, title: "User \(i)", fields: fields, ref4: enabled))
        }
        let rows = (0..<enrollments).map { (i: Int) -> RosterChange in
            let digest: Int64 = Int64(i) &* 1_299_709 &+ 3
            return add(RosterRecord(entity: "enrollments", sourcedID: String(format: "e-%06d", i), digest: digest,
                                    ref1: "c-\(i % 40)", ref2: String(format: "u-%05d", i % users), ref3: "student"))
        }
        return [orgs, people, rows]
    }

    /// Every column of every held record, as the database holds them.
    func roster(_ store: SQLiteStore) throws -> [String] {
        return try DatabaseQueue(path: store.path).read { db in
            try String.fetchAll(db, sql: """
                SELECT quote(integration_id) || quote(run_id) || quote(entity) || quote(sourced_id) || quote(digest) || quote(ref1)
                    || quote(ref2) || quote(ref3) || quote(title) || quote(add_logged) || quote(fields) || quote(ref4)
                FROM roster_records ORDER BY integration_id, entity, sourced_id
                """)
        }
    }

    func rosterVersion(_ store: SQLiteStore) throws -> Int {
        try store.readNow { try $0.rosterVersion(integrationID: "int-1") }
    }

    func stage(_ store: SQLiteStore, _ groups: [[RosterChange]]) throws -> SQLiteRosterAddStage {
        let stage = try XCTUnwrap(store.makeRosterAddStage() as? SQLiteRosterAddStage)
        for group in groups { for change in group { stage.stage(change.record) } }
        stage.finish()
        return stage
    }

    func testStagedAddsLandExactlyAsAddsAppliedOneByOne() throws {
        let groups = firstSync()
        let plain = try makeStore("plain")
        try plain.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 2)
        }
        let staged = try makeStore("staged")
        let stage = try stage(staged, groups)
        XCTAssertEqual(stage.staged?.count, 3_303)
        XCTAssertEqual(staged.rosterStageStatistics.liveTables, [stage.table])
        try staged.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", stage: stage, checkpoint: nil, now: 2)
        }
        XCTAssertEqual(staged.rosterStageStatistics.stagesMoved, 1, "the stage was moved into the roster")
        let want = try roster(plain)
        XCTAssertEqual(want.count, 3_303)
        let have = try roster(staged)
        XCTAssertEqual(have.count, want.count)
        XCTAssertEqual(Array(zip(have, want).filter { $0 != $1 }.prefix(3).map { "\($0) ≠ \($1)" }), [])
        XCTAssertGreaterThan(try rosterVersion(staged), 0, "the roster version moved on")
        // The users' partial indexes answer as before.
        let byUsername = try staged.readNow { try $0.rosterRecords(integrationID: "int-1", entity: "users", sourcedIDs: ["u-00042"]) }
        XCTAssertEqual(byUsername.first?.ref1, "user42")
        stage.discard()
        try waitUntil("the stage's table is dropped") { staged.rosterStageStatistics.liveTables.isEmpty }
        // Then the integration goes on as any other: an update and a delete of staged records.
        try staged.writeNow { tx in
            try tx.insertSyncRun(SyncRunRecord(id: "run-2", integrationID: "int-1", bundle: "b", startedAt: 3, finishedAt: 3,
                                               decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: "run-1"))
            var moved = groups[2][5].record
            moved.ref1 = "c-99"
            moved.digest = 1
            try tx.applyRosterChanges([RosterChange(operation: .update, record: moved),
                                       RosterChange(operation: .delete, record: groups[2][6].record)],
                                      integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 3)
        }
        let history = try staged.readNow { try $0.rosterHistory(sourcedID: "e-000006", integrationID: "int-1", entities: ["enrollments"]) }
        XCTAssertEqual(history.map(\.operation), ["add", "delete"])
    }

    /// An on-demand district looks its enrollments up by class and by user: the keys of staged enrollments are written
    /// from the roster after the move, exactly those of the held enrollments.
    func testStagedEnrollmentsOfAnOnDemandDistrictAreKeyed() throws {
        let store = try makeStore("on-demand")
        try store.writeNow { try $0.setProvisioningMode(integrationID: "int-1", mode: .onDemand, actor: "t", at: 1) }
        let groups = firstSync()
        let stage = try stage(store, groups)
        try store.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", stage: stage, checkpoint: nil, now: 2)
        }
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 1)
        let (keys, expected) = try DatabaseQueue(path: store.path).read { db in
            (try String.fetchAll(db, sql: """
                SELECT by || ' ' || value || ' ' || sourced_id FROM roster_enrollment_lookups WHERE integration_id = 'int-1' ORDER BY 1
                """),
             try String.fetchAll(db, sql: """
                SELECT k FROM (
                    SELECT 'class ' || ref1 || ' ' || sourced_id AS k FROM roster_records WHERE integration_id = 'int-1' AND entity = 'enrollments'
                    UNION ALL
                    SELECT 'user ' || ref2 || ' ' || sourced_id FROM roster_records WHERE integration_id = 'int-1' AND entity = 'enrollments')
                ORDER BY 1
                """))
        }
        XCTAssertEqual(keys.count, 6_000)
        XCTAssertEqual(keys, expected)
        stage.discard()
    }

    /// A stage is used only when it holds exactly the adds of whole groups: one record more, one less, a record with
    /// another digest, or an update among an entity's changes, and every change is applied as given instead.
    func testAStageThatDoesNotHoldExactlyTheAddsIsNotUsed() throws {
        let groups = firstSync(users: 120, enrollments: 400)
        let plain = try makeStore("plain")
        try plain.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 2)
        }
        let want = try roster(plain)
        var extra = groups
        extra[2].append(RosterChange(operation: .add, record: RosterRecord(entity: "enrollments", sourcedID: "e-extra", digest: 9)))
        var fewer = groups
        fewer[1].removeLast()
        var changed = groups
        changed[2][3].record.digest &+= 1
        var withUpdate = groups
        withUpdate[1][0] = RosterChange(operation: .update, record: groups[1][0].record)
        // What was staged → what is applied.
        for (name, staged, applied) in [("one more staged", extra, groups), ("one fewer staged", fewer, groups),
                                        ("another digest staged", changed, groups), ("an update applied", groups, withUpdate)] {
            let store = try makeStore(name.replacingOccurrences(of: " ", with: "-"))
            let stage = try stage(store, staged)
            XCTAssertNotNil(stage.staged, name)
            try store.writeNow { tx in
                try tx.applyRosterChanges(groups: applied, integrationID: "int-1", runID: "run-1", stage: stage, checkpoint: nil, now: 2)
            }
            XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 0, name)
            let have = try roster(store)
            XCTAssertEqual(have.count, want.count, name)
            if name != "an update applied" {
                XCTAssertEqual(Array(zip(have, want).filter { $0 != $1 }.prefix(3).map { "\($0) ≠ \($1)" }), [], name)
            }
            stage.discard()
        }
    }

    func testTooFewAddsAreNotStagedAndAStageCanBeDroppedBeforeItIsUsed() throws {
        let store = try makeStore("few", minimum: 1_000)
        let small = try stage(store, firstSync(users: 10, enrollments: 20))
        XCTAssertNil(small.staged, "33 adds: below the minimum, nothing staged")
        XCTAssertEqual(store.rosterStageStatistics.liveTables, [])
        small.discard()
        let big = try stage(store, firstSync(users: 200, enrollments: 2_000))
        XCTAssertEqual(big.staged?.count, 2_203)
        big.discard()
        big.discard()
        XCTAssertNil(big.staged, "a discarded stage holds nothing")
        try waitUntil("the stage's table is dropped") { store.rosterStageStatistics.liveTables.isEmpty }
        let groups = firstSync(users: 200, enrollments: 2_000)
        try store.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", stage: big, checkpoint: nil, now: 2)
        }
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 0)
        XCTAssertEqual(try roster(store).count, 2_203, "applied as given")
    }

    /// A transaction that fails after the staged adds were moved leaves nothing (they are part of it), and a cancelled
    /// apply stops before moving them; the stage can still be applied afterwards.
    func testAFailedOrCancelledApplyOfAStageLeavesNothing() throws {
        struct Interrupted: Error {}
        let store = try makeStore("interrupted")
        let groups = firstSync()
        let stage = try stage(store, groups)
        XCTAssertThrowsError(try store.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", stage: stage, checkpoint: nil, now: 2)
            XCTAssertEqual(try tx.rosterCounts(integrationID: "int-1")["enrollments"], 3_000, "moved, inside the transaction")
            throw Interrupted()
        })
        XCTAssertEqual(try roster(store), [])
        XCTAssertEqual(try rosterVersion(store), 0)
        XCTAssertThrowsError(try store.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", stage: stage, checkpoint: {
                throw Interrupted()
            }, now: 2)
        })
        XCTAssertEqual(try roster(store), [])
        try store.writeNow { tx in
            try tx.applyRosterChanges(groups: groups, integrationID: "int-1", runID: "run-1", stage: stage, checkpoint: nil, now: 2)
        }
        XCTAssertEqual(try roster(store).count, 3_303)
        XCTAssertEqual(store.rosterStageStatistics.stagesMoved, 2, "moved twice; the first transaction rolled back")
        stage.discard()
    }

    func waitUntil(_ what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { return XCTFail("not within 10 s: \(what)") }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}
