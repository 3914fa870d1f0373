import ArgumentParser
import Foundation
import RosterFlowCore

extension RosterFlowCommand {
    struct Hooks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inbound hooks (`rosterflow serve`, /hooks/v1/…): who may send them, with which secret.",
            subcommands: [Senders.self])

        struct Senders: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Hook senders: each signs its hooks (Standard Webhooks) with a secret of its own.",
                subcommands: [Add.self, List.self, Rotate.self, Disable.self])

            static func text(_ sender: HookSenderView) -> String {
                let scope = sender.districts.isEmpty ? "all districts" : sender.districts.joined(separator: ", ")
                return "\(sender.name)\t\(scope)\t\(sender.status)\tcreated \(sender.createdAt)"
                    + (sender.rotatedAt.map { "\trotated \($0)" } ?? "")
                    + (sender.previousSecretValidUntil.map { "\told secret accepted until \($0)" } ?? "")
            }

            static func issued(_ issued: IssuedHookSecret) -> String {
                "\(issued.secret)\n\(text(issued.sender))\n"
                    + "give this secret to the sender and keep it secret: it is shown only this once. The sender posts to "
                    + "/hooks/v1/<hook>?sender=\(issued.sender.name)"
            }

            struct Add: AsyncParsableCommand {
                static let configuration = CommandConfiguration(
                    abstract: "Add a sender and print its new secret once (whsec_…).")
                @OptionGroup var options: StoreOptions
                @Argument(help: "The sender's name (lower-case letters, digits, '.', '_', '-'), e.g. classlink.") var name: String
                @Option(help: ArgumentHelp(
                    "A district's tenant id the sender may act on (repeat; default: every district).", valueName: "TENANT_ID"))
                var district: [String] = []

                func run() async throws {
                    try await Output.run(json: options.json) {
                        let issued = try await options.open().addHookSender(name: name, districts: district, actor: options.actor)
                        try Output.emit(issued, json: options.json, text: Senders.issued)
                    }
                }
            }

            struct List: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "List senders (never their secrets), oldest first.")
                @OptionGroup var options: StoreOptions

                func run() async throws {
                    try await Output.run(json: options.json) {
                        let senders = try options.open().hookSenders()
                        try Output.emit(senders, json: options.json) { list in
                            list.isEmpty ? "no hook senders; add one with `rosterflow hooks senders add NAME`"
                                : list.map(Senders.text).joined(separator: "\n")
                        }
                    }
                }
            }

            struct Rotate: AsyncParsableCommand {
                static let configuration = CommandConfiguration(
                    abstract: "Give a sender a new secret (printed once); the old one is accepted for the grace period.")
                @OptionGroup var options: StoreOptions
                @Argument(help: "The sender's name.") var name: String
                @Option(help: "How long the old secret is still accepted: hours (24h, the default) or days (2d); 0 ends it now.")
                var grace: String = "24h"

                func run() async throws {
                    try await Output.run(json: options.json) {
                        let seconds = try Self.seconds(grace)
                        let issued = try await options.open().rotateHookSender(name: name, grace: seconds, actor: options.actor)
                        try Output.emit(issued, json: options.json, text: Senders.issued)
                    }
                }

                static func seconds(_ text: String) throws -> Double {
                    let text = text.trimmingCharacters(in: .whitespaces)
                    if text == "0" { return 0 }
                    if let unit = text.last, "dh".contains(unit), let count = Int(text.dropLast()), count >= 0, count <= 30 * 24 {
                        return Double(count) * (unit == "d" ? 86_400 : 3_600)
                    }
                    throw RosterFlowError(.invalidInput, "'\(text)' is not a grace period; give hours (24h) or days (2d), at most 30 days")
                }
            }

            struct Disable: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Disable a sender: its hooks are refused from now on.")
                @OptionGroup var options: StoreOptions
                @Argument(help: "The sender's name.") var name: String

                func run() async throws {
                    try await Output.run(json: options.json) {
                        let view = try await options.open().disableHookSender(name: name, actor: options.actor)
                        try Output.emit(view, json: options.json) { "disabled \(Senders.text($0))" }
                    }
                }
            }
        }
    }
}
