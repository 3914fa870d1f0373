import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowEngine

extension RosterFlowBench {
    /// Setting up a scale test where one `rosterflow` command per object would cost minutes of process starts: many
    /// accounts with an API token each, and one bundle as the sync source of every integration. Each object is made by
    /// the same service calls (and audited the same way) as `rosterflow accounts add`, `tokens create` and
    /// `integrations source` make it.
    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed",
            abstract: "Add many accounts with a token each, or set one bundle as every integration's sync source (scale tests).",
            discussion: """
                --accounts FILE reads a CSV with the columns email,name,role,districts (districts separated by spaces; \
                role vendor_admin, dsp or school_admin), adds each account, creates a token for it that works for a day, \
                and prints {"EMAIL": "rf_…"} as JSON. --source-for-all PATH sets PATH as the sync source of every \
                integration and prints how many.
                """)
        @OptionGroup var options: StoreOptions
        @Option(help: "A CSV of accounts to add: email,name,role,districts.") var accounts: String?
        @Option(help: "A bundle folder or .zip to set as the sync source of every integration.") var sourceForAll: String?
        // Fewer than a PostgreSQL store's pool (8 connections by default): the service's synchronous reads block a
        // cooperative thread while it waits for a connection.
        @Option(help: "Objects made at once.") var concurrency = 4

        func run() async throws {
            try await Output.run(json: true) {
                guard accounts != nil || sourceForAll != nil else {
                    throw ValidationError("give --accounts FILE or --source-for-all PATH")
                }
                let service = try options.open()
                let concurrency = max(1, self.concurrency)
                if let accounts {
                    let rows = try String(contentsOfFile: accounts, encoding: .utf8).split(separator: "\n").dropFirst()
                        .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
                    let people: [(email: String, name: String, role: Role, districts: [String])] = try rows.map { row in
                        guard row.count == 4, let role = Role(rawValue: row[2]) else {
                            throw ValidationError("\(accounts): '\(row.joined(separator: ","))' is not email,name,role,districts")
                        }
                        return (row[0], row[1], role, row[3].split(separator: " ").map(String.init))
                    }
                    let tokens = try await withThrowingTaskGroup(of: [(String, String)].self) { group in
                        for lane in 0..<concurrency {
                            group.addTask {
                                var made: [(String, String)] = []
                                for person in stride(from: lane, to: people.count, by: concurrency).map({ people[$0] }) {
                                    _ = try await service.addAccount(
                                        email: person.email, name: person.name, role: person.role, districts: person.districts,
                                        actor: "bench:seed")
                                    let token = try await service.createToken(
                                        account: person.email, name: "seed", expiresAt: Date().timeIntervalSince1970 + 86_400,
                                        actor: "bench:seed")
                                    made.append((person.email, token.token))
                                }
                                return made
                            }
                        }
                        var all: [String: String] = [:]
                        for try await made in group { for (email, token) in made { all[email] = token } }
                        return all
                    }
                    try Output.json(tokens)
                }
                if let source = sourceForAll {
                    let ids = try service.integrations().map(\.id)
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for lane in 0..<concurrency {
                            group.addTask {
                                for index in stride(from: lane, to: ids.count, by: concurrency) {
                                    try await service.setSyncSource(integrationID: ids[index], source: source, actor: "bench:seed")
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                    try Output.json(["sources": ids.count])
                }
            }
        }
    }
}
