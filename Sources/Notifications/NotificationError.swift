import CodedErrors

/// Errors from notifications (templates, configuration, transports, the outbox), each with a stable code and a
/// message a person can act on.
public struct NotificationError: CodedError {
    /// Stable codes; the CLI maps them to exit codes.
    public enum Code: String, Sendable, Codable {
        /// A template is missing, does not parse, or uses a variable its event does not provide.
        case template = "template"
        /// The configuration file or environment is invalid.
        case configuration = "configuration"
        /// A transport could not be set up (not a per-message failure: those are kept on the delivery).
        case transport = "transport"
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
