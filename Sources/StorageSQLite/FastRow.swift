import StorageCore
import Foundation
import GRDB
import GRDBSQLite

/// A row read in place from a stepped SQLite statement, by column position.
///
/// GRDB's `Row` builds a column-name dictionary for every cursor; on the hot path of applying an event (a handful of
/// single-row lookups per event) that cost dominated. This reads the columns straight from the statement instead.
struct FastRow {
    let handle: OpaquePointer
    /// Added to every index, to decode a record that starts further right in a joined row.
    var offset: Int32 = 0

    func string(_ index: Int32) -> String {
        guard let text = sqlite3_column_text(handle, index + offset) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, index + offset))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func optionalString(_ index: Int32) -> String? {
        sqlite3_column_type(handle, index + offset) == SQLITE_NULL ? nil : string(index)
    }

    func int(_ index: Int32) -> Int {
        Int(sqlite3_column_int64(handle, index + offset))
    }

    func optionalInt(_ index: Int32) -> Int? {
        sqlite3_column_type(handle, index + offset) == SQLITE_NULL ? nil : int(index)
    }

    func double(_ index: Int32) -> Double {
        sqlite3_column_double(handle, index + offset)
    }

    func optionalDouble(_ index: Int32) -> Double? {
        sqlite3_column_type(handle, index + offset) == SQLITE_NULL ? nil : double(index)
    }

    func optionalData(_ index: Int32) -> Data? {
        guard sqlite3_column_type(handle, index + offset) != SQLITE_NULL else { return nil }
        let count = Int(sqlite3_column_bytes(handle, index + offset))
        guard count > 0, let bytes = sqlite3_column_blob(handle, index + offset) else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    /// A text's UTF-8 bytes in place (empty for NULL): valid only until the statement steps on or is reset.
    func textBytes(_ index: Int32) -> UnsafeBufferPointer<UInt8> {
        guard let text = sqlite3_column_text(handle, index + offset) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, index + offset)))
    }

    /// A blob's bytes in place: valid only until the statement steps on or is reset.
    func blob(_ index: Int32) -> UnsafeRawBufferPointer {
        // The pointer first, then its length (SQLite's advice: asking the length first may convert the value).
        guard let bytes = sqlite3_column_blob(handle, index + offset) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, index + offset)))
    }
}

extension Database {
    /// Runs a cached single-row query and decodes its first row in place; nil when there is no row.
    func fastFirst<T>(_ sql: String, _ arguments: StatementArguments, _ decode: (FastRow) -> T) throws -> T? {
        let statement = try cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        return try firstRow(handle, sql, decode)
    }

    /// Steps a bound statement once: its first row decoded in place, or nil when there is none.
    fileprivate func firstRow<T>(_ handle: OpaquePointer, _ sql: String, _ decode: (FastRow) -> T) throws -> T? {
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            return decode(FastRow(handle: handle))
        case SQLITE_DONE:
            return nil
        case let code:
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)), sql: sql)
        }
    }
}

extension Database {
    /// Runs a cached query and hands every row to `body` in place, by position (bulk reads of millions of rows).
    func fastEach(_ sql: String, _ arguments: StatementArguments, _ body: (FastRow) throws -> Void) throws {
        let statement = try cachedStatement(sql: sql)
        try statement.setArguments(arguments)
        let handle = statement.sqliteStatement
        defer { sqlite3_reset(handle) }
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW:
                try body(FastRow(handle: handle))
            case SQLITE_DONE:
                return
            case let code:
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)), sql: sql)
            }
        }
    }
}

/// A value bound to a statement parameter on the hot path, without GRDB's argument boxing.
enum FastValue {
    case text(String)
    case int(Int)
    case double(Double)
    case blob(Data)
    case null

    init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    init(_ data: Data?) { self = data.map { .blob($0) } ?? .null }
    init(_ number: Double?) { self = number.map { .double($0) } ?? .null }
    init(_ number: Int64?) { self = number.map { .int(Int($0)) } ?? .null }
}

/// SQLITE_TRANSIENT: SQLite copies the bound bytes before the call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension Database {
    /// Runs a cached write statement with the given values bound directly; returns the number of changed rows.
    @discardableResult
    func fastExecute(_ sql: String, _ values: [FastValue]) throws -> Int {
        let statement = try cachedStatement(sql: sql)
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        fastBind(handle, values)
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)), sql: sql)
        }
        return Int(sqlite3_changes(sqliteConnection))
    }
}

/// Binds `values` to parameters 1... of a reset statement.
@inline(__always)
private func fastBind(_ handle: OpaquePointer, _ values: [FastValue]) {
    for (offset, value) in values.enumerated() {
        let index = Int32(offset + 1)
        switch value {
        case let .text(text):
            // The string's own UTF-8 bytes, bound with their length: no NUL-terminated copy.
            var text = text
            _ = text.withUTF8 { bytes in
                if let base = bytes.baseAddress, bytes.count > 0 {
                    return UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                        sqlite3_bind_text(handle, index, $0, Int32(bytes.count), transient)
                    }
                }
                return sqlite3_bind_text(handle, index, "", 0, transient)
            }
        case let .int(number): sqlite3_bind_int64(handle, index, sqlite3_int64(number))
        case let .double(number): sqlite3_bind_double(handle, index, number)
        case let .blob(data):
            _ = data.withUnsafeBytes { bytes in
                sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), transient)
            }
        case .null: sqlite3_bind_null(handle, index)
        }
    }
}

