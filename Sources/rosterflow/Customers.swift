import ArgumentParser
import Foundation
import RosterFlowCore

extension RosterFlowCommand {
    struct Customers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The registry of existing customers that authentication checks against.",
            subcommands: [Import.self, List.self])

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Import customers from CSV (header row with tenant_id, district, contact_email; all rows or none).")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The CSV file.") var file: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let text = try TextFile.read(file)
                    let result = try await options.open().importCustomers(csv: text, file: file, actor: options.actor)
                    try Output.emit(result, json: options.json) {
                        (["imported \($0.added + $0.updated) customers (\($0.added) new, \($0.updated) updated)"]
                            + ($0.warnings ?? []).map { "warning: \($0)" }).joined(separator: "\n")
                    }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the customer registry.")
            @OptionGroup var options: StoreOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    let customers = try options.open().customers()
                    try Output.emit(customers, json: options.json) { list in
                        list.isEmpty ? "no customers; import them with `rosterflow customers import FILE.csv`"
                            : list.map { "\($0.tenantID)\t\($0.district)\t\($0.contactEmail)" }.joined(separator: "\n")
                    }
                }
            }
        }
    }
}
