import Foundation

/// A request to stop: set from a signal handler (Ctrl-C, SIGTERM) and checked by syncs and approvals between steps.
///
/// A sync that sees it before its transaction commits throws ``RosterFlowError/Code/cancelled`` and its transaction
/// rolls back, so nothing of it is applied; once committed, a run stands and the request is ignored.
public final class SyncCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var signalNumber: Int32?

    /// A request nobody has made yet.
    public init() {}

    /// Asks every sync or approval of this service to stop; `signal` is the signal that asked (for the exit code).
    public func cancel(signal: Int32) {
        lock.lock()
        if signalNumber == nil { signalNumber = signal }
        lock.unlock()
    }

    /// The signal that asked to stop, or nil while nobody has.
    public var signal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return signalNumber
    }

    /// Throws ``RosterFlowError/Code/cancelled`` once a stop was asked for.
    public func check() throws {
        guard let signal else { return }
        throw RosterFlowError(
            .cancelled, "cancelled by \(Self.name(of: signal)), nothing applied",
            cause: "signal-\(signal)")
    }

    /// `SIGINT`, `SIGTERM`, or `signal N`.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }
}
