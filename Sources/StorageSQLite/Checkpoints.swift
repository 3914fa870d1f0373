import Foundation
import GRDB
import GRDBSQLite

/// The size of the write-ahead log after the writing connection's last commit, in pages, from SQLite's WAL hook; it
/// replaces SQLite's automatic checkpoint on that connection, so the store checkpoints once a commit is acknowledged
/// instead of inside it (see ``SQLiteStore``).
final class WALPages: @unchecked Sendable {
    private let lock = NSLock()
    private var pages: Int32 = 0

    /// Watches `db`'s commits (the writing connection; a reader never commits).
    func watch(_ db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, { context, _, _, pages in
            Unmanaged<WALPages>.fromOpaque(context!).takeUnretainedValue().set(pages)
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func set(_ value: Int32) {
        lock.lock()
        pages = value
        lock.unlock()
    }

    /// Whether the log has reached `threshold` pages since it was last found so (the count is taken).
    func take(atLeast threshold: Int32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard pages >= threshold else { return false }
        pages = 0
        return true
    }
}

/// Copies the write-ahead log into the database (a passive checkpoint) on a connection and a thread of its own, so
/// that the writing connection goes on with the next transaction meanwhile: a passive checkpoint takes no write
/// lock, and the commits made during it go to the log as usual. Requested after a commit left the log long
/// (``SQLiteStore/checkpointPages``); a request made while one runs waits for it and runs once more after it (the
/// commits made meanwhile are copied too).
final class BackgroundCheckpointer: @unchecked Sendable {
    private let path: String
    private let queue = DispatchQueue(label: "rosterflow.sqlite.checkpoint")
    private let lock = NSLock()
    private var queued = false
    private var connection: OpaquePointer?
    private var closed = false
    private var completed = 0
    private var beforeCheckpoint: (@Sendable () -> Void)?

    init(path: String) {
        self.path = path
    }

    /// Asks for a checkpoint soon, off the caller's thread.
    func request() {
        lock.lock()
        guard !queued, !closed else { lock.unlock(); return }
        queued = true
        lock.unlock()
        queue.async { [self] in
            lock.lock()
            queued = false
            let hook = beforeCheckpoint
            let done = closed
            lock.unlock()
            guard !done else { return }
            hook?()
            checkpoint()
        }
    }

    private func checkpoint() {
        if connection == nil {
            var db: OpaquePointer?
            guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
                sqlite3_close_v2(db)
                return
            }
            // A connection learns that the database is in WAL mode, and opens the log, on its first read; until then
            // a checkpoint on it does nothing.
            guard sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
                sqlite3_close_v2(db)
                return
            }
            connection = db
        }
        // A failed or partial checkpoint (another one running, a reader on an old snapshot) is tried again after a
        // later commit fills the log.
        if sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
            lock.lock()
            completed += 1
            lock.unlock()
        }
    }

    /// Waits for a checkpoint under way and closes the connection; later requests do nothing.
    func close() {
        lock.lock()
        closed = true
        lock.unlock()
        queue.sync {
            if let connection { sqlite3_close_v2(connection) }
            connection = nil
        }
    }

    /// Checkpoints completed so far (for tests).
    var completedCount: Int { lock.lock(); defer { lock.unlock() }; return completed }

    /// Has `body` run on the checkpoint's thread before each checkpoint (tests hold a checkpoint with it).
    func runBeforeEachCheckpoint(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        beforeCheckpoint = body
        lock.unlock()
    }
}
