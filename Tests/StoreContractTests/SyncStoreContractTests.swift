import Foundation
import StorageCore
import StoragePostgres
import StorageSQLite
import XCTest

/// The sync machinery's contract beyond StoreContractTests: the sync lock contested by two stores on one database at
/// once, the digest cursor over more rows than one read brings, large applies and change sets that round-trip every
/// field, run ordering, parked deletes, merges and aliases.
final class SyncStoreContractTests: StoreContractCase {
    /// A second store opened on the same database as `store` (another process, as far as the database can tell).
    private func secondStore(on store: any RosterFlowStore) throws -> any RosterFlowStore {
        if let postgres = store as? PostgresStore { return try PostgresStore(configuration: postgres.configuration) }
        if let sqlite = store as? SQLiteStore { return try SQLiteStore(path: sqlite.path) }
        throw StorageError(.database, "no second store for \(type(of: store))")
    }

    /// Values shared between threads of a test.
    private final class Results<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Value] = [:]
        func set(_ index: Int, _ value: Value) { lock.withLock { values[index] = value } }
        subscript(index: Int) -> Value? { lock.withLock { values[index] } }
        var count: Int { lock.withLock { values.count } }
    }

    private static func run(_ id: String, decision: SyncDecision, at: Double, finished: Double? = -1) -> SyncRunRecord {
        SyncRunRecord(id: id, integrationID: "int-1", bundle: "/bundles/\(id)", startedAt: at, finishedAt: finished == -1 ? at : finished,
                      decision: decision, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil)
    }

    // MARK: The sync lock

    /// Two processes taking an expired lock at the same moment: the one that commits second must not overwrite the
    /// first (it is told the holder), and of many takers at once exactly one wins.
    func testTheSyncLockContestedByTwoStoresAtOnceHasExactlyOneHolder() throws {
        try forEachStore { store in
            let other = try secondStore(on: store)
            try store.writeNow { tx in try StoreContractTests.seedIntegration(tx) }
            XCTAssertNil(try store.writeNow { tx in
                try tx.acquireSyncLock(integrationID: "int-1", owner: "old", purpose: "sync run", now: 10, leaseUntil: 50)
            })

            // "a" takes the expired lock and, before it commits, "b" (the other store) tries too.
            let contender = Results<Result<SyncLockRecord?, Error>>()
            let finished = DispatchSemaphore(value: 0)
            try store.writeNow { tx in
                XCTAssertNil(try tx.acquireSyncLock(integrationID: "int-1", owner: "a", purpose: "sync run", now: 100, leaseUntil: 220))
                DispatchQueue.global().async {
                    contender.set(0, Result { try other.writeNow { tx in
                        try tx.acquireSyncLock(integrationID: "int-1", owner: "b", purpose: "sync due", now: 101, leaseUntil: 221)
                    } })
                    finished.signal()
                }
                Thread.sleep(forTimeInterval: 0.3)
            }
            finished.wait()
            let told = try XCTUnwrap(contender[0]).get()
            XCTAssertEqual(told?.owner, "a", "the second taker of an expired lock overwrote the first")
            XCTAssertEqual(told?.leaseUntil, 220)
            XCTAssertEqual(try other.readNow { try $0.syncLock(integrationID: "int-1") }?.owner, "a")

            // Six takers of the (again expired) lock at once, from both stores: exactly one holds it, the others are
            // each told that one.
            let takers = Results<Result<SyncLockRecord?, Error>>()
            DispatchQueue.concurrentPerform(iterations: 6) { index in
                let through = index % 2 == 0 ? store : other
                takers.set(index, Result { try through.writeNow { tx in
                    try tx.acquireSyncLock(integrationID: "int-1", owner: "p\(index)", purpose: "sync due", now: 300, leaseUntil: 420)
                } })
            }
            let outcomes = try (0..<6).map { try XCTUnwrap(takers[$0]).get() }
            let winners = (0..<6).filter { outcomes[$0] == nil }
            XCTAssertEqual(winners.count, 1, "\(outcomes)")
            let holder = try XCTUnwrap(try store.readNow { try $0.syncLock(integrationID: "int-1") })
            XCTAssertEqual(holder.owner, "p\(winners.first ?? -1)")
            XCTAssertEqual(holder.leaseUntil, 420)
            for outcome in outcomes.compactMap({ $0 }) { XCTAssertEqual(outcome, holder) }
            XCTAssertTrue(try other.readNow { try $0.holdsSyncLock(integrationID: "int-1", owner: holder.owner) })
            // The holder renews and re-acquires its own lock at once; nobody else does.
            XCTAssertNil(try other.writeNow { tx in
                try tx.acquireSyncLock(integrationID: "int-1", owner: holder.owner, purpose: "sync due", now: 301, leaseUntil: 500)
            })
            XCTAssertEqual(try store.writeNow { tx in
                try tx.acquireSyncLock(integrationID: "int-1", owner: "late", purpose: "sync run", now: 499, leaseUntil: 600)
            }?.owner, holder.owner)
        }
    }

    // MARK: The digest cursor

    /// More held records than one read of the cursor brings, walked in bytewise order (upper case before lower case,
    /// ASCII before accented letters, emoji last), with a second cursor and other statements interleaved.
    func testADigestCursorWalksMoreRowsThanOneBatchInBytewiseOrder() throws {
        let special = ["a", "A", "b", "B", "Z", "z", "é", "É", "ß", "ä", "Ω", "日本", "😀", "a b", "A-1", "~", "u-", "U-00001"]
        let ids = (0..<12_003).map { "u-" + String(format: "%05d", $0) } + special
        let digest = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($0.element, Int64($0.offset) * 7_919 - 50_000) })
        let expected = ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        try forEachStore { store in
            try store.writeNow { tx in
                try StoreContractTests.seedIntegration(tx)
                try tx.insertSyncRun(Self.run("run-1", decision: .applied, at: 10))
                try tx.applyRosterChanges(
                    ids.shuffled().map { RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: $0, digest: digest[$0]!)) }
                        + (0..<7_000).map { RosterChange(operation: .add, record: RosterRecord(entity: "classes", sourcedID: "k-\($0)", digest: 1)) },
                    integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
            }
            let (users, classes) = try store.readNow { tx -> ([(String, Int64)], Int) in
                let cursor = try tx.rosterDigestCursor(integrationID: "int-1", entity: "users")
                let second = try tx.rosterDigestCursor(integrationID: "int-1", entity: "classes")
                var users: [(String, Int64)] = []
                var classes = 0
                while let next = try cursor.next() {
                    users.append(next)
                    if users.count % 3 == 0, try second.next() != nil { classes += 1 }
                    if users.count % 4_999 == 0 {
                        XCTAssertTrue(try tx.holdsRosterRecord(integrationID: "int-1", entity: "users", sourcedID: next.sourcedID))
                    }
                }
                XCTAssertNil(try cursor.next(), "a finished cursor started again")
                while try second.next() != nil { classes += 1 }
                return (users, classes)
            }
            XCTAssertEqual(users.count, ids.count)
            XCTAssertEqual(users.map { Array($0.0.utf8) }, expected.map { Array($0.utf8) }, "not in bytewise order")
            XCTAssertEqual(users.map(\.1), expected.map { digest[$0]! })
            XCTAssertEqual(classes, 7_000)
            // Inside a write transaction too, and empty for an entity not held.
            try store.writeNow { tx in
                let none = try tx.rosterDigestCursor(integrationID: "int-1", entity: "orgs")
                XCTAssertNil(try none.next())
                let cursor = try tx.rosterDigestCursor(integrationID: "int-1", entity: "users")
                XCTAssertEqual(try cursor.next()?.sourcedID, expected.first)
            }
        }
    }

    // MARK: Large applies and change sets

    /// Texts that an array literal or a bulk path could get wrong.
    private static let awkward = ["NULL", "", "\\N", "cr\rlf", "a,b", "{x}", "\"q\"", "back\\slash", " padded ", "tab\there", "line\nbreak", "É😀",
                                  "semi;colon", "'quote'"]

    private static func record(_ entity: String, _ n: Int, digest: Int64, titled: String = "") -> RosterRecord {
        let pick = { (k: Int) -> String? in k % 5 == 0 ? nil : awkward[(n + k) % awkward.count] + "\(k)" }
        let bytes: Data? = n % 4 == 0 ? nil : n % 4 == 1 ? Data() : Data([0, 0x5c, 0x22, 0x7b, 0x2c, UInt8(n & 0xff), 0xff])
        return RosterRecord(entity: entity, sourcedID: entity + "-" + String(format: "%06d", n), digest: digest, ref1: pick(n),
                            ref2: pick(n + 1), ref3: pick(n + 2), title: pick(n + 3).map { titled + $0 }, fields: bytes,
                            ref4: pick(n + 4))
    }

    /// Two integrations holding records with the same sourcedIds, added in the same order (on PostgreSQL each in a
    /// partition of its own, where their rows sit at the same addresses): deletes and updates in one leave the
    /// other's records as they were.
    func testDeletesAndUpdatesInOneIntegrationLeaveAnothersRecordsAlone() throws {
        let adds = (0..<12).map {
            RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-\(100 + $0)", digest: Int64($0), ref1: "n\($0)"))
        }
        try forEachStore { store in
            try store.writeNow { tx in
                for id in ["int-1", "int-2"] {
                    try StoreContractTests.seedIntegration(tx, id, tenant: "t-\(id)")
                    var run = Self.run("first-\(id)", decision: .applied, at: 10)
                    run.integrationID = id
                    try tx.insertSyncRun(run)
                    try tx.applyRosterChanges(adds, integrationID: id, runID: run.id, checkpoint: nil, now: 10)
                }
                try tx.insertSyncRun(Self.run("second", decision: .applied, at: 20))
                try tx.applyRosterChanges(
                    adds.prefix(4).map { RosterChange(operation: .delete, record: $0.record) }
                        + [RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-105", digest: -5, ref1: "moved"))],
                    integrationID: "int-1", runID: "second", checkpoint: nil, now: 20)
            }
            try store.readNow { tx in
                XCTAssertEqual(try tx.rosterRecords(integrationID: "int-2", entity: "users", sourcedIDs: nil), adds.map(\.record))
                let kept = try tx.rosterRecords(integrationID: "int-1", entity: "users", sourcedIDs: nil)
                XCTAssertEqual(kept.map(\.sourcedID), adds.dropFirst(4).map(\.record.sourcedID))
                XCTAssertEqual(kept.first { $0.sourcedID == "u-105" }?.ref1, "moved")
            }
        }
    }

    /// A first sync of tens of thousands of records, then a run that updates, deletes (some parked) and adds: every
    /// field reads back as applied, the history has each record's story, and the change set stored for it reads back
    /// whole and by page.
    func testALargeApplyAndChangeSetRoundTripEveryField() throws {
        let entities = ["users", "classes", "enrollments"]
        let first = entities.flatMap { entity in (0..<12_000).map { RosterChange(operation: .add, record: Self.record(entity, $0, digest: Int64($0))) } }
        var second: [RosterChange] = []
        for entity in entities {
            for n in stride(from: 0, to: 12_000, by: 3) {
                second.append(RosterChange(operation: .update, record: Self.record(entity, n, digest: -Int64(n) - 1, titled: "new "),
                                           changedFieldMask: UInt32(n % 7 == 0 ? 0xffff_ffff : n)))
            }
            for n in stride(from: 1, to: 12_000, by: 3) {
                second.append(RosterChange(operation: .delete, record: Self.record(entity, n, digest: Int64(n)), parked: n % 100 == 1))
            }
            for n in 12_000..<13_000 { second.append(RosterChange(operation: .add, record: Self.record(entity, n, digest: 5))) }
        }
        try forEachStore { store in
            try store.writeNow { tx in
                try StoreContractTests.seedIntegration(tx)
                try tx.insertSyncRun(Self.run("run-1", decision: .applied, at: 10))
                try tx.insertSyncRun(Self.run("run-2", decision: .held, at: 20))
                try tx.applyRosterChanges(first, integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
            }
            for entity in entities {
                XCTAssertEqual(try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: entity, sourcedIDs: nil) },
                               first.filter { $0.record.entity == entity }.map(\.record), entity)
            }
            let version = try store.readNow { try $0.rosterVersion(integrationID: "int-1") }

            try store.writeNow { tx in try tx.storeChangeSet(second, runID: "run-2") }
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-2") }, second)
            XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run-2", entity: "classes", operation: "delete") }, 4_000)
            let page = try store.readNow { try $0.syncChanges(runID: "run-2", entity: nil, operation: nil, limit: 3, offset: 12_345) }
            XCTAssertEqual(page.map(\.seq), [12_345, 12_346, 12_347])
            XCTAssertEqual(page.map(\.change.record.sourcedID), second[12_345...12_347].map(\.record.sourcedID))

            var calls = 0
            try store.writeNow { tx in
                try tx.updateSyncRunDecision(id: "run-2", decision: .approved, finishedAt: 20)
                try tx.applyRosterChanges(second, integrationID: "int-1", runID: "run-2", checkpoint: { calls += 1 }, now: 20)
            }
            XCTAssertGreaterThan(calls, 0, "no checkpoint in \(second.count) changes")
            XCTAssertGreaterThan(try store.readNow { try $0.rosterVersion(integrationID: "int-1") }, version)
            XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") },
                           Dictionary(uniqueKeysWithValues: entities.map { ($0, 12_000 - 4_000 + 40 + 1_000) }))
            for entity in entities {
                var expected: [String: RosterRecord] = [:]
                for change in first + second where change.record.entity == entity && !change.parked {
                    if change.operation == .delete { expected[change.record.sourcedID] = nil } else { expected[change.record.sourcedID] = change.record }
                }
                let held = try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: entity, sourcedIDs: nil) }
                XCTAssertEqual(held, expected.keys.sorted().map { expected[$0]! }, entity)
            }
            func story(_ id: String) throws -> [String] {
                try store.readNow { try $0.rosterHistory(sourcedID: id, integrationID: "int-1", entities: entities) }
                    .map { "\($0.operation)@\(Int($0.at)):\($0.runID)" }
            }
            XCTAssertEqual(try story("users-000003"), ["add@10:run-1", "update@20:run-2"])
            XCTAssertEqual(try story("classes-000004"), ["add@10:run-1", "delete@20:run-2"])
            XCTAssertEqual(try story("enrollments-000001"), ["add@10:run-1"], "a parked delete was applied")
            XCTAssertEqual(try story("users-012500"), ["add@20:run-2"])
            XCTAssertEqual(try story("users-000002"), ["add@10:run-1"])
            let update = try store.readNow { try $0.rosterHistory(sourcedID: "classes-000009", integrationID: "int-1", entities: entities) }
            XCTAssertEqual(update.map(\.title), [Self.record("classes", 9, digest: 0).title, Self.record("classes", 9, digest: 0, titled: "new ").title])
        }
    }

    // MARK: Runs, parked deletes, merges

    /// Held runs oldest first, the newest held one, runs accepted after a held one, and the last applied run (a run
    /// with no finish time is never the last applied while a finished one is).
    func testRunsAreOrderedByStartAndAcceptedRunsFollowAHeldOne() throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try StoreContractTests.seedIntegration(tx)
                try tx.insertSyncRun(Self.run("r-1", decision: .held, at: 10))
                try tx.insertSyncRun(Self.run("r-2", decision: .applied, at: 20))
                try tx.insertSyncRun(Self.run("r-3", decision: .dryRun, at: 30))
                try tx.insertSyncRun(Self.run("r-4", decision: .unchanged, at: 40))
                try tx.insertSyncRun(Self.run("r-5", decision: .held, at: 50))
                try tx.insertSyncRun(Self.run("r-6", decision: .rejected, at: 60))
                try tx.insertSyncRun(Self.run("r-7", decision: .approved, at: 70, finished: nil))
            }
            try store.readNow { tx in
                XCTAssertEqual(try tx.heldSyncRuns(integrationID: "int-1").map(\.id), ["r-1", "r-5"])
                XCTAssertEqual(try tx.heldSyncRunID(integrationID: "int-1"), "r-5")
                XCTAssertEqual(try tx.acceptedRuns(integrationID: "int-1", after: "r-1"), ["r-2", "r-4", "r-7"])
                XCTAssertEqual(try tx.acceptedRuns(integrationID: "int-1", after: "r-5"), ["r-7"])
                XCTAssertEqual(try tx.acceptedRuns(integrationID: "int-1", after: "no-such-run"), [])
                XCTAssertEqual(try tx.lastAppliedRun(integrationID: "int-1"), "r-2")
                XCTAssertEqual(try tx.syncRuns(integrationID: "int-1").map(\.id), (1...7).reversed().map { "r-\($0)" })
                XCTAssertNil(try tx.syncRun(id: "r-7")?.finishedAt)
            }
            try store.writeNow { tx in
                try tx.updateSyncRun(id: "r-5", decision: .approved, reasons: "[\"ok\"]", finishedAt: 80)
                try tx.updateSyncRunCounts(id: "r-5", counts: "{\"users\":1}")
            }
            try store.readNow { tx in
                XCTAssertEqual(try tx.lastAppliedRun(integrationID: "int-1"), "r-5")
                XCTAssertEqual(try tx.syncRun(id: "r-5")?.reasons, "[\"ok\"]")
                XCTAssertEqual(try tx.syncRun(id: "r-5")?.counts, "{\"users\":1}")
                XCTAssertEqual(try tx.heldSyncRuns(integrationID: "int-1").map(\.id), ["r-1"])
            }
        }
    }

    /// Parked deletes are remembered once per record (the latest run), listed by entity and sourcedId, and forgotten
    /// by key or by entity; a change set's parked deletes are marked and unparked; proposed merges come users first
    /// and are decided once; aliases keep the last merge of an old id; titles come from the roster, else the run.
    func testParkedDeletesMergesAliasesAndTitles() throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try StoreContractTests.seedIntegration(tx)
                try tx.insertSyncRun(Self.run("run-1", decision: .applied, at: 10))
                try tx.insertSyncRun(Self.run("run-2", decision: .held, at: 20))
                try tx.rememberParkedDeletes([("users", "u|2"), ("classes", "k-1"), ("users", "u-1")], integrationID: "int-1",
                                             runID: "run-1", actor: "ann", now: 10)
                try tx.rememberParkedDeletes([("users", "u-1"), ("users", "u-1")], integrationID: "int-1", runID: "run-2",
                                             actor: "bob", now: 20)
            }
            let parked = try store.readNow { try $0.parkedDeletes(integrationID: "int-1", entity: nil) }
            XCTAssertEqual(parked.map { "\($0.entity)/\($0.sourcedID)/\($0.runID)/\($0.actor)" },
                           ["classes/k-1/run-1/ann", "users/u-1/run-2/bob", "users/u|2/run-1/ann"])
            XCTAssertEqual(try store.readNow { try $0.parkedDeleteKeys(integrationID: "int-1") }, ["classes|k-1", "users|u-1", "users|u|2"])
            try store.writeNow { try $0.forgetParkedDeletes(integrationID: "int-1", keys: ["users|u|2", "nobar", "users|gone"]) }
            XCTAssertEqual(try store.readNow { try $0.parkedDeletes(integrationID: "int-1", entity: "users") }.map(\.sourcedID), ["u-1"])
            XCTAssertEqual(try store.writeNow { try $0.forgetParkedDeletes(integrationID: "int-1", entity: nil) }, 2)

            try store.writeNow { tx in
                try tx.storeChangeSet([
                    RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-9", digest: 1, title: "Run Title")),
                    RosterChange(operation: .delete, record: RosterRecord(entity: "users", sourcedID: "u-1", digest: 1)),
                    RosterChange(operation: .delete, record: RosterRecord(entity: "users", sourcedID: "u-2", digest: 1)),
                ], runID: "run-2")
                try tx.parkDeletes(runID: "run-2")
                try tx.unparkDeletes(runID: "run-2", entity: "users", sourcedIDs: ["u-2"])
                try tx.applyRosterChanges(
                    [RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-1", digest: 1, title: "Held Title")),
                     RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-3", digest: 1, title: nil))],
                    integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
            }
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-2") }.map(\.parked), [false, true, false])
            XCTAssertEqual(try store.readNow {
                try $0.rosterTitles(integrationID: "int-1", runID: "run-2", entity: "users", sourcedIDs: ["u-1", "u-3", "u-9", "u-0"])
            }, ["u-1": "Held Title", "u-9": "Run Title"])

            try store.writeNow { tx in
                try tx.storeProposedMerges([
                    SourcedIDMerge(entity: "classes", oldID: "k-old", newID: "k-new", matchedOn: "title", value: "Algebra"),
                    SourcedIDMerge(entity: "users", oldID: "u-old", newID: "u-new", matchedOn: "email", value: "a@x.org"),
                    SourcedIDMerge(entity: "courses", oldID: "c-old", newID: "c-new", matchedOn: "title", value: "Math"),
                ], runID: "run-2")
                try tx.decideProposedMerges(runID: "run-2", status: "merged")
                try tx.decideProposedMerges(runID: "run-2", status: "declined")
                try tx.insertAliases([
                    SourcedIDMerge(entity: "users", oldID: "u-old", newID: "u-first", matchedOn: "email", value: "a@x.org"),
                    SourcedIDMerge(entity: "users", oldID: "u-old", newID: "u-new", matchedOn: "email", value: "a@x.org"),
                ], integrationID: "int-1", runID: "run-2", actor: "ann", now: 30)
            }
            let merges = try store.readNow { try $0.proposedMerges(runID: "run-2") }
            XCTAssertEqual(merges.map(\.entity), ["users", "classes", "courses"])
            XCTAssertEqual(Set(merges.map(\.status)), ["merged"])
            XCTAssertEqual(try store.readNow { try $0.currentSourcedID(integrationID: "int-1", entity: "users", sourcedID: "u-old") }, "u-new")
            XCTAssertEqual(try store.readNow { try $0.aliases(involving: "u-new", integrationID: "int-1") }.map(\.oldID), ["u-old"])
            XCTAssertEqual(try store.readNow { try $0.aliases(involving: "u-first", integrationID: nil) }, [])
            XCTAssertEqual(try store.readNow { try $0.integrationsKnowing(sourcedID: "u-new", entities: ["users"]) }, ["int-1"])
            XCTAssertEqual(try store.readNow { try $0.integrationsKnowing(sourcedID: "u-3", entities: ["users"]) }, ["int-1"])
            XCTAssertEqual(try store.readNow { try $0.integrationsKnowing(sourcedID: "u-3", entities: ["classes"]) }, [])
        }
    }
}
