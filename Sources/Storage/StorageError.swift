import GRDB
import CodedErrors

/// Errors from the store, each with a stable code and a message a person can act on.
public struct StorageError: CodedError {
    /// Stable codes; RosterFlowCore translates each into one of its own.
    public enum Code: String, Sendable, Codable {
        /// Someone else changed the instance since the caller read it.
        case staleInstance = "stale-instance"
        /// A workflow file changed without a new version number.
        case definitionChanged = "definition-changed"
        case database = "database"
        /// Another process held the database's write lock for longer than the busy timeout; nothing was done.
        case busy = "database-busy"
    }

    public var code: Code
    public var message: String
    public var site: ThrowSite

    /// An error with a stable code and a message a person can act on; the caller's file and line are its ``site``.
    public init(_ code: Code, _ message: String, fileID: String = #fileID, fileLine: Int = #line) {
        self.code = code
        self.message = message
        self.site = ThrowSite(fileID: fileID, line: fileLine)
    }
}

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
