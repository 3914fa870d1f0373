import GRDBSQLite
import Synchronization

/// `PRAGMA data_version` read on a connection of its own that never writes: its value changes whenever any other
/// connection commits (the store's writer, or another process's on the same file), so it tells in about a microsecond
/// whether anything changed since it was last read.
final class CommitCounter: Sendable {
    private struct Connection: @unchecked Sendable {
        let database: OpaquePointer
        let statement: OpaquePointer
    }

    private let connection: Mutex<Connection?>

    /// Opens the counter's own read-only connection; if that fails, ``value()`` answers nil (nothing is reused).
    init(path: String) {
        var database: OpaquePointer?
        var statement: OpaquePointer?
        if sqlite3_open_v2(path, &database, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let database,
           sqlite3_prepare_v2(database, "PRAGMA data_version", -1, &statement, nil) == SQLITE_OK, let statement {
            connection = Mutex(Connection(database: database, statement: statement))
        } else {
            sqlite3_finalize(statement)
            sqlite3_close(database)
            connection = Mutex(nil)
        }
    }

    /// The connection's current data version, or nil when it cannot be read.
    func value() -> Int64? {
        connection.withLock { connection in
            guard let connection else { return nil }
            defer { sqlite3_reset(connection.statement) }
            guard sqlite3_step(connection.statement) == SQLITE_ROW else { return nil }
            return sqlite3_column_int64(connection.statement, 0)
        }
    }

    deinit {
        connection.withLock { connection in
            guard let connection else { return }
            sqlite3_finalize(connection.statement)
            sqlite3_close(connection.database)
        }
    }
}
