import Foundation

/// Ctrl-C, SIGTERM and SIGHUP for the commands that must clean up or cancel before they end (`validate`, `sync run`,
/// `sync due`, `sync approve`, `pause`).
///
/// Not libdispatch's signal sources: on Linux such a source sets a handler that forwards the signal to the thread that
/// registered the first source, and reads it from a `signalfd` on whichever thread polls the event loop at the time. A
/// forwarded signal can wait unseen on a thread that no longer polls, and a signal that arrives between `SIG_IGN` and the
/// source's registration is dropped: a `validate` once read to the end and exited 0 after its Ctrl-C.
///
/// Here a handler of our own writes the signal's number into a pipe (`write` is safe in a signal handler) and a thread
/// of its own reads the pipe and calls the Swift handler. Installing the handler is synchronous, so no signal is lost
/// between the call and the first one received.
enum SignalWatch {
    /// Calls `handler` on the watching thread for each of `signals` received, until the returned watch is stopped. A
    /// later watch of the same signal replaces this one; stopping a watch gives its signals their default action again.
    static func watch(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) -> Watch {
        Watcher.shared.install(signals, handler)
    }

    /// Ends the process as `signal`'s default action would (the exit status the shell and `Process` report as "killed
    /// by SIGINT"), after a handler did its cleanup. The signal is raised on the calling thread with it unblocked, so no
    /// other thread's signal mask can keep it pending.
    static func endAsSignal(_ number: Int32) -> Never {
        signal(number, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(number)
        exit(128 + number)
    }

    /// One call's signals; `stop()` gives them their default action again (unless a later watch took them over).
    struct Watch: Sendable {
        fileprivate let signals: [Int32]
        fileprivate let generation: Int

        func stop() {
            Watcher.shared.remove(signals, generation: generation)
        }
    }
}

/// The write end of the pipe, read by the C-level handler. Set once, before any handler is installed.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// The handler the kernel calls, on whatever thread it picks: one byte (the signal's number) into the pipe.
private func forwardSignalToPipe(_ number: Int32) {
    let saved = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = saved
}

private final class Watcher: @unchecked Sendable {
    static let shared = Watcher()

    private let lock = NSLock()
    private var handlers: [Int32: (generation: Int, handler: @Sendable (Int32) -> Void)] = [:]
    private var generation = 0
    private let readEnd: Int32

    private init() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { fatalError("cannot create the signal pipe: errno \(errno)") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        // A full pipe drops further signals rather than blocking the handler; one of each is enough.
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        readEnd = ends[0]
        signalPipeWriteEnd = ends[1]
        let thread = Thread { [readEnd] in Watcher.read(from: readEnd) }
        thread.name = "rosterflow.signals"
        thread.start()
    }

    private static func read(from readEnd: Int32) {
        // This thread takes the signals too, whatever mask it was started with: at least one thread always can.
        var set = sigset_t()
        sigemptyset(&set)
        for number in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        var byte: UInt8 = 0
        while true {
            let count = Foundation.read(readEnd, &byte, 1)
            if count == 1 {
                Watcher.shared.deliver(Int32(byte))
            } else if count < 0, errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    func install(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) -> SignalWatch.Watch {
        lock.lock()
        generation += 1
        let current = generation
        for number in signals { handlers[number] = (current, handler) }
        lock.unlock()
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = forwardSignalToPipe
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
        return SignalWatch.Watch(signals: signals, generation: current)
    }

    func remove(_ signals: [Int32], generation: Int) {
        lock.lock()
        defer { lock.unlock() }
        for number in signals where handlers[number]?.generation == generation {
            handlers[number] = nil
            signal(number, SIG_DFL)
        }
    }

    private func deliver(_ number: Int32) {
        lock.lock()
        let handler = handlers[number]?.handler
        lock.unlock()
        if let handler {
            handler(number)
        } else {
            // Received as the watch stopped: what the default action would have done.
            SignalWatch.endAsSignal(number)
        }
    }
}
