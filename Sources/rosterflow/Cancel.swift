import Foundation
import RosterFlowCore

/// Ctrl-C and SIGTERM for commands that change a roster (`sync run`, `sync approve`, `sync due`): the first signal asks
/// the service to stop; the run in progress rolls back before it commits, the command prints "cancelled, nothing
/// applied" and exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). A second signal is not needed.
enum Cancel {
    static func onSignals<T>(_ service: RosterFlowService, _ body: () async throws -> T) async throws -> T {
        let watch = SignalWatch.watch([SIGINT, SIGTERM, SIGHUP]) { number in
            if service.cancellation.signal == nil {
                FileHandle.standardError.write(Data(
                    "\(SyncCancellation.name(of: number)) received: stopping; nothing will be applied\n".utf8))
            }
            service.cancellation.cancel(signal: number)
        }
        defer { watch.stop() }
        do {
            let result = try await body()
            if let number = service.cancellation.signal {
                FileHandle.standardError.write(Data(
                    "note: \(SyncCancellation.name(of: number)) came after the change was committed: it stands as shown\n".utf8))
            }
            return result
        } catch let error as RosterFlowError where error.code == .cancelled {
            let number = service.cancellation.signal ?? SIGINT
            throw CancelledBySignal(signal: number, message: error.message)
        }
    }
}

/// A command stopped by a signal before it committed anything; exits 128 + the signal's number.
struct CancelledBySignal: Error {
    var signal: Int32
    var message: String
    var exitCode: Int32 { 128 + signal }
}
