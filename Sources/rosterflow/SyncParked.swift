import ArgumentParser
import Foundation
import RosterFlowCore
import StorageCore

extension RosterFlowCommand.Sync {
    /// The deletes an integration keeps parked (`sync approve --without-deletes`).
    struct Parked: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The deletes an integration keeps parked: later exports that omit these records do not delete them.")
        @OptionGroup var options: StoreOptions
        @Option(help: "Integration id.") var integration: String
        @Option(help: "Only this entity (users, classes, enrollments, …).") var entity: String?

        func run() async throws {
            try await Output.run(json: options.json) {
                let parked = try options.open().parkedDeletes(integrationID: integration, entity: entity)
                try Output.emit(parked, json: options.json) { list in
                    list.isEmpty ? "\(integration) keeps no deletes parked" : list.map {
                        "\($0.entity) \($0.sourcedID)\tparked by \($0.actor) approving \($0.runID) without deletes, "
                            + Date(timeIntervalSince1970: $0.at).ISO8601Format()
                    }.joined(separator: "\n")
                }
            }
        }
    }

    /// Lets parked deletes go: the next sync proposes them again.
    struct Unpark: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop keeping an integration's parked deletes: the next sync deletes those records (under the usual safeguards).")
        @OptionGroup var options: StoreOptions
        @Option(help: "Integration id.") var integration: String
        @Option(help: "Only this entity (users, classes, enrollments, …).") var entity: String?

        func run() async throws {
            try await Output.run(json: options.json) {
                let count = try await options.open().unparkDeletes(integrationID: integration, entity: entity)
                struct Unparked: Encodable { let integrationID: String; let unparked: Int }
                try Output.emit(Unparked(integrationID: integration, unparked: count), json: options.json) {
                    "\($0.integrationID): \($0.unparked) parked delete\($0.unparked == 1 ? "" : "s") let go; "
                        + "the next sync proposes them again"
                }
            }
        }
    }
}
