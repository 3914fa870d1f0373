import Foundation
import StorageCore

/// Listens on its own connection for `NOTIFY rosterflow_work`, which write transactions that leave work for background
/// workers (outbox messages, timers) send as they commit, in any process. Idle workers wait on ``waitForWork(timeout:)``
/// instead of sleeping their whole poll interval; polling stays as the fallback when the connection is down.
final class PGListener: @unchecked Sendable {
    static let channel = "rosterflow_work"

    private let configuration: PostgresConfiguration
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var running = true
    private var started = false

    init(configuration: PostgresConfiguration) {
        self.configuration = configuration
    }

    /// Starts the listening thread the first time a worker waits (servers that never wait never open the connection).
    private func startOnce() {
        lock.lock()
        defer { lock.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [weak self] in self?.listen() }
        thread.name = "rosterflow-postgres-listener"
        thread.start()
    }

    func stop() {
        lock.lock()
        running = false
        lock.unlock()
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func bump() {
        lock.lock()
        generation &+= 1
        lock.unlock()
    }

    private var current: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return generation
    }

    private func listen() {
        var delay = 0.1
        while isRunning {
            do {
                let connection = try PGConnection(
                    conninfo: configuration.conninfo, displayName: configuration.displayName,
                    setup: configuration.schema.map { ["SET search_path TO \"\($0)\""] } ?? [])
                try connection.execute("LISTEN \(Self.channel)")
                delay = 0.1
                // Work may have been committed while the connection was down: wake the waiters once.
                bump()
                while isRunning {
                    if !(try connection.waitForNotifications(timeout: 0.5)).isEmpty { bump() }
                }
            } catch {
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 5)
            }
        }
    }

    /// Returns when a notification arrives after this call began, or after `timeout`, or when the task is cancelled.
    func waitForWork(timeout: Duration) async {
        startOnce()
        let start = current
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if current != start { return }
            do { try await Task.sleep(for: min(.milliseconds(25), deadline - clock.now)) } catch { return }
        }
    }
}
