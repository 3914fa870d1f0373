import ArgumentParser
import Foundation
import RosterFlowCore
import StorageCore

extension RosterFlowCommand {
    struct Outbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Notifications waiting, sent or failed: one message per workflow notify, one delivery per channel and destination.",
            subcommands: [List.self, Show.self, Retry.self])

        /// A message as shown: its deliveries, never a secret (payloads hold workflow values only).
        static let statuses = OutboxStatus.allCases.map(\.rawValue)

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Outbox messages, newest first.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Only messages with this status: pending (not yet dispatched), queued, sent, failed, dead, skipped.")
            var status: String?
            @Option(help: "At most this many.") var limit = 200

            func run() async throws {
                try await Output.run(json: options.json) {
                    let typed = try status.map { status in
                        guard let typed = OutboxStatus(rawValue: status) else {
                            throw RosterFlowError(.invalidInput, "'\(status)' is not an outbox status; use one of \(Outbox.statuses.joined(separator: ", "))")
                        }
                        return typed
                    }
                    let views = try await options.open().outboxMessages(status: typed, limit: limit)
                    try Output.emit(views, json: options.json) { list in
                        list.isEmpty ? "no outbox messages" + (status.map { " with status '\($0)'" } ?? "") : list.map {
                            "\($0.id)\t\($0.status)\t\($0.template) → \($0.recipient)\tattempts \($0.attempts)\t\($0.createdAt)"
                                + ($0.lastError.map { "\t\($0)" } ?? "")
                        }.joined(separator: "\n")
                    }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "One outbox message with its values and deliveries.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Outbox message id (msg_…).") var id: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().outboxMessage(id: id)
                    try Output.emit(view, json: options.json) { v in
                        var lines = [
                            "\(v.id)  \(v.template) → \(v.recipient)  [\(v.status)]  attempts \(v.attempts)  created \(v.createdAt)",
                            "  about: \(v.instanceID)",
                        ]
                        for (key, value) in (v.payload ?? [:]).sorted(by: { $0.key < $1.key }) { lines.append("  \(key): \(value)") }
                        let deliveries = v.deliveries ?? []
                        lines.append(deliveries.isEmpty ? "  deliveries: none yet (the worker fans messages out)" : "  deliveries:")
                        for d in deliveries {
                            var line = "    \(d.id)  [\(d.status.rawValue)]  attempts \(d.attempts)"
                            if d.status == .pending { line += "  next \(Date(timeIntervalSince1970: d.nextAttemptAt).ISO8601Format())" }
                            if let error = d.lastError { line += "  — \(error)" }
                            lines.append(line)
                        }
                        return lines.joined(separator: "\n")
                    }
                }
            }
        }

        struct Retry: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send a message again: its failed, dead or skipped deliveries go back to pending, due now.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Outbox message id (msg_…) or one delivery's id (msg_…/email, msg_…/webhook/NAME).") var id: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let count = try await options.open().retryOutbox(id: id, actor: options.actor)
                    struct Retried: Encodable { var id: String; var deliveries: Int }
                    try Output.emit(Retried(id: id, deliveries: count), json: options.json) { r in
                        r.deliveries == 0
                            ? "nothing to retry for \(r.id): no delivery of it failed, died or was skipped"
                            : "\(r.id): \(r.deliveries) deliver\(r.deliveries == 1 ? "y" : "ies") will be sent again by the worker"
                    }
                }
            }
        }
    }
}
