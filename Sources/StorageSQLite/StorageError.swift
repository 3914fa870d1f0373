import StorageCore
import GRDB
import CodedErrors

extension StorageError {
    /// The store's error for a GRDB/SQLite error: a lock another process would not give up in time is ``Code/busy``
    /// (try again), anything else ``Code/database``.
    static func translating(_ error: DatabaseError) -> StorageError {
        if error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            return StorageError(
                .busy, "the database is busy: another process kept it locked for more than 10 s (for example a large sync "
                    + "applying its changes); nothing was done, try again in a moment")
        }
        return StorageError(.database, "database error: \(error.message ?? error.description)")
    }
}
