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

extension RosterFlowCommand {
    struct MigrateStore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate-store",
            abstract: "Move an installation from its SQLite file into an empty PostgreSQL database, verified.",
            discussion: """
                Copies every table (workflow history, roster and its history, sync runs and change sets, outbox and \
                deliveries, accounts and tokens) in one PostgreSQL transaction, compares each table's row count and \
                SHA-256 checksum on both sides, and commits only when all match. A PostgreSQL database that already \
                holds RosterFlow data is refused. Stop the workers and servers using the SQLite file first (rows they \
                write during the copy are not carried over), then start them with --db set to the PostgreSQL URL. The \
                SQLite file is left as it is.
                """)

        @Option(help: ArgumentHelp("The SQLite database to move: sqlite:PATH or a path.", valueName: "sqlite:PATH"))
        var from: String

        @Option(help: ArgumentHelp("The empty PostgreSQL database: postgres://USER@HOST:PORT/DATABASE[?sslmode=…].", valueName: "URL"))
        var to: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            guard StoreLocation.isServer(to) else {
                throw ValidationError("--to must be a postgres:// URL (got \(StoreLocation.display(to)))")
            }
        }

        func run() async throws {
            try await Output.run(json: json) {
                let path = from.hasPrefix("sqlite:") ? String(from.dropFirst("sqlite:".count)) : from
                let report = try StoreCopier.copy(sqlitePath: path, to: to) { table in
                    if !json { Output.text("\(table.name): \(table.rows) rows, checksum \(table.sha256.prefix(16)) verified") }
                }
                try Output.emit(report, json: json) { r in
                    "moved \(r.rows) rows in \(r.tables.count) tables from \(r.from) to \(r.to) (\(r.migrations) migrations); "
                        + "start RosterFlow with --db \(r.to)"
                }
            }
        }
    }
}