extension Database {
    /// Runs a cached single-row query with the values bound directly (no GRDB argument boxing or validation) and
    /// decodes its first row in place; nil when there is no row. The hot path of single-record lookups.
    func fastLookup<T>(_ sql: String, _ values: [FastValue], _ decode: (FastRow) -> T) throws -> T? {
        let handle = try cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(handle)
        fastBind(handle, values)
        defer { sqlite3_reset(handle) }
        return try firstRow(handle, sql, decode)
    }
}

/// A statement prepared once and run many times with values bound directly (bulk writes of millions of rows).
struct FastStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer
    let sql: String
    /// Keeps GRDB's statement (and so the SQLite handle) alive.
    private let statement: Statement

    init(_ db: Database, _ sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
        self.sql = sql
    }

    @discardableResult
    func execute(_ values: FastValue...) throws -> Int {
        sqlite3_reset(handle)
        fastBind(handle, values)
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
        return Int(sqlite3_changes(connection))
    }

    // Binding one parameter at a time, then `run()`: the loops that write millions of rows bind each value straight
    // from the record, with no array of values per row.

    /// Binds text (its own UTF-8 bytes, copied by SQLite) to parameter `index` (1-based).
    @inline(__always)
    func bind(_ index: Int32, _ text: String) {
        var text = text
        _ = text.withUTF8 { bytes in
            guard let base = bytes.baseAddress, bytes.count > 0 else { return sqlite3_bind_text(handle, index, "", 0, transient) }
            return UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, index, $0, Int32(bytes.count), transient)
            }
        }
    }

    /// Binds text, or NULL for nil.
    @inline(__always)
    func bind(_ index: Int32, _ text: String?) {
        if let text { bind(index, text) } else { sqlite3_bind_null(handle, index) }
    }

    @inline(__always)
    func bind(_ index: Int32, _ number: Int) {
        sqlite3_bind_int64(handle, index, sqlite3_int64(number))
    }

    @inline(__always)
    func bind(_ index: Int32, _ number: Double) {
        sqlite3_bind_double(handle, index, number)
    }

    /// Binds a blob, or NULL for nil.
    @inline(__always)
    func bind(_ index: Int32, _ data: Data?) {
        guard let data else { sqlite3_bind_null(handle, index); return }
        _ = data.withUnsafeBytes { bytes in
            sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), transient)
        }
    }

    /// Binds bytes as a blob (copied by SQLite).
    func bind(_ index: Int32, bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in
            sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), transient)
        }
    }

    /// Binds NULL.
    @inline(__always)
    func bindNull(_ index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    /// Runs the statement with the values bound since the last run, then resets it (its bindings stay until rebound).
    @inline(__always)
    func run() throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
    }
}

/// Held digests of one entity in sourcedId order; see ``SQLiteTransaction/rosterDigestCursor(integrationID:entity:)``.
final class SQLiteRosterDigestCursor: RosterDigestCursor {
    private let statement: Statement
    private let handle: OpaquePointer
    private let connection: OpaquePointer
    private var done = false
    private let entity: String

    init(_ db: Database, integrationID: String, entity: String) throws {
        // A statement of its own (not cached): several cursors are open at once. The columns a delete keeps come with
        // each row (read from the row in place only for the records the diff finds omitted).
        self.entity = entity
        statement = try db.makeStatement(sql: """
            SELECT sourced_id, digest, ref1, ref2, ref3, title, ref4 FROM roster_records
            WHERE integration_id = ? AND entity = ? ORDER BY sourced_id
            """)
        try statement.setArguments([integrationID, entity])
        handle = statement.sqliteStatement
        connection = db.sqliteConnection!
    }

    /// The next held sourcedId and digest, or nil after the last.
    public func next() throws -> (sourcedID: String, digest: Int64)? {
        if done { return nil }
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            let row = FastRow(handle: handle)
            return (row.string(0), Int64(row.int(1)))
        case SQLITE_DONE:
            done = true
            sqlite3_reset(handle)
            return nil
        case let code:
            done = true
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)))
        }
    }

    /// The row ``next()`` stepped to, as its delete (see ``StorageCore/RosterDigestCursor/currentAsDelete()``).
    public func currentAsDelete() -> RosterChange? {
        guard !done else { return nil }
        let row = FastRow(handle: handle)
        return RosterChange.deleting(RosterRecord(
            entity: entity, sourcedID: row.string(0), digest: Int64(row.int(1)), ref1: row.optionalString(2),
            ref2: row.optionalString(3), ref3: row.optionalString(4), title: row.optionalString(5), ref4: row.optionalString(6)))
    }

    /// The row ``next()`` stepped to, encoded as its delete from the row's bytes in place.
    public func appendCurrentAsDelete(to deletes: inout EncodedChanges) -> Bool {
        guard !done else { return false }
        let row = FastRow(handle: handle)
        let handle = self.handle
        deletes.appendDelete(sourcedID: row.textBytes(0), digest: Int64(row.int(1))) { column in
            // ref1, ref2, ref3, title, ref4: the row's columns 2 to 6.
            let index = Int32(column + 1)
            return sqlite3_column_type(handle, index) == SQLITE_NULL ? nil : row.textBytes(index)
        }
        return true
    }
}
