import ArgumentParser
import Foundation
import RosterFlowApp
import RosterFlowCore

extension RosterFlowCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the database or bring its schema up to date, and list the migrations it has.",
            discussion: """
                Works on the SQLite file or the PostgreSQL server --db names. Every command migrates the database it \
                opens; this one does only that, so an operator can upgrade the schema on its own (before starting \
                several servers and workers on a new release). Migrations are named and append-only; processes that \
                start together apply each one once.
                """)
        @OptionGroup var options: StoreOptions

        struct Report: Encodable {
            var database: String
            var engine: String
            var migrations: [String]
        }

        func run() async throws {
            try await Output.run(json: options.json) {
                let applied = try RosterFlowService.appliedMigrations(databasePath: options.db)
                let report = Report(database: StoreLocation.display(options.db), engine: applied.engine, migrations: applied.migrations)
                try Output.emit(report, json: options.json) { r in
                    "\(r.engine) database \(r.database) is up to date: \(r.migrations.count) migrations applied, the last "
                        + (r.migrations.last ?? "none")
                }
            }
        }
    }
}
