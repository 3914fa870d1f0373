import ArgumentParser
import Foundation
import RosterFlowCore

extension RosterFlowCommand {
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Who changed what: policies, sync sources, customer imports, sync approvals and rejections, outbox retries.",
            discussion: """
                Every such change is recorded, in the same transaction as the change, with its actor (--actor), time, \
                and the value before and after. Oldest first.
                """)
        @OptionGroup var options: StoreOptions
        @Option(help: "Only the changes of this integration.") var integration: String?
        @Option(help: "At most this many (the newest).") var limit = 10_000

        func run() async throws {
            try await Output.run(json: options.json) {
                let entries = try options.open().audit(integrationID: integration, limit: limit)
                try Output.emit(entries, json: options.json) { list in
                    list.isEmpty ? "no recorded changes" + (integration.map { " for \($0)" } ?? "")
                        : list.map(Self.text).joined(separator: "\n")
                }
            }
        }

        static func text(_ entry: AuditView) -> String {
            var lines = ["\(entry.at)  \(entry.actor)  \(entry.action)  \(entry.subject)"
                + (entry.integrationID.map { $0 == entry.subject ? "" : "  (\($0))" } ?? "")]
            lines += changes(before: entry.before, after: entry.after).map { "    " + $0 }
            return lines.joined(separator: "\n")
        }

        /// The fields that differ, `name: before → after`; the whole values when they are not JSON objects.
        static func changes(before: String?, after: String?) -> [String] {
            func object(_ text: String?) -> [String: Any]? {
                text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            }
            func show(_ value: Any?) -> String {
                guard let value else { return "(none)" }
                if let string = value as? String { return string }
                guard let data = try? JSONSerialization.data(
                    withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
                else { return "\(value)" }
                return String(decoding: data, as: UTF8.self)
            }
            let old = object(before) ?? (before == nil ? [:] : nil)
            guard let old, let new = object(after) else { return ["\(before ?? "(none)") → \(after ?? "(none)")"] }
            return Set(old.keys).union(new.keys).sorted().compactMap { key in
                let from = show(old[key]), to = show(new[key])
                return from == to ? nil : "\(key): \(from) → \(to)"
            }
        }
    }
}
