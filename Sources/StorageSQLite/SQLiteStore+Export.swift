import Foundation
import GRDB
import StorageCore

extension SQLiteStore {
    /// Runs `body` with a reader over one consistent snapshot of the whole database (other processes may go on
    /// writing; they are not seen), for copying it into another store.
    public func withTableReader<T>(_ body: (any StoreTableReader) throws -> T) throws -> T {
        do {
            return try pool.read { db in try body(SQLiteTableReader(db: db)) }
        } catch let error as DatabaseError {
            throw StorageError.translating(error)
        }
    }
}

/// Reads the SQLite schema's tables and rows (values typed by their column's declared type).
final class SQLiteTableReader: StoreTableReader {
    let db: Database

    init(db: Database) { self.db = db }

    func tables() throws -> [StoreTable] {
        let names = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'
            ORDER BY name
            """).filter { !Self.derived.contains($0) }
        return try names.map { name in
            if name == ChangeRowCursor.blocks { return ChangeRowCursor.table }
            let info = try Row.fetchAll(db, sql: "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", arguments: [name])
            let columns: [String] = info.map { $0["name"] }
            let types: [StoreColumnType] = info.map { row in Self.type(declared: row["type"]) }
            let keyed = info.filter { ($0["pk"] as Int) > 0 }.sorted { ($0["pk"] as Int) < ($1["pk"] as Int) }
            let orderBy: [String] = keyed.isEmpty ? columns : keyed.map { $0["name"] }
            if let order = Self.insertionOrder[name] {
                return StoreTable(name: name, columns: columns + [order], types: types + [.integer], orderBy: orderBy)
            }
            return StoreTable(name: name, columns: columns, types: types, orderBy: orderBy)
        }
    }

    func rows(of table: StoreTable) throws -> any StoreRowCursor {
        if table.name == ChangeRowCursor.table.name { return try ChangeRowCursor(db: db, columns: table.columns) }
        if table.name == "roster_history" { return try HistoryRowCursor(db: db, table: table) }
        let quoted = table.columns.map { Self.insertionOrder[table.name] == $0 ? "rowid" : "\"\($0)\"" }
            .joined(separator: ", ")
        let order = table.orderBy.map { "\"\($0)\"" }.joined(separator: ", ")
        let cursor = try Row.fetchCursor(db, sql: "SELECT \(quoted) FROM \"\(table.name)\" ORDER BY \(order)")
        return SQLiteRowCursor(cursor: cursor, types: table.types)
    }

    /// Tables that only index others, which the target keeps in its own way: `roster_enrollment_lookups` (SQLite's
    /// keys of some integrations' enrollments; PostgreSQL indexes each integration's roster partition), or that are
    /// read as part of another table.
    /// `roster_history_sets` (SQLite's deletes applied as a range, ``HistorySets``) is read as the `roster_history`
    /// rows PostgreSQL keeps.
    static let derived: Set<String> = ["roster_enrollment_lookups", HistorySets.table]

    /// Tables whose rowid (the order rows were recorded in, which the SQLite store sorts ties by) is read as a column
    /// of this name: PostgreSQL keeps that order in a column of its own (migration `v10-insertion-order`).
    static let insertionOrder = ["sync_runs": "run_order", "outbox": "message_order"]

    /// SQLite's type affinity rules, reduced to the four types the schema uses.
    static func type(declared: String) -> StoreColumnType {
        let upper = declared.uppercased()
        if upper.contains("INT") { return .integer }
        if upper.contains("CHAR") || upper.contains("CLOB") || upper.contains("TEXT") { return .text }
        if upper.contains("BLOB") || upper.isEmpty { return .blob }
        return .real
    }
}

final class SQLiteRowCursor: StoreRowCursor {
    private let cursor: RowCursor
    private let types: [StoreColumnType]

    init(cursor: RowCursor, types: [StoreColumnType]) {
        self.cursor = cursor
        self.types = types
    }

    func next() throws -> [StoreValue]? {
        guard let row = try cursor.next() else { return nil }
        return types.indices.map { index in Self.value(row[index] as DatabaseValue, as: types[index]) }
    }

    /// A stored value as its column's type says (SQLite may keep an integer in a REAL column, for instance).
    static func value(_ value: DatabaseValue, as type: StoreColumnType) -> StoreValue {
        switch (value.storage, type) {
        case (.null, _): return .null
        case (.int64(let number), .real): return .real(Double(number))
        case (.int64(let number), .text): return .text(String(number))
        case (.int64(let number), _): return .integer(number)
        case (.double(let number), .integer) where number == number.rounded(): return .integer(Int64(number))
        case (.double(let number), .text): return .text("\(number)")
        case (.double(let number), _): return .real(number)
        case (.string(let text), .integer): return Int64(text).map { .integer($0) } ?? .text(text)
        case (.string(let text), .real): return Double(text).map { .real($0) } ?? .text(text)
        case (.string(let text), .blob): return .blob(Data(text.utf8))
        case (.string(let text), _): return .text(text)
        case (.blob(let data), .text): return .text(String(decoding: data, as: UTF8.self))
        case (.blob(let data), _): return .blob(data)
        }
    }
}

/// A held run's change set read as the rows PostgreSQL keeps, a change each (`sync_changes`), from SQLite's blocks
/// (``ChangeBlocks``), in run and apply order.
final class ChangeRowCursor: StoreRowCursor {
    static let blocks = "sync_change_blocks"
    static let table = StoreTable(
        name: "sync_changes",
        columns: ["run_id", "seq", "entity", "op", "sourced_id", "digest", "ref1", "ref2", "ref3", "title", "parked", "fields",
                  "changed", "ref4"],
        types: [.text, .integer, .text, .text, .text, .integer, .text, .text, .text, .text, .integer, .blob, .integer, .text],
        orderBy: ["run_id", "seq"])

    private let cursor: RowCursor
    private let positions: [Int]
    private var decoder = ChangeBlockDecoder()
    private var pending: [[StoreValue]] = []
    private var position = 0

    /// - Parameter columns: the columns asked for, by name (a subset of ``table``'s, in any order).
    init(db: Database, columns: [String]) throws {
        positions = try columns.map { name in
            guard let position = Self.table.columns.firstIndex(of: name) else {
                throw StorageError(.database, "sync_changes has no column \(name)")
            }
            return position
        }
        cursor = try Row.fetchCursor(db, sql: """
            SELECT run_id, first_seq, entity, op, count, changes FROM \(Self.blocks) ORDER BY run_id, first_seq
            """)
    }

    func next() throws -> [StoreValue]? {
        while position == pending.count {
            guard let row = try cursor.next() else { return nil }
            pending.removeAll(keepingCapacity: true)
            position = 0
            let runID: String = row[0], firstSeq: Int = row[1], entity: String = row[2], op: String = row[3], count: Int = row[4]
            let bytes: Data = row[5]
            guard let operation = RosterChange.Operation(rawValue: op) else { throw ChangeBlockDecoder.damaged }
            try bytes.withUnsafeBytes { raw in
                try decoder.decode(raw, entity: entity, operation: operation, count: count) { change in
                    let r = change.record
                    let all: [StoreValue] = [
                        .text(runID), .integer(Int64(firstSeq + pending.count)), .text(entity), .text(op), .text(r.sourcedID),
                        .integer(r.digest), Self.text(r.ref1), Self.text(r.ref2), Self.text(r.ref3), Self.text(r.title),
                        .integer(change.parked ? 1 : 0), r.fields.map { .blob($0) } ?? .null,
                        change.changedFieldMask.map { .integer(Int64($0)) } ?? .null, Self.text(r.ref4),
                    ]
                    pending.append(positions.map { all[$0] })
                    return true
                }
            }
        }
        defer { position += 1 }
        return pending[position]
    }

    private static func text(_ value: String?) -> StoreValue { value.map { .text($0) } ?? .null }
}
