import CodedErrors
import Foundation

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
