import Foundation
import GRDB
import StorageCore
import XCTest
@testable import StorageSQLite

/// SQLite keeps a held run's change set in blocks (`sync_change_blocks`): change sets held by an earlier release are
/// carried over whole, a damaged block is an error (never a crash or a wrong change), and `migrate-store` reads the
/// blocks as the rows PostgreSQL keeps.
final class ChangeBlockTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-blocks-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Changes with every kind of value: texts that share a start with the one before, none, empty, non-ASCII; digests
    /// at both ends; field digests empty or absent; masks present or not; parked deletes.
    static func changes(_ count: Int) -> [RosterChange] {
        (0..<count).map { n in
            let operation: RosterChange.Operation = n < count / 2 ? .add : n < count * 3 / 4 ? .update : .delete
            let entity = n % 1_000 < 600 ? "users" : "enrollments"
            return RosterChange(
                operation: operation,
                record: RosterRecord(
                    entity: entity, sourcedID: "\(entity.prefix(1))-\(String(repeating: "0", count: n % 4))\(n)",
                    digest: n == 0 ? .min : n == 1 ? .max : Int64(n) &* -0x61C8_8646_80B5_83EB,
                    ref1: n % 6 == 0 ? nil : "cls-\(n / 40)", ref2: n % 5 == 0 ? "" : "ü\(n % 17)", ref3: n % 3 == 0 ? nil : "student",
                    title: n % 9 == 0 ? nil : "Ŝtudent \(n)", fields: n % 4 == 0 ? nil : n % 4 == 1 ? Data() : Data([UInt8(n & 0xFF), 0, 255]),
                    ref4: n % 2 == 0 ? "true" : nil),
                parked: operation == .delete && n % 3 == 1,
                changedFieldMask: operation == .update && n % 2 == 0 ? UInt32(truncatingIfNeeded: n * 2_654_435_761) : nil)
        }
    }

    /// A held run of a new integration (its customer, workflow instance and integration first).
    static func insertHeldRun(_ tx: any StoreTransaction, _ id: String) throws {
        if try tx.integration(id: "int-1") == nil {
            try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "District", contactEmail: "it@example.org", importedAt: 1))
            try tx.insertInstance(InstanceRecord(
                id: "int-1", workflow: "integration", version: 1, state: "on_hold", subjectTitle: "District", createdAt: 1,
                enteredAt: 1, updatedAt: 1))
            try tx.insertIntegration(IntegrationRecord(
                id: "int-1", tenantID: "t-1", district: "District", permission: "full", contactEmail: "it@example.org", createdAt: 1))
        }
        try tx.insertSyncRun(SyncRunRecord(
            id: id, integrationID: "int-1", bundle: "b", startedAt: 1, finishedAt: 2, decision: .held, reasons: "[]",
            counts: "{}", report: "{}", basedOnRun: nil))
    }

    /// The encoder writes the format blocks stored by earlier releases are in (byte for byte); a copy of an encoder
    /// writes on its own; texts longer than the encoder's first room share their starts and decode whole.
    func testTheEncoderWritesTheStoredFormatAndItsCopiesWriteApart() throws {
        var encoder = ChangeBlockEncoder()
        encoder.append(RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-10", digest: 1, ref1: "ana")))
        let first: [UInt8] = [0x02, 0x00, 0x04] + Array("u-10".utf8) + [1, 0, 0, 0, 0, 0, 0, 0] + [0x00, 0x03] + Array("ana".utf8)
        XCTAssertEqual(encoder.bytes, first)
        var copy = encoder
        let second = RosterChange(
            operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-11", digest: -1, ref1: "anb", fields: Data([9, 8])),
            parked: true, changedFieldMask: 300)
        copy.append(second)
        // Parked, ref1, field digests and mask; "u-1" and "an" shared; the mask 300 as a two-byte varint.
        XCTAssertEqual(copy.bytes, first + [0xC3, 0x03, 0x01] + Array("1".utf8) + Array(repeating: 0xFF, count: 8)
            + [0x02, 0x01] + Array("b".utf8) + [0x02, 9, 8] + [0xAC, 0x02])
        XCTAssertEqual(encoder.bytes, first, "the original is untouched by its copy's append")
        XCTAssertEqual(encoder.count, 1)
        XCTAssertEqual(copy.count, 2)

        var long = ChangeBlockEncoder()
        let stem = String(repeating: "Ŝtudent-", count: 30)
        let changes = (0..<50).map { n in
            RosterChange(operation: .delete, record: RosterRecord(
                entity: "enrollments", sourcedID: stem + String(n), digest: Int64(n), ref1: n % 7 == 0 ? nil : String(repeating: "c", count: n * 9),
                title: stem.prefix(n * 5) + "é"))
        }
        for change in changes { long.append(change) }
        var decoded: [RosterChange] = []
        var decoder = ChangeBlockDecoder()
        try long.bytes.withUnsafeBytes { raw in
            try decoder.decode(raw, entity: "enrollments", operation: .delete, count: long.count) { decoded.append($0); return true }
        }
        XCTAssertEqual(decoded, changes)
        long.reset()
        XCTAssertEqual(long.bytes, [])
        long.append(changes[1])
        // Flags; the sourcedId (shares nothing: a one-byte 0, a two-byte length 271, its bytes); digest; ref1; title.
        XCTAssertEqual(long.bytes.count, 1 + 3 + changes[1].record.sourcedID.utf8.count + 8 + 2 + 9 + 2 + 8,
                       "after a reset nothing is shared with the block before")
    }

    func testChangeSetsHeldInRowsByAnEarlierReleaseAreCarriedIntoBlocksWhole() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/v3-database.sql")
        let path = folder + "/old.sqlite"
        // The v3 schema's rows have no field digests, masks or ref4: those stay absent.
        let expected = Self.changes(5_000).map { change in
            var record = change.record
            record.fields = nil
            record.ref4 = nil
            return RosterChange(operation: change.operation, record: record, parked: change.parked)
        }
        try DatabaseQueue(path: path).write { db in
            let sql = try String(contentsOf: fixture, encoding: .utf8)
                .replacingOccurrences(of: "BEGIN TRANSACTION;", with: "").replacingOccurrences(of: "COMMIT;", with: "")
            try db.execute(sql: sql)
            // Written out of order: the apply order is the seq's.
            for (seq, change) in expected.enumerated().reversed() {
                let r = change.record
                try db.execute(sql: """
                    INSERT INTO sync_changes (run_id, seq, entity, op, sourced_id, digest, ref1, ref2, ref3, title, parked)
                    VALUES ('run_ru77yg3w', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [seq, r.entity, change.operation.rawValue, r.sourcedID, r.digest, r.ref1, r.ref2, r.ref3, r.title,
                                     change.parked ? 1 : 0])
            }
        }
        let store = try SQLiteStore(path: path)
        XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run_ru77yg3w") }, expected)
        XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run_ru77yg3w", entity: "enrollments", operation: nil) },
                       expected.filter { $0.record.entity == "enrollments" }.count)
        let tables = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sync_change%'")
        }
        XCTAssertEqual(tables, ["sync_change_blocks"])
    }

    func testADamagedBlockIsAnErrorThatSaysSo() throws {
        let path = folder + "/damaged.sqlite"
        let store = try SQLiteStore(path: path)
        let changes = Self.changes(3_000)
        try store.writeNow { tx in
            try Self.insertHeldRun(tx, "run-1")
            try tx.storeChangeSet(changes, runID: "run-1")
        }
        XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-1") }, changes)
        let blocks = try store.readNow { tx in try Int.fetchOne(db(tx), sql: "SELECT COUNT(*) FROM sync_change_blocks") }
        // A block for each stretch of one entity and one operation (none here is longer than a block holds).
        let stretches = 1 + zip(changes, changes.dropFirst()).filter { $0.record.entity != $1.record.entity || $0.operation != $1.operation }.count
        XCTAssertEqual(blocks, stretches)
        // Cut short, padded, or a length that points past the end: each is an error naming the damage.
        for damage in ["substr(changes, 1, length(changes) - 3)", "changes || x'00'", "x'00' || changes", "x'FFFFFFFF0F'"] {
            try store.writeNow { tx in
                try db(tx).execute(sql: "SAVEPOINT damage")
                try db(tx).execute(sql: "UPDATE sync_change_blocks SET changes = \(damage) WHERE first_seq = 0")
                XCTAssertThrowsError(try tx.changeSet(runID: "run-1"), damage) { error in
                    XCTAssertEqual((error as? StorageError)?.code, .database, "\(error)")
                    XCTAssertTrue("\(error)".contains("stored change set is damaged"), "\(error)")
                }
                // Kept encoded for an approval, the blocks are checked as they are read: an error, never a crash later.
                XCTAssertThrowsError(try tx.changeSetGroups(runID: "run-1"), damage) { error in
                    XCTAssertTrue("\(error)".contains("stored change set is damaged"), "\(error)")
                }
                try db(tx).execute(sql: "ROLLBACK TO damage")
                try db(tx).execute(sql: "RELEASE damage")
            }
        }
        XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-1") }, changes)
        XCTAssertEqual(try store.readNow { try $0.changeSetGroups(runID: "run-1") }.flatMap(\.changes), changes)
    }

    private func db(_ tx: any StoreTransaction) -> Database { (tx as! SQLiteTransaction).db }

    func testTheBlocksAreReadForACopyAsARowAChange() throws {
        let store = try SQLiteStore(path: folder + "/copy.sqlite")
        let changes = Self.changes(4_100)
        try store.writeNow { tx in
            for run in ["run-b", "run-a"] {
                try Self.insertHeldRun(tx, run)
                try tx.storeChangeSet(run == "run-a" ? changes : Array(changes.prefix(3)), runID: run)
            }
        }
        let (names, rows) = try store.withTableReader { reader -> ([String], [[StoreValue]]) in
            let tables = try reader.tables()
            let table = try XCTUnwrap(tables.first { $0.name == "sync_changes" })
            XCTAssertEqual(table.orderBy, ["run_id", "seq"])
            let cursor = try reader.rows(of: table)
            var rows: [[StoreValue]] = []
            while let row = try cursor.next() { rows.append(row) }
            return (tables.map(\.name), rows)
        }
        XCTAssertFalse(names.contains("sync_change_blocks"))
        XCTAssertEqual(rows.count, 4_103)
        let expected: [[StoreValue]] = (changes.enumerated().map { ("run-a", $0) } + changes.prefix(3).enumerated().map { ("run-b", $0) })
            .map { run, item in
                let (seq, change) = item
                let r = change.record
                func text(_ value: String?) -> StoreValue { value.map { .text($0) } ?? .null }
                return [.text(run), .integer(Int64(seq)), .text(r.entity), .text(change.operation.rawValue), .text(r.sourcedID),
                        .integer(r.digest), text(r.ref1), text(r.ref2), text(r.ref3), text(r.title), .integer(change.parked ? 1 : 0),
                        r.fields.map { .blob($0) } ?? .null, change.changedFieldMask.map { .integer(Int64($0)) } ?? .null, text(r.ref4)]
            }
        XCTAssertEqual(rows, expected)
    }
}

/// Changes kept encoded in memory (`EncodedChanges`, `ChangeGroup`): what the planner holds a later sync's adds and a
/// bulk file's omissions in, and what the store writes as it is.
final class EncodedChangesTests: XCTestCase {
    /// Encoded and decoded, changes come back equal, in blocks of one operation and at most a block's capacity; a
    /// delete encoded from its parts (as a cursor's row gives them) is the delete encoded from the change.
    func testEncodedChangesComeBackEqualInBlocksOfOneOperation() {
        let changes = ChangeBlockTests.changes(5_000).filter { $0.record.entity == "users" }
        var encoded = EncodedChanges(entity: "users")
        for change in changes { encoded.append(change) }
        XCTAssertEqual(encoded.count, changes.count)
        XCTAssertEqual(encoded.changes, changes, "the block under way is read too")
        encoded.finish()
        XCTAssertEqual(encoded.changes, changes)
        XCTAssertEqual(encoded.blocks.reduce(0) { $0 + $1.count }, changes.count)
        XCTAssertTrue(encoded.blocks.allSatisfy { $0.count <= ChangeBlocks.capacity })
        var decoded: [RosterChange] = []
        encoded.forEach(operation: .update) { decoded.append($0) }
        XCTAssertEqual(decoded, changes.filter { $0.operation == .update })

        var parts = EncodedChanges(entity: "users")
        var whole = EncodedChanges(entity: "users")
        for change in changes where change.operation == .delete && !change.parked {
            let deleting = RosterChange.deleting(change.record)
            whole.append(deleting)
            let r = deleting.record
            // Each text in memory of its own, as a row's columns are.
            let texts = [r.ref1, r.ref2, r.ref3, r.title, r.ref4].map { text in
                text.map { text -> UnsafeMutableBufferPointer<UInt8> in
                    let bytes = Array(text.utf8)
                    let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, bytes.count))
                    _ = buffer.initialize(from: bytes)
                    return UnsafeMutableBufferPointer(rebasing: buffer[0..<bytes.count])
                }
            }
            defer { for text in texts { text?.deallocate() } }
            Array(r.sourcedID.utf8).withUnsafeBufferPointer { id in
                parts.appendDelete(sourcedID: id, digest: r.digest) { column in texts[column - 1].map { UnsafeBufferPointer($0) } }
            }
        }
        parts.finish()
        whole.finish()
        XCTAssertGreaterThan(whole.count, 0)
        XCTAssertEqual(parts.blocks.map(\.bytes), whole.blocks.map(\.bytes))
    }

    /// Whether the sourcedIds came in strictly ascending bytewise order is known as they are encoded, across blocks.
    func testAscendingOrderIsToldAcrossBlocks() {
        func encoded(_ ids: [String]) -> EncodedChanges {
            var encoded = EncodedChanges(entity: "enrollments")
            for id in ids { encoded.append(RosterChange(operation: .add, record: RosterRecord(entity: "enrollments", sourcedID: id, digest: 1))) }
            return encoded
        }
        let ordered = (0..<5_000).map { String(format: "e-%06d", $0) }
        XCTAssertTrue(encoded(ordered).ascending)
        XCTAssertTrue(encoded(["a", "ab", "b", "é"]).ascending)
        XCTAssertFalse(encoded(["ab", "a"]).ascending, "a shorter prefix after the longer")
        XCTAssertFalse(encoded(["a", "a"]).ascending, "a repeat")
        var swapped = ordered
        // The last of the first block and the first of the second.
        swapped.swapAt(ChangeBlocks.capacity - 1, ChangeBlocks.capacity)
        XCTAssertFalse(encoded(swapped).ascending)
        XCTAssertFalse(encoded(Array(ordered.reversed())).ascending)
    }

    /// A group of changes and encoded segments stores as the same changes would one by one, in order.
    func testAGroupWithEncodedSegmentsStoresAsItsChanges() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-encoded-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try SQLiteStore(path: folder + "/encoded.sqlite")
        let changes = ChangeBlockTests.changes(6_000)
        let users = changes.filter { $0.record.entity == "users" }
        let enrollments = changes.filter { $0.record.entity == "enrollments" }
        var encoded = EncodedChanges(entity: "enrollments")
        for change in enrollments.dropFirst(100) { encoded.append(change) }
        let groups = [ChangeGroup(users), ChangeGroup(segments: [.changes(Array(enrollments.prefix(100))), .encoded(encoded)])]
        XCTAssertEqual(groups.map(\.count), [users.count, enrollments.count])
        XCTAssertEqual(groups.flatMap(\.changes), users + enrollments)
        XCTAssertTrue(groups[1].contains { $0.record.sourcedID == enrollments.last!.record.sourcedID })
        XCTAssertEqual(groups[1].filter { $0.operation == .delete }.changes, enrollments.filter { $0.operation == .delete })
        try store.writeNow { tx in
            try ChangeBlockTests.insertHeldRun(tx, "run-1")
            try tx.storeChangeSet(groups: groups, runID: "run-1")
        }
        XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-1") }, users + enrollments)
        XCTAssertEqual(try store.readNow { try $0.syncChanges(runID: "run-1", entity: "enrollments", operation: "delete", limit: 5, offset: 2) }
            .map(\.change), Array(enrollments.filter { $0.operation == .delete }.dropFirst(2).prefix(5)))
    }
}
