import Foundation
import GRDB
import GRDBSQLite
import StorageCore

/// How SQLite tells a long run of one entity's deletes applied as a range of held records (a rollover ends every class
/// and enrollment of the year): a row of `roster_history_sets` per up to ``ChangeBlocks/capacity`` records (migration
/// `v16-history-sets`) instead of a `roster_history` row each.
///
/// A set row holds the deletes' sourcedIds, digests and titles as a ``ChangeBlocks`` block, the first and last
/// sourcedId (how a record's history finds the sets that may hold it), when it was applied, and the run that added
/// every one of its records when their adds were kept in the records themselves (`added_run`, `added_at`, as a
/// `roster_history` delete row carries its add). Written a row per record, a rollover's two million history rows were
/// about a quarter of its approval; a set is one insert, and the records go with one range delete.
enum HistorySets {
    static let table = "roster_history_sets"

    /// A record's entry in one set: the delete, and the add the set carries for it.
    struct Member {
        var integrationID: String
        var entity: String
        var runID: String
        var at: Double
        var addedRun: String?
        var addedAt: Double?
        var title: String?
        var digest: Int64
        /// `sync_runs.rowid` of the deleting run and of the adding run (the order runs were recorded in), nil when gone.
        var runOrder: Int64?
        var addedOrder: Int64?
    }

    /// Every set holding `sourcedID` (of one integration, or of any with nil; of the given entities).
    static func members(_ db: Database, sourcedID: String, integrationID: String?, entities: [String]) throws -> [Member] {
        let integrations = integrationID == nil ? "SELECT id FROM integrations" : "?"
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let integrationID { arguments.append(integrationID) }
        arguments += [sourcedID, sourcedID]
        var members: [Member] = []
        var decoder = ChangeBlockDecoder()
        let rows = try Row.fetchCursor(db, sql: """
            SELECT s.integration_id, s.entity, s.run_id, s.at, s.added_run, s.added_at, s.count, s.changes, r.rowid, a.rowid
            FROM roster_history_sets s LEFT JOIN sync_runs r ON r.id = s.run_id LEFT JOIN sync_runs a ON a.id = s.added_run
            WHERE s.integration_id IN (\(integrations)) AND s.entity IN (\(SQLiteTransaction.sqlList(entities)))
                AND s.last_key >= ? AND s.first_key <= ?
            """, arguments: StatementArguments(arguments))
        while let row = try rows.next() {
            let entity: String = row[1]
            let bytes: Data = row[7]
            var found: RosterRecord?
            do {
                try bytes.withUnsafeBytes { raw in
                    try decoder.decode(raw, entity: entity, operation: .delete, count: row[6]) { change in
                        let order = SQLiteTransaction.compareBytes(change.record.sourcedID, sourcedID)
                        if order == 0 { found = change.record }
                        return order < 0  // the keys ascend: past it, it is not there
                    }
                }
            } catch {
                throw damaged
            }
            guard let found else { continue }
            members.append(Member(
                integrationID: row[0], entity: entity, runID: row[2], at: row[3], addedRun: row[4], addedAt: row[5],
                title: found.title, digest: found.digest, runOrder: row[8], addedOrder: row[9]))
        }
        return members
    }

    static let damaged = StorageError(
        .database, "the history of deletes applied as a range is damaged (a row of roster_history_sets does not decode): "
            + "restore the database from a backup")
}

/// Applies a long run of one entity's deletes a range of held records at a time (see ``HistorySets``).
struct HistorySetWriter {
    private let db: Database
    private let integrationID: String
    private let entity: String
    private let runID: String
    private let insert: FastStatement
    private let logAdds: FastStatement
    private let delete: FastStatement
    private var encoder = ChangeBlockEncoder()

    init(_ db: Database, integrationID: String, entity: String, runID: String, now: Double) throws {
        self.db = db
        self.integrationID = integrationID
        self.entity = entity
        self.runID = runID
        insert = try FastStatement(db, """
            INSERT INTO roster_history_sets (integration_id, entity, run_id, first_key, last_key, at, added_run, added_at, count, changes)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT finished_at FROM sync_runs WHERE id = ?7), ?8, ?9)
            """)
        // Records of the range whose adds were kept in them, when they were not all added by one run: their add rows,
        // as a delete one by one writes them (this run's own records, which it adds or updates, are not in the set).
        logAdds = try FastStatement(db, """
            INSERT OR IGNORE INTO roster_history (integration_id, entity, sourced_id, run_id, op, digest, title, at)
            SELECT x.integration_id, x.entity, x.sourced_id, x.run_id, 'add', x.digest, x.title, r.finished_at
            FROM roster_records x JOIN sync_runs r ON r.id = x.run_id
            WHERE x.integration_id = ?1 AND x.entity = ?2 AND x.sourced_id BETWEEN ?3 AND ?4 AND x.run_id <> ?5
                AND x.add_logged = 0
            """)
        delete = try FastStatement(db, """
            DELETE FROM roster_records
            WHERE integration_id = ?1 AND entity = ?2 AND sourced_id BETWEEN ?3 AND ?4 AND run_id <> ?5
            """)
        for statement in [insert, logAdds, delete] {
            statement.bind(1, integrationID)
            statement.bind(2, entity)
        }
        insert.bind(3, runID)
        insert.bind(6, now)
        logAdds.bind(5, runID)
        delete.bind(5, runID)
    }

