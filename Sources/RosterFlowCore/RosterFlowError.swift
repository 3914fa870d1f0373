import Storage
import WorkflowEngine

/// An error a person can act on: a stable code, a plain message, and the exit code the CLI returns for it.
public struct RosterFlowError: Error, Sendable, CustomStringConvertible {
    /// Stable codes; the CLI's exit code and (later) the API's problem type derive from them.
    public enum Code: String, Sendable, Codable {
        /// The request itself is malformed (bad time, unknown zone, bad CSV).
        case invalidInput = "invalid-input"
        case notFound = "not-found"
        /// The workflow refused the event (wrong state, wrong role, or a guard said no).
        case refused = "refused"
        /// The instance changed since the caller read it.
        case stale = "stale-instance"
        /// The workflow definitions are invalid or changed without a new version.
        case workflowDefinition = "workflow-definition"
        case conflict = "conflict"
        case storage = "storage"
    }

    public var code: Code
    public var message: String
    /// What the workflow allows instead, when an event was refused.
    public var allowedEvents: [String]

    public init(_ code: Code, _ message: String, allowedEvents: [String] = []) {
        self.code = code
        self.message = message
        self.allowedEvents = allowedEvents
    }

    public var description: String { message }

    /// The process exit code the CLI uses for this error.
    public var exitCode: Int32 {
        switch code {
        case .invalidInput: 64
        case .notFound: 66
        case .refused: 3
        case .stale: 4
        case .conflict: 5
        case .workflowDefinition: 78
        case .storage: 74
        }
    }

    /// Translates errors from the engine and the store into domain errors.
    public static func wrap(_ error: any Error) -> RosterFlowError {
        switch error {
        case let error as RosterFlowError:
            return error
        case let refused as EventRefused:
            return RosterFlowError(.refused, refused.description, allowedEvents: refused.allowedEvents)
        case let storage as StorageError:
            switch storage.code {
            case .staleInstance: return RosterFlowError(.stale, storage.message)
            case .notFound: return RosterFlowError(.notFound, storage.message)
            case .duplicate: return RosterFlowError(.conflict, storage.message)
            case .definitionChanged: return RosterFlowError(.workflowDefinition, storage.message)
            case .database: return RosterFlowError(.storage, storage.message)
            }
        case let validation as WorkflowValidationError:
            return RosterFlowError(.workflowDefinition, validation.description)
        default:
            return RosterFlowError(.storage, "\(error)")
        }
    }
}
