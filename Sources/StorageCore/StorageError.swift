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

extension StorageError {
    /// The refusal of a transition whose instance changed since it was read (or is gone); `current` is the instance as
    /// stored now. Every conformer says it the same way.
    public static func staleInstance(
        id: String, expectedRowVersion: Int, current: InstanceRecord?, fileID: String = #fileID, fileLine: Int = #line
    ) -> StorageError {
        StorageError(
            .staleInstance,
            current.map {
                "\($0.id) changed since it was read (read at version \(expectedRowVersion), now version \($0.rowVersion), "
                    + "in state '\($0.state)'); nothing was applied: reload it and decide again"
            } ?? "\(id) does not exist", fileID: fileID, fileLine: fileLine)
    }

    /// The refusal of a migration whose instance changed since it was read (or is gone); `current` is the instance as
    /// stored now.
    public static func staleMigration(
        id: String, expectedRowVersion: Int, fromVersion: Int, current: InstanceRecord?, fileID: String = #fileID,
        fileLine: Int = #line
    ) -> StorageError {
        StorageError(
            .staleInstance,
            current.map {
                "\($0.id) changed since it was read (read at version \(expectedRowVersion) of definition \(fromVersion), "
                    + "now row version \($0.rowVersion) of definition \($0.version), in state '\($0.state)'); "
                    + "it was not migrated: run the migration again"
            } ?? "\(id) does not exist", fileID: fileID, fileLine: fileLine)
    }
}
