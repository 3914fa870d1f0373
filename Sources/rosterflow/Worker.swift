import ArgumentParser
import Foundation
import Logging
import Notifications
import RosterFlowApp
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
                warnAboutInputLimitKnobs()
                let logger = Logger(label: "rosterflow.worker")
                let config = try notify.load()
                if let smtp = config.smtp, smtp.sendsCredentialsInClear {
                    logger.warning("allow_plaintext_auth is set: the SMTP username and password go to \(smtp.url) unencrypted; use smtps:// or STARTTLS unless the relay is on this machine")
                }
                let configuration = AppConfiguration(
                    databasePath: options.db, workflowsPath: options.workflowsPath, notifications: config,
                    templatesPath: notify.templates, workerID: workerId, pollInterval: .milliseconds(Int(pollInterval * 1000)),
                    timerInterval: .milliseconds(Int(timerInterval * 1000)), syncInterval: .milliseconds(Int(syncInterval * 1000)))
                for problem in PrivateFiles.problems(database: options.db, spool: configuration.spoolFolder, config: notify.configPath) {
                    logger.warning("\(problem.path) (mode \(problem.mode)): \(problem.problem); fix: \(problem.fix)")
                }
                let app = try RosterFlowApp(configuration)
                if once {
                    let report = try await app.runOnce()
                    try Output.emit(report, json: options.json) { r in
                        "sent \(r.sent), retrying \(r.retrying), failed \(r.failed), dead \(r.dead), skipped \(r.skipped)"
                            + (r.released > 0 ? ", given back unsent \(r.released) (their lease would have run out first)" : "")
                    }
                    return
                }
                try await app.run(logger: logger)
            }
        }
    }
}
