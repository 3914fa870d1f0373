/// An error a person can act on: a stable code and a plain message.
///
/// Every module's errors (``CodedError/code`` differs per module: storage, notifications, the domain, the engine, the
/// OneRoster reader, workflow validation) share this shape so that each front end — the CLI's `--json` errors and exit
/// codes today, an HTTP API's problem types later — can report any of them the same way. Codes are a contract: once
/// shipped, a code keeps its meaning; messages may be reworded. Which exit code or HTTP status a code means is the
/// front end's business, not the module's.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    associatedtype Code: RawRepresentable & Sendable where Code.RawValue == String

    /// The stable code.
    var code: Code { get }
    /// What happened and, where it helps, what to do, in words a school or vendor admin can act on.
    var message: String { get }
    /// Where in the source the error was made (thrown), for whoever has to find out why: captured by default
    /// arguments of the error's initialisers, so call sites do not name it.
    var site: ThrowSite { get }
}

extension CodedError {
    /// The stable code as text, e.g. `not-found`.
    public var codeName: String { code.rawValue }

    public var description: String { message }
}

/// The place in the source where an error was made: the `#fileID` (`Module/File.swift`) and `#line` of its initialiser's
/// caller.
///
/// A site is a diagnostic, not part of an error's identity: any two sites compare equal and hash alike, so errors that
/// store one keep their synthesized `Equatable` and `Hashable` meaning "same code, same details".
public struct ThrowSite: Sendable, Hashable, CustomStringConvertible {
    /// `Module/File.swift`.
    public let fileID: String
    /// The 1-based line.
    public let line: Int

    /// The site of the caller: use it as a default argument (`site: ThrowSite = ThrowSite()`) and the caller's file
    /// and line are recorded.
    public init(fileID: String = #fileID, line: Int = #line) {
        self.fileID = fileID
        self.line = line
    }

    /// `Module/File.swift:42`.
    public var description: String { "\(fileID):\(line)" }

    /// Always true: where an error was made does not change which error it is.
    public static func == (lhs: ThrowSite, rhs: ThrowSite) -> Bool { true }

    /// Hashes nothing, consistent with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {}
}
