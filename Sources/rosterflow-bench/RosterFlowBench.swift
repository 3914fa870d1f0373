import RosterFlowApp
import ArgumentParser
import Foundation
import Logging
import OneRoster
import RosterFlowCore

/// RosterFlow's benchmarks and test tools: not part of the product (the `rosterflow` binary does not link them).
@main
struct RosterFlowBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosterflow-bench",
        abstract: "RosterFlow's benchmarks, the bench webhook receiver and the load generator (tooling, not the product).",
        discussion: """
            Build with `swift build -c release --product rosterflow-bench` and run from the repository root (the \
            benchmarks read Workflows/, Templates/ and scripts/peers/ there). Figures are only comparable within one \
            run: read the ratios. ROSTERFLOW_LOG_LEVEL=debug prints each sync's phases on stderr.
            """,
        subcommands: Bench.configuration.subcommands + [CSVBench.self, SignBench.self, RESTBench.self, ServeBench.self, Load.self, SampleBundleChild.self,
                      RESTRunChild.self, Seed.self])

    /// Sets up logging (``RosterFlowLogging``), then parses and runs the command.
    static func main() async {
        do {
            try RosterFlowLogging.bootstrap()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(withError: ExitCode(64))
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Prints a benchmark's output as text or JSON, and its errors as one line on stderr (exit 1).
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func emit<T: Encodable>(_ value: T, json: Bool, text: (T) -> String) throws {
        if json { try self.json(value) } else { print(text(value)) }
    }

    /// Runs a command body; an error becomes `error: …` on stderr (and `{"error": …}` with `--json`) and exit 1.
    static func run(json: Bool, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            if json { try? self.json(["error": "\(error)"]) }
            throw ExitCode.failure
        }
    }
}

/// The database and workflow options of the load generator, as the `rosterflow` commands take them.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The SQLite database file (env ROSTERFLOW_DB).", valueName: "PATH"))
    var db: String = ProcessInfo.processInfo.environment["ROSTERFLOW_DB"] ?? "./rosterflow.sqlite"

    @Option(help: ArgumentHelp("Folder of workflow definitions (env ROSTERFLOW_WORKFLOWS; default ./Workflows).", valueName: "PATH"))
    var workflows: String = ProcessInfo.processInfo.environment["ROSTERFLOW_WORKFLOWS"] ?? "Workflows"

    func open() throws -> RosterFlowService {
        try RosterFlowService(databasePath: db, workflowsPath: workflows)
    }
}

extension RosterFlowBench {
    /// Writes a sample bundle for `sync` in a child process, so that generating it does not count in the measured
    /// process's peak memory.
    struct SampleBundleChild: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sample-bundle", abstract: "Write a sample district bundle (what `rosterflow sample-bundle` writes).",
            shouldDisplay: false)
        @Argument var out: String
        @Option var users = 1_000
        @Option var classes = 40
        @Option var enrollments = 4_000
        @Option var seed: UInt64 = 1
        @Option var schoolYear = SampleBundle.baseSchoolYear

        func run() throws {
            _ = try SampleBundle.write(
                to: URL(fileURLWithPath: out), users: users, classes: classes, enrollments: enrollments, version: "1.2", seed: seed,
                schoolYear: schoolYear)
        }
    }
}
