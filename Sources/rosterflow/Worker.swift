import ArgumentParser
import Foundation
import Logging
import Notifications
import RosterFlowCore
import ServiceLifecycle

extension RosterFlowCommand {
    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send notifications, fire due workflow timers and run nightly syncs at each school's time, until SIGTERM or SIGINT.",
            discussion: """
                Several workers may share one database: each delivery is claimed under a lease, so no two send it at \
                once, and a worker that dies mid-send leaves a lease that runs out, after which the delivery is sent \
                again under the same id. On SIGTERM/SIGINT the worker finishes the sends in flight, records them, rolls \
                back a nightly sync in progress (it stays due), and stops. With no SMTP server configured, mail is written as .eml files to outbox-spool next to the database.
                """)
        @OptionGroup var options: StoreOptions
        @OptionGroup var notify: NotificationOptions
        @Option(help: "Seconds between outbox polls when idle.") var pollInterval: Double = 1
        @Option(help: "Seconds between due-timer checks.") var timerInterval: Double = 30
        @Option(help: "Seconds between checks for due nightly syncs.") var syncInterval: Double = 60
        @Option(help: "This worker's name in claims (default: host and process id).") var workerId: String?
        @Flag(help: "Fire due timers, run due nightly syncs, send everything that is due, then exit.") var once = false

        func run() async throws {
            try await Output.run(json: options.json) {
                let logger = Logger(label: "rosterflow.worker")
                let config = try notify.load()
                if let smtp = config.smtp, smtp.sendsCredentialsInClear {
                    logger.warning("allow_plaintext_auth is set: the SMTP username and password go to \(smtp.url) unencrypted; use smtps:// or STARTTLS unless the relay is on this machine")
                }
                let spool = config.spoolFolder ?? NotificationOptions.defaultSpool(database: options.db)
                for problem in PrivateFiles.problems(database: options.db, spool: spool, config: notify.configPath) {
                    logger.warning("\(problem.path) (mode \(problem.mode)): \(problem.problem); fix: \(problem.fix)")
                }
                let service = try options.open()
                let catalog = try notify.catalog(config)
                try catalog.check(uses: service.notificationUses().map { (workflow: $0.workflow, template: $0.template) })
                let id = workerId ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
                let dispatcher = OutboxDispatcher(
                    store: service.store, config: config, templates: catalog, workerID: id,
                    spoolFolder: NotificationOptions.defaultSpool(database: options.db))
                if once {
                    _ = try await service.fireDueTimers()
                    _ = try await service.runDueSyncs()
                    let report = try dispatcher.drain()
                    try Output.emit(report, json: options.json) { r in
                        "sent \(r.sent), retrying \(r.retrying), failed \(r.failed), dead \(r.dead), skipped \(r.skipped)"
                    }
                    return
                }
                let timers = PeriodicService(
                    name: "timers", interval: .milliseconds(Int(timerInterval * 1000)), logger: logger
                ) {
                    let fired = try await service.fireDueTimers()
                    if !fired.isEmpty { logger.info("fired \(fired.count) due timer(s)") }
                }
                let syncs = PeriodicService(
                    name: "nightly-syncs", interval: .milliseconds(Int(syncInterval * 1000)), logger: logger
                ) {
                    // On shutdown a nightly sync in progress rolls back (it stays due) instead of holding the worker.
                    let outcomes = try await withGracefulShutdownHandler {
                        try await service.runDueSyncs()
                    } onGracefulShutdown: {
                        service.cancellation.cancel(signal: SIGTERM)
                    }
                    for outcome in outcomes {
                        let alert = outcome.alert.map { "; alert: \($0)" } ?? ""
                        logger.info("nightly sync of \(outcome.integrationID): \(outcome.decision)\(alert); next \(outcome.nextSyncAt)")
                    }
                }
                let dispatch = DispatcherService(
                    dispatcher: dispatcher, pollInterval: .milliseconds(Int(pollInterval * 1000)), logger: logger)
                let group = ServiceGroup(configuration: .init(
                    services: [.init(service: dispatch), .init(service: timers), .init(service: syncs)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                try await group.run()
            }
        }
    }
}
