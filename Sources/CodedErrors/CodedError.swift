/// An error a person can act on: a stable code and a plain message.
///
/// Every module's errors (``CodedError/code`` differs per module: storage, notifications, the domain, the engine)
/// share this shape so that each front end — the CLI's `--json` errors and exit codes today, an HTTP API's problem
/// types later — can report any of them the same way. Codes are a contract: once shipped, a code keeps its meaning;
/// messages may be reworded.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    associatedtype Code: RawRepresentable & Sendable where Code.RawValue == String

    /// The stable code.
    var code: Code { get }
    /// What happened and, where it helps, what to do, in words a school or vendor admin can act on.
    var message: String { get }
}

extension CodedError {
    /// The stable code as text, e.g. `not-found`.
    public var codeName: String { code.rawValue }

    public var description: String { message }
}
