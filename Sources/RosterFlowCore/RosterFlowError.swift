import CodedErrors
import Foundation
import OneRoster
import OneRosterREST
import StorageCore
import WorkflowEngine

/// An error a person can act on: a stable code and a plain message; every error of the modules below is translated
/// into one (``wrap(_:)``), so a front end maps these codes alone (the CLI to exit codes, later an API to problem types).
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
        /// A OneRoster REST provider could not be read: unreachable, it refused the credentials, or it kept failing.
        case unavailable = "unavailable"
        /// An error nothing translates: a defect, reported with its type so that it can be found (the CLI exits 70).
        case unexpected = "unexpected"
    }

    public var code: Code
    public var message: String
    /// What the workflow allows instead, when an event was refused.
    public var allowedEvents: [String]
    /// The more specific code of the module error this one translates (e.g. `role-not-allowed`, `stale-instance`).
    public var cause: String?
    /// Where the error was made: for a translated error, where the module error it translates was made.
    public var site: ThrowSite

    /// An error with a code and a plain message; `allowedEvents` lists what the workflow allows instead of a refused
    /// event, and `cause` is the code of the module error this one translates (see ``wrap(_:)``). The caller's file and
    /// line are recorded as the ``site``.
    public init(
        _ code: Code, _ message: String, allowedEvents: [String] = [], cause: String? = nil,
        fileID: String = #fileID, fileLine: Int = #line
    ) {
        self.init(code, message, allowedEvents: allowedEvents, cause: cause, site: ThrowSite(fileID: fileID, line: fileLine))
    }

    /// An error made at `site` (that of the error it translates).
    public init(_ code: Code, _ message: String, allowedEvents: [String] = [], cause: String? = nil, site: ThrowSite) {
        self.code = code
        self.message = message
        self.allowedEvents = allowedEvents
        self.cause = cause
        self.site = site
    }

    /// Translates errors from the engine, the store, the OneRoster reader and workflow validation into domain errors,
    /// keeping the module's code as ``cause`` and its ``site``; Foundation's file errors are storage (I/O) errors.
    /// Anything else is a defect: ``Code/unexpected``, named by its type, never passed off as a storage error.
    public static func wrap(_ error: any Error) -> RosterFlowError {
        switch error {
        case let error as RosterFlowError:
            return error
        case let refused as EventRefused:
            return RosterFlowError(
                .refused, refused.message, allowedEvents: refused.allowedEvents, cause: refused.codeName, site: refused.site)
        case let storage as StorageError:
            let code: Code = switch storage.code {
            case .staleInstance: .stale
            case .definitionChanged: .workflowDefinition
            case .database: .storage
            case .busy: .busy
            }
            return RosterFlowError(code, storage.message, cause: storage.codeName, site: storage.site)
        case let validation as WorkflowValidationError:
            return RosterFlowError(.workflowDefinition, validation.message, cause: validation.codeName, site: validation.site)
        case let bundle as OneRosterBundleError:
            let code: Code = switch bundle.code {
            case .notFound: .notFound
            case .notABundle, .badZip, .zipTooLarge, .notRegularFile, .unreadableFile: .invalidInput
            }
            return RosterFlowError(code, bundle.message, cause: bundle.codeName, site: bundle.site)
        case let csv as CSVReadError:
            let code: Code = switch csv.code {
            case .cannotRead: .notFound
            case .invalidUTF8, .notRegularFile, .unsupportedEncoding: .invalidInput
            }
            return RosterFlowError(code, csv.message, cause: csv.codeName, site: csv.site)
        case let rest as OneRosterRESTError:
            let code: Code = rest.code == .configuration ? .invalidInput : .unavailable
            return RosterFlowError(code, rest.message, cause: rest.codeName, site: rest.site)
        case let sample as SampleBundle.GeneratorError:
            return RosterFlowError(.invalidInput, sample.message, cause: sample.codeName, site: sample.site)
        case let file as CocoaError where file.isFileError:
            // Reading or writing a file the command was given (a spool, a report, a sample bundle): an I/O error.
            return RosterFlowError(.storage, "\(error)", cause: "file")
        case is POSIXError:
            return RosterFlowError(.storage, "\(error)", cause: "posix")
        default:
            return RosterFlowError(.unexpected, "unexpected \(String(reflecting: type(of: error))): \(error)")
        }
    }
}
