import Foundation
import Logging
import ServiceLifecycle

/// Runs an ``OutboxDispatcher`` until graceful shutdown: pipelined passes (at most four batches at a
/// time) whenever work may be due, a pause of `pollInterval` when a pass found nothing. On shutdown it finishes the
/// batches in flight (their outcomes are recorded), gives back any claim it still holds, and returns.
public struct DispatcherService: Service {
    public let dispatcher: OutboxDispatcher
    public let pollInterval: Duration
    public let logger: Logger

    /// A service that runs `dispatcher`, pausing for `pollInterval` after a pass that found nothing to do.
    public init(dispatcher: OutboxDispatcher, pollInterval: Duration = .seconds(1), logger: Logger) {
        self.dispatcher = dispatcher
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Runs dispatcher passes until graceful shutdown or cancellation, logging each pass that did something; a pass
    /// that fails is logged and the next one goes ahead. On the way out it gives back the claims it still holds.
    public func run() async throws {
        logger.info("outbox dispatcher started", metadata: ["worker": "\(dispatcher.workerID)"])
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var idle = true
            do {
                let report = try await dispatcher.drainInBackground(maxPasses: 4)
                idle = report.claimed == 0 && report.fannedOut == 0
                if !idle {
                    logger.info("outbox pass", metadata: [
                        "claimed": "\(report.claimed)", "sent": "\(report.sent)", "retrying": "\(report.retrying)",
                        "failed": "\(report.failed)", "dead": "\(report.dead)", "skipped": "\(report.skipped)",
                        "released": "\(report.released)",
                    ])
                }
                if report.released > 0 {
                    let config = dispatcher.config
                    logger.warning("""
                        \(report.released) deliveries were given back unsent: their lease (lease_seconds \(config.leaseSeconds)) \
                        would have run out before they could be sent, behind slower sends. Another pass sends them; if this \
                        repeats, raise lease_seconds or concurrency
                        """)
                }
            } catch {
                logger.error("outbox pass failed: \(error)")
            }
            if idle {
                let interval = pollInterval
                let store = dispatcher.store
                // Woken early when another transaction (any process) commits outbox work, where the store can tell.
                _ = await cancelWhenGracefulShutdown { await store.waitForWork(timeout: interval) }
            }
        }
        try? dispatcher.releaseClaims()
        logger.info("outbox dispatcher stopped", metadata: ["worker": "\(dispatcher.workerID)"])
    }
}

/// Runs `body` every `interval` until graceful shutdown (e.g. firing due workflow timers).
public struct PeriodicService: Service {
    public let name: String
    public let interval: Duration
    public let logger: Logger
    let body: @Sendable () async throws -> Void

    /// A service that runs `body` every `interval`; `name` identifies it in the log.
    public init(name: String, interval: Duration, logger: Logger, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.body = body
    }

    /// Runs `body`, then waits `interval`, until graceful shutdown or cancellation; an error from `body` is logged and
    /// the next run goes ahead.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await body()
            } catch {
                logger.error("\(name) failed: \(error)")
            }
            let interval = self.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
