import CodedErrors
import Storage
import WorkflowEngine

/// An error a person can act on: a stable code, a plain message, and the exit code the CLI returns for it.
public struct RosterFlowError: CodedError {
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
        /// Another process is syncing or approving the same integration right now; try again when it finishes.
        case busy = "busy"
        /// A signal (Ctrl-C, SIGTERM) stopped the command before anything was committed.
        case cancelled = "cancelled"
    }

    public var code: Code
    public var message: String
    /// What the workflow allows instead, when an event was refused.
    public var allowedEvents: [String]
    /// The more specific code of the module error this one translates (e.g. `role-not-allowed`, `stale-instance`).
    public var cause: String?

    /// An error with a code and a plain message; `allowedEvents` lists what the workflow allows instead of a refused
    /// event, and `cause` is the code of the module error this one translates (see ``wrap(_:)``).
    public init(_ code: Code, _ message: String, allowedEvents: [String] = [], cause: String? = nil) {
        self.code = code
        self.message = message
        self.allowedEvents = allowedEvents
        self.cause = cause
    }

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
        case .busy: 75
        case .cancelled: 130
        }
    }

    /// Translates errors from the engine and the store into domain errors.
    public static func wrap(_ error: any Error) -> RosterFlowError {
        switch error {
        case let error as RosterFlowError:
            return error
        case let refused as EventRefused:
            return RosterFlowError(.refused, refused.message, allowedEvents: refused.allowedEvents, cause: refused.codeName)
        case let storage as StorageError:
            let code: Code = switch storage.code {
            case .staleInstance: .stale
            case .notFound: .notFound
            case .duplicate: .conflict
            case .definitionChanged: .workflowDefinition
            case .database: .storage
            }
            return RosterFlowError(code, storage.message, cause: storage.codeName)
        case let validation as WorkflowValidationError:
            return RosterFlowError(.workflowDefinition, validation.description)
        default:
            return RosterFlowError(.storage, "\(error)")
        }
    }
}