    /// How the adds of a range's held records are told.
    private enum Adds {
        /// Every one was added by this run, its add kept in the record (the set carries it).
        case keptFrom(String)
        /// Every add has its history row already.
        case logged
        /// Some of each, or kept from several runs: their add rows are written first.
        case mixed
    }

    /// Deletes `batch` (held records of the writer's entity) as one range and writes their set row, when the held
    /// records between its first and last sourcedId, but for those this run wrote, are exactly `batch` in order (so
    /// its keys ascend and each is held). Returns false, having changed nothing, when they are not.
    mutating func apply(_ batch: ArraySlice<RosterRecord>) throws -> Bool {
        guard let first = batch.first?.sourcedID, let last = batch.last?.sourcedID else { return true }
        guard let adds = try heldRange(batch, from: first, to: last) else { return false }
        encoder.reset()
        for record in batch {
            // What a history row keeps: the sourcedId, digest and title.
            encoder.append(RosterChange(operation: .delete, record: RosterRecord(
                entity: entity, sourcedID: record.sourcedID, digest: record.digest, title: record.title)))
        }
        for statement in [logAdds, delete] {
            statement.bind(3, first)
            statement.bind(4, last)
        }
        if case .mixed = adds { try logAdds.run() }
        insert.bind(4, first)
        insert.bind(5, last)
        if case let .keptFrom(run) = adds { insert.bind(7, run) } else { insert.bindNull(7) }
        insert.bind(8, batch.count)
        insert.bind(9, bytes: encoder.bytes)
        try insert.run()
        try delete.run()
        let deleted = Int(sqlite3_changes(delete.connection))
        guard deleted == batch.count else {
            throw StorageError(.database, "deleting \(batch.count) \(entity) records of integration \(integrationID) as a range "
                                   + "removed \(deleted): nothing was applied")
        }
        return true
    }

    /// How the held records from `first` to `last` (but this run's) tell their adds, when they are `batch`; nil when not.
    private func heldRange(_ batch: ArraySlice<RosterRecord>, from first: String, to last: String) throws -> Adds? {
        var next = batch.startIndex
        var matches = true
        var keptFrom: String?
        var kept = false, logged = false, severalRuns = false
        var ownRun = runID
        try ownRun.withUTF8 { own in
            try db.fastEach("""
                SELECT sourced_id, run_id, add_logged FROM roster_records
                WHERE integration_id = ? AND entity = ? AND sourced_id BETWEEN ? AND ?
                """, [integrationID, entity, first, last]) { row in
                guard matches else { return }
                let run = row.textBytes(1)
                if SQLiteTransaction.compareBytes(run, own) == 0 { return }  // added or updated by this run
                guard next < batch.endIndex else { matches = false; return }
                var id = batch[next].sourcedID
                guard id.withUTF8({ SQLiteTransaction.compareBytes($0, row.textBytes(0)) }) == 0 else { matches = false; return }
                next += 1
                if row.int(2) == 0 {
                    kept = true
                    if let keptFrom {
                        if !severalRuns, keptFrom.utf8.elementsEqual(run) == false { severalRuns = true }
                    } else {
                        keptFrom = String(decoding: run, as: UTF8.self)
                    }
                } else {
                    logged = true
                }
            }
        }
        guard matches, next == batch.endIndex else { return nil }
        if kept, !logged, !severalRuns, let keptFrom { return .keptFrom(keptFrom) }
        return kept ? .mixed : .logged
    }
}

/// `roster_history` as PostgreSQL keeps it, a row per record, for `migrate-store`: SQLite's rows and the members of
/// its sets (``HistorySets``) merged in the primary key's order (sourcedId, integration, entity, run; bytewise).
final class HistoryRowCursor: StoreRowCursor {
    static let order = ["sourced_id", "integration_id", "entity", "run_id"]

    private typealias Key = (sourcedID: String, integrationID: String, entity: String, runID: String)

    /// One set, decoded when its first member comes up.
    private struct Source {
        var integrationID: String, entity: String, runID: String, at: Double, addedRun: String?, addedAt: Double?
        var rowid: Int64
        var firstKey: String
        var members: [RosterRecord] = []
        var position = 0

        var key: Key { (members[position].sourcedID, integrationID, entity, runID) }
    }

