import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowEngine

extension RosterFlowCommand.Integrations {
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause an integration until a date (the summer break): nightly syncs are skipped without missed-sync alerts.",
            discussion: """
                The pause ends at the start of --until in the school's time zone: the first nightly sync from then on resumes \
                the integration and runs one sync held for review. `integrations resume` resumes it earlier.
                """)
        @OptionGroup var options: StoreOptions
        @Argument(help: "Integration id.") var id: String
        @Option(help: "The day syncs resume, YYYY-MM-DD.") var until: String
        @Option(help: "Why; stored in history.") var reason: String?
        @Option(name: .customLong("as"), help: "The role sending the event (default: vendor-admin).") var role: Role?

        func run() async throws {
            try await Output.run(json: options.json) {
                let step = try await options.open().pause(
                    integrationID: id, until: until, reason: reason, role: role, actor: options.actor)
                try Output.emit(step, json: options.json, text: Text.step)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume a paused integration now and run one sync at once, held for review before anything is applied.")
        @OptionGroup var options: StoreOptions
        @Argument(help: "Integration id.") var id: String
        @Option(name: .customLong("as"), help: "The role sending the event (default: vendor-admin).") var role: Role?

        func run() async throws {
            try await Output.run(json: options.json) {
                let service = try options.open()
                let outcome = try await Cancel.onSignals(service) {
                    try await service.resume(integrationID: id, role: role, actor: options.actor)
                }
                try Output.emit(outcome, json: options.json) { outcome in
                    Text.step(outcome.step) + "\n"
                        + (outcome.run.map { SyncText.run($0, withReport: false) }
                            ?? "no sync source is configured: `rosterflow integrations source \(id) --bundle PATH`, then `rosterflow sync run`")
                }
            }
        }
    }
}
