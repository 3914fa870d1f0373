import Foundation
import StorageCore

/// One PostgreSQL transaction, seen by the domain as a ``StoreTransaction``: every concern's operations, each in the
/// file `PGTransaction+Concern.swift` beside this one, written with `$n` parameters (never spliced values).
final class PGTransaction: StoreTransaction {
    let connection: PGConnection
    private var savepointDepth = 0
    /// Set by operations that leave work for background workers (outbox messages, timers): the commit then sends
    /// `NOTIFY rosterflow_work` so idle workers in every process wake at once.
    var wakesWorkers = false
    private var open = true
    /// A write transaction (not a read-only snapshot): its reads of one instance lock that instance's row.
    let writes: Bool

    init(_ connection: PGConnection, writes: Bool) {
        self.connection = connection
        self.writes = writes
    }

    /// Ends the transaction's use (cursors and statements refuse to run after it).
    func close() { open = false }

    /// Runs a statement; returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ params: any PGEncodable...) throws -> Int {
        try connection.execute(sql, params.map(\.pgParam))
    }

    /// Runs a statement with parameters given as a list.
    @discardableResult
    func execute(_ sql: String, list params: [PGParam]) throws -> Int {
        try connection.execute(sql, params)
    }

    /// Runs a query and returns its rows.
    func query(_ sql: String, _ params: any PGEncodable...) throws -> PGRows {
        try connection.query(sql, params.map(\.pgParam))
    }

    /// Runs a query with parameters given as a list.
    func query(_ sql: String, list params: [PGParam]) throws -> PGRows {
        try connection.query(sql, params)
    }

    /// A text array parameter (`$n::text[]`), for `= ANY($n)`.
    static func textArray<S: Sequence>(_ values: S) -> PGParam where S.Element == String {
        var column = PGArrayColumn()
        for value in values { column.append(value) }
        return column.param
    }

    func savepoint<T>(_ body: () throws -> T) throws -> T {
        savepointDepth += 1
        let name = "rosterflow_step_\(savepointDepth)"
        defer { savepointDepth -= 1 }
        try connection.execute("SAVEPOINT \(name)")
        do {
            let result = try body()
            try connection.execute("RELEASE SAVEPOINT \(name)")
            return result
        } catch {
            try connection.execute("ROLLBACK TO SAVEPOINT \(name)")
            try connection.execute("RELEASE SAVEPOINT \(name)")
            throw error
        }
    }
}

