import Foundation
import StorageCore

extension PostgresStore {
    /// Runs `body` with a writer over one transaction of this database, for copying another store into it: committed
    /// when `body` returns, nothing written when it throws.
    public func withTableWriter<T>(_ body: (PostgresTableWriter) throws -> T) throws -> T {
        let connection = try pool.acquire()
        defer { pool.release(connection) }
        try connection.execute("BEGIN")
        do {
            let result = try body(PostgresTableWriter(connection: connection))
            try connection.execute("COMMIT")
            return result
        } catch {
            if connection.isHealthy { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
    }
}

/// Reads and writes whole tables of the PostgreSQL schema inside one transaction (`rosterflow migrate-store`).
public final class PostgresTableWriter: StoreTableReader {
    let connection: PGConnection

    init(connection: PGConnection) { self.connection = connection }

    public func tables() throws -> [StoreTable] {
        let columns = try connection.query("""
            SELECT c.table_name, c.column_name, c.data_type
            FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name != 'rosterflow_migrations'
                AND NOT (SELECT k.relispartition FROM pg_class k
                         WHERE k.oid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass)
            ORDER BY c.table_name COLLATE "C", c.ordinal_position
            """)
        let keys = try connection.query("""
            SELECT cl.relname, a.attname
            FROM pg_index i
            JOIN pg_class cl ON cl.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace AND n.nspname = current_schema()
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum = k.attnum
            WHERE i.indisprimary
            ORDER BY cl.relname, k.position
            """)
        var primaryKeys: [String: [String]] = [:]
        for row in 0..<keys.count { primaryKeys[keys.text(row, 0), default: []].append(keys.text(row, 1)) }
        var tables: [StoreTable] = []
        for row in 0..<columns.count {
            let name = columns.text(row, 0)
            if tables.last?.name != name { tables.append(StoreTable(name: name, columns: [], types: [], orderBy: [])) }
            tables[tables.count - 1].columns.append(columns.text(row, 1))
            tables[tables.count - 1].types.append(Self.type(columns.text(row, 2)))
        }
        for index in tables.indices {
            tables[index].orderBy = primaryKeys[tables[index].name] ?? tables[index].columns
        }
        return tables
    }

    public func rows(of table: StoreTable) throws -> any StoreRowCursor {
        try PGTableCursor(connection: connection, table: table)
    }

    /// The tables in an order that inserts every referenced row before the rows that refer to it (foreign keys).
    public func insertionOrder(_ names: [String]) throws -> [String] {
        let references = try connection.query("""
            SELECT cl.relname, ref.relname FROM pg_constraint c
            JOIN pg_class cl ON cl.oid = c.conrelid
            JOIN pg_class ref ON ref.oid = c.confrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace AND n.nspname = current_schema()
            WHERE c.contype = 'f'
            """)
        var needs: [String: Set<String>] = [:]
        for row in 0..<references.count where references.text(row, 0) != references.text(row, 1) {
            needs[references.text(row, 0), default: []].insert(references.text(row, 1))
        }
        var ordered: [String] = []
        var placed = Set<String>()
        var remaining = names.sorted()
        while !remaining.isEmpty {
            let ready = remaining.filter { (needs[$0] ?? []).allSatisfy { placed.contains($0) || !names.contains($0) } }
            let next = ready.isEmpty ? [remaining[0]] : ready
            for name in next { placed.insert(name) }
            ordered += next
            remaining.removeAll { placed.contains($0) }
        }
        return ordered
    }

    /// How many rows the table holds.
    public func rowCount(_ table: String) throws -> Int {
        try connection.query("SELECT count(*) FROM \(connection.identifier(table))").int(0, 0) ?? 0
    }

    /// Copies rows into a table with `COPY … FROM STDIN`; returns how many. The roster (`roster_records`, one partition
    /// per integration) is copied into a temporary table first, then into a partition made for each integration in it.
    @discardableResult
    public func copy(into table: StoreTable, from rows: any StoreRowCursor) throws -> Int {
        let count: Int
        switch table.name {
        case "roster_records":
            try connection.execute("CREATE TEMPORARY TABLE rosterflow_roster_import (LIKE roster_records INCLUDING DEFAULTS) ON COMMIT DROP")
            count = try copy(into: "rosterflow_roster_import", columns: table.columns, from: rows)
            try connection.execute("SELECT rosterflow_move_into_roster_partitions('rosterflow_roster_import')")
        case "provisioning_modes", "sign_in_providers":
            count = try copy(into: table.name, columns: table.columns, from: rows)
        default:
            return try copy(into: table.name, columns: table.columns, from: rows)
        }
        // The partitions of integrations that find enrollments by class and user get their indexes, whichever of the
        // roster and the settings saying so is copied last (see the v13 migration).
        try connection.execute("SELECT rosterflow_key_enrollments(integration_id, true) FROM (\(PGTransaction.enrollmentsKeptSQL)) kept")
        return count
    }

    private func copy(into table: String, columns names: [String], from rows: any StoreRowCursor) throws -> Int {
        let columns = names.map { connection.identifier($0) }.joined(separator: ", ")
        var count = 0
        var copy = PGCopyRows()
        try connection.copyIn("COPY \(connection.identifier(table)) (\(columns)) FROM STDIN") { buffer in
            while copy.count < 2_000, let row = try rows.next() {
                for value in row {
                    switch value {
                    case .null: copy.append(nil as String?)
                    case .integer(let number): copy.append(number as Int64?)
                    case .real(let number): copy.append(number)
                    case .text(let text): copy.append(text)
                    case .blob(let data): copy.append(bytea: data)
                    }
                }
                copy.endRow()
            }
            let more = copy.count == 2_000
            count += copy.count
            buffer = copy.take()
            return more
        }
        return count
    }

    /// Moves every identity column's sequence past the largest copied value, so new rows get new numbers.
    public func resetIdentities() throws {
        let identities = try connection.query("""
            SELECT table_name, column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND is_identity = 'YES'
            """)
        for row in 0..<identities.count {
            let table = connection.identifier(identities.text(row, 0))
            let column = connection.identifier(identities.text(row, 1))
            try connection.execute("""
                SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(\(column)) FROM \(table)), 0) + 1, false)
                """, [.text(identities.text(row, 0)), .text(identities.text(row, 1))])
        }
    }

    static func type(_ dataType: String) -> StoreColumnType {
        switch dataType {
        case "bigint", "integer", "smallint": return .integer
        case "double precision", "real", "numeric": return .real
        case "bytea": return .blob
        default: return .text
        }
    }

}

/// A table's rows through a server-side cursor, fetched 2,000 at a time.
final class PGTableCursor: StoreRowCursor {
    private let connection: PGConnection
    private let table: StoreTable
    private let name: String
    private var batch: PGRows?
    private var index = 0
    private var finished = false
    private static let counter = Counter()

    init(connection: PGConnection, table: StoreTable) throws {
        self.connection = connection
        self.table = table
        name = "rosterflow_copy_\(Self.counter.next())"
        let columns = table.columns.map { connection.identifier($0) }.joined(separator: ", ")
        let order = table.orderBy.map { connection.identifier($0) }.joined(separator: ", ")
        try connection.execute("DECLARE \(name) NO SCROLL CURSOR FOR SELECT \(columns) FROM \(connection.identifier(table.name)) ORDER BY \(order)")
    }

    func next() throws -> [StoreValue]? {
        if finished { return nil }
        if batch == nil || index >= batch!.count {
            batch = try connection.query("FETCH 2000 FROM \(name)")
            index = 0
            if batch!.count == 0 {
                finished = true
                try connection.execute("CLOSE \(name)")
                return nil
            }
        }
        let rows = batch!
        defer { index += 1 }
        return table.types.indices.map { column in
            if rows.isNull(index, column) { return .null }
            switch table.types[column] {
            case .integer: return .integer(rows.int64(index, column) ?? 0)
            case .real: return .real(rows.double(index, column) ?? 0)
            case .text: return .text(rows.text(index, column))
            case .blob: return .blob(rows.data(index, column) ?? Data())
            }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
}