    private let db: Database
    private let columns: [String]
    /// Where the primary key's columns (``order``) are among `columns`.
    private let keyColumns: [Int]
    private let rows: SQLiteRowCursor
    private var head: (values: [StoreValue], key: Key)?
    private var headRead = false
    /// Sets not decoded yet, the first in key order last (popped from the end).
    private var pending: [Source]
    private var active: [Source] = []
    private var decoder = ChangeBlockDecoder()

    init(db: Database, table: StoreTable) throws {
        guard table.orderBy == Self.order else {
            throw StorageError(.database, "roster_history is read in the order \(Self.order.joined(separator: ", ")), "
                                   + "not \(table.orderBy.joined(separator: ", ")): use the same RosterFlow release on both sides")
        }
        keyColumns = try Self.order.map { key in
            guard let index = table.columns.firstIndex(of: key) else {
                throw StorageError(.database, "roster_history is copied with its column \(key)")
            }
            return index
        }
        self.db = db
        columns = table.columns
        let quoted = table.columns.map { "\"\($0)\"" }.joined(separator: ", ")
        rows = SQLiteRowCursor(cursor: try Row.fetchCursor(db, sql: """
            SELECT \(quoted) FROM roster_history ORDER BY sourced_id, integration_id, entity, run_id
            """), types: table.types)
        pending = try Row.fetchAll(db, sql: """
            SELECT integration_id, entity, run_id, at, added_run, added_at, rowid, first_key FROM roster_history_sets
            """).map { row in
            Source(integrationID: row[0], entity: row[1], runID: row[2], at: row[3], addedRun: row[4], addedAt: row[5],
                   rowid: row[6], firstKey: row[7])
        }
        pending.sort { Self.less(($1.firstKey, $1.integrationID, $1.entity, $1.runID), ($0.firstKey, $0.integrationID, $0.entity, $0.runID)) }
    }

    func next() throws -> [StoreValue]? {
        if !headRead {
            headRead = true
            if let values = try rows.next() { head = (values, try key(of: values)) }
        }
        // The least of the SQL rows' next and the decoded sets' next; a set still pending starts at its first key.
        while let waiting = pending.last {
            var least = head?.key
            if let index = leastActive(), least.map({ Self.less(active[index].key, $0) }) ?? true { least = active[index].key }
            if let least, Self.less(least, (waiting.firstKey, waiting.integrationID, waiting.entity, waiting.runID)) { break }
            pending.removeLast()
            try activate(waiting)
        }
        let least = leastActive()
        if let head, least == nil || Self.less(head.key, active[least!].key) {
            self.head = try rows.next().map { ($0, try key(of: $0)) }
            return head.values
        }
        guard let least else { return nil }
        let source = active[least]
        let member = source.members[source.position]
        active[least].position += 1
        if active[least].position == source.members.count { active.remove(at: least) }
        return try columns.map { column in
            switch column {
            case "sourced_id": return .text(member.sourcedID)
            case "integration_id": return .text(source.integrationID)
            case "entity": return .text(source.entity)
            case "run_id": return .text(source.runID)
            case "op": return .text("delete")
            case "digest": return .integer(member.digest)
            case "title": return member.title.map { .text($0) } ?? .null
            case "at": return .real(source.at)
            case "added_run": return source.addedRun.map { .text($0) } ?? .null
            case "added_at": return source.addedAt.map { .real($0) } ?? .null
            default: throw StorageError(.database, "roster_history has no column \(column) for a set's deletes")
            }
        }
    }

    private func leastActive() -> Int? {
        var least: Int?
        for index in active.indices where least == nil || Self.less(active[index].key, active[least!].key) { least = index }
        return least
    }

    private func activate(_ waiting: Source) throws {
        var source = waiting
        guard let row = try Row.fetchOne(db, sql: "SELECT count, changes FROM roster_history_sets WHERE rowid = ?",
                                         arguments: [waiting.rowid]) else { return }
        let bytes: Data = row[1]
        do {
            try bytes.withUnsafeBytes { raw in
                try decoder.decode(raw, entity: source.entity, operation: .delete, count: row[0]) { change in
                    source.members.append(change.record)
                    return true
                }
            }
        } catch {
            throw HistorySets.damaged
        }
        if !source.members.isEmpty { active.append(source) }
    }

    private func key(of values: [StoreValue]) throws -> Key {
        func text(_ column: Int) -> String {
            guard case let .text(value) = values[keyColumns[column]] else { return "" }
            return value
        }
        return (text(0), text(1), text(2), text(3))
    }

    private static func less(_ a: Key, _ b: Key) -> Bool {
        for order in [SQLiteTransaction.compareBytes(a.0, b.0), SQLiteTransaction.compareBytes(a.1, b.1),
                      SQLiteTransaction.compareBytes(a.2, b.2), SQLiteTransaction.compareBytes(a.3, b.3)] where order != 0 {
            return order < 0
        }
        return false
    }
}
