import ArgumentParser
import CodedErrors
import Foundation
import Notifications
import RosterFlowApp
import RosterFlowCore
import WorkflowEngine

/// The operator's tool: runs RosterFlow's workflows on an embedded SQLite database.
@main
struct RosterFlowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rosterflow",
        abstract: "Onboard school districts through OneRoster rostering, as persisted workflows.",
        subcommands: [
            Demo.self, Customers.self, Integrations.self, Courses.self, Catalog.self, Tasks.self, Timers.self, Workflows.self,
            Sync.self, Roster.self, Validate.self, SampleBundleCommand.self,
            Worker.self, Serve.self, Accounts.self, Tokens.self, Outbox.self, Templates.self, Audit.self, Doctor.self,
            Hooks.self, Migrate.self, MigrateStore.self,
            Identities.self, Classes.self, Students.self, Explain.self,
        ])

    /// Parses and runs the command, with the process's umask made at least 077 first, so that everything RosterFlow
    /// creates — the database and its WAL, spooled mail, temporary folders — is private to the user running it (a
    /// stricter umask stays as it is). An argument error (a missing or unknown option, a value that does not parse, a
    /// failed validation) exits 64 like any other bad input and, with `--json`, also prints the JSON error object.
    /// Logs go to stderr at the level `ROSTERFLOW_LOG_LEVEL` names (``RosterFlowLogging``).
    static func main() async {
        let previous = umask(0o077)
        umask(previous | 0o077)
        do {
            try RosterFlowLogging.bootstrap()
        } catch {
            let failure = RosterFlowError.wrap(error)
            FileHandle.standardError.write(Data("error: \(TerminalText.escape(failure.message))\n".utf8))
            if Output.jsonRequested(CommandLine.arguments) {
                try? Output.json(Output.Problem(error: failure.message, code: failure.code.rawValue, cause: nil, allowedEvents: []))
            }
            exit(withError: ExitCode(failure.code.exitCode))
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Errors of the commands' bodies were reported by Output.run already (they arrive as ExitCode).
            if !(error is ExitCode), exitCode(for: error) == .validationFailure, Output.jsonRequested(CommandLine.arguments) {
                let message = message(for: error).split(separator: "\n").first.map(String.init) ?? "bad arguments"
                try? Output.json(Output.Problem(
                    error: message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message,
                    code: RosterFlowError.Code.invalidInput.rawValue, cause: "arguments", allowedEvents: []))
            }
            exit(withError: error)
        }
    }
}

/// Options every command that touches the database takes.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The SQLite database file, or a PostgreSQL server as postgres://USER@HOST:PORT/DATABASE[?sslmode=…&pool_size=N] (env ROSTERFLOW_DB).",
        valueName: "PATH|URL"))
    var db: String = ProcessInfo.processInfo.environment["ROSTERFLOW_DB"] ?? "./rosterflow.sqlite"

    @Option(help: ArgumentHelp(
        "Folder of workflow definitions over the built-in ones (env ROSTERFLOW_WORKFLOWS; default ./Workflows when present, else the built-in ones and the versions stored in the database).",
        valueName: "PATH"))
    var workflows: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Who is acting, recorded in history (default: $USER).", valueName: "NAME"))
    var actor: String = ProcessInfo.processInfo.environment["USER"].map { "cli:\($0)" } ?? "cli:operator"

    var workflowsPath: String? {
        if let workflows { return workflows }
        if let env = ProcessInfo.processInfo.environment["ROSTERFLOW_WORKFLOWS"] { return env }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "Workflows", isDirectory: &isDirectory), isDirectory.boolValue {
            return "Workflows"
        }
        return nil
    }

    func open() throws -> RosterFlowService {
        if let workflowsPath, !FileManager.default.fileExists(atPath: workflowsPath) {
            throw RosterFlowError(.notFound, "there are no workflow definitions at \(workflowsPath): give the folder of .yaml files "
                + "with --workflows or ROSTERFLOW_WORKFLOWS")
        }
        return try RosterFlowService(databasePath: db, workflowsPath: workflowsPath, builtIn: BuiltIns.workflows)
    }
}

extension Role: ExpressibleByArgument {
    /// Reads a role from a command-line argument in the YAML (`school_admin`) or CLI (`school-admin`) spelling, in any
    /// case; nil for anything else.
    public init?(argument: String) {
        self.init(parsing: argument)
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

/// Prints output as text or JSON, and errors as one line on stderr with the exit code of the error's code.
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func emit<T: Encodable>(_ value: T, json: Bool, text: (T) -> String) throws {
        if json { try self.json(value) } else { self.text(text(value)) }
    }

    /// Prints text output with control characters shown visibly (``TerminalText``): the one way the CLI prints text.
    static func text(_ text: String, terminator: String = "\n") {
        print(TerminalText.escape(text), terminator: terminator)
    }

    /// The JSON error object a command prints with `--json`.
    struct Problem: Encodable {
        let error: String
        /// The CLI-wide code (it decides the exit code).
        let code: String
        /// The module's own, more specific code (e.g. `template`, `stale-instance`), when it differs.
        let cause: String?
        let allowedEvents: [String]
        /// Where the error was made (`Module/File.swift:line`), for a bug report; absent for argument errors.
        var at: String? = nil
    }

    /// Whether a command line asks for JSON output (`--json` before any `--` that ends the options).
    static func jsonRequested(_ arguments: [String]) -> Bool {
        arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
    }

    /// Runs a command body; a RosterFlow error becomes a message on stderr and its exit code.
    static func run(json: Bool, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch let cancelled as CancelledBySignal {
            FileHandle.standardError.write(Data("\(cancelled.message)\n".utf8))
            if json {
                try? self.json(["error": cancelled.message, "code": RosterFlowError.Code.cancelled.rawValue,
                                "cause": "signal-\(cancelled.signal)"])
            }
            throw ExitCode(cancelled.exitCode)
        } catch {
            let failure = (error as? NotificationError)?.asRosterFlowError ?? RosterFlowError.wrap(error)
            FileHandle.standardError.write(Data("error: \(TerminalText.escape(failure.message))\n".utf8))
            if json {
                let cause = failure.cause ?? (error as? any CodedError)?.codeName
                try? self.json(Problem(
                    error: failure.message, code: failure.code.rawValue, cause: cause == failure.code.rawValue ? nil : cause,
                    allowedEvents: failure.allowedEvents, at: failure.site.description))
            }
            throw ExitCode(failure.code.exitCode)
        }
    }
}

enum Text {
    static func step(_ step: AppliedStep) -> String {
        var lines = ["\(step.instanceID): \(step.from.isEmpty ? "(new)" : step.from) → \(step.to) on '\(step.event)' by \(step.actor) as \(step.role)"
            + (step.reason.map { " — \($0)" } ?? "")]
        for follow in step.followUps { lines.append("  then " + self.step(follow)) }
        return lines.joined(separator: "\n")
    }

    static func history(_ history: [HistoryEntry]) -> String {
        history.map { entry in
            "  \(entry.at)  \((entry.from ?? "(new)").padding(toLength: 15, withPad: " ", startingAt: 0)) → "
                + "\(entry.to.padding(toLength: 15, withPad: " ", startingAt: 0)) \(entry.event) by \(entry.actor) (\(entry.role))"
                + (entry.reason.map { " — \($0)" } ?? "")
        }.joined(separator: "\n")
    }

    static func allowed(_ events: [AllowedEvent]) -> String {
        events.isEmpty ? "nothing (final)" : events.map { "\($0.event) [\($0.roles.joined(separator: ", "))]" }.joined(separator: ", ")
    }

    static func integration(_ view: IntegrationView) -> String {
        var lines = [
            "\(view.id)  \(view.district)  [\(view.state)]",
            "  tenant \(view.tenantID), permission \(view.permission), contact \(view.contactEmail)",
        ]
        if let time = view.syncTime, let zone = view.timezone {
            lines.append("  daily sync at \(time) \(zone); next run \(view.nextSyncAt ?? "?")")
        }
        if let until = view.pausedUntil {
            lines.append("  paused until \(until)" + (view.pauseReason.map { " (\($0))" } ?? "")
                + ": nightly syncs are skipped without alerts; `rosterflow integrations resume \(view.id)` resumes it now")
        }
        if let check = view.registryCheck {
            lines.append("  customer registry check:\n" + check.sideBySide.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        }
        if let mode = view.provisioningMode { lines.append("  provisioning: \(mode)") }
        lines.append("  courses: \(view.courseCount); workflow version \(view.workflowVersion); row version \(view.rowVersion)")
        lines.append("  allowed next: \(allowed(view.allowedEvents))")
        if !view.history.isEmpty { lines.append("  history:\n" + history(view.history)) }
        for warning in view.warnings ?? [] { lines.append("warning: \(warning)") }
        return lines.joined(separator: "\n")
    }

    static func course(_ view: CourseView) -> String {
        var lines = ["\(view.id)  \(view.title) (\(view.sourcedID))  [\(view.state)]  integration \(view.integrationID)"]
        if let catalog = view.catalogTitle {
            lines.append("  catalog course: \(catalog), base id \(view.baseID ?? "?")"
                + (view.locked ? "; locked since \(view.lockedAt ?? "?")" : ""))
        }
        lines.append("  allowed next: \(allowed(view.allowedEvents))")
        if !view.history.isEmpty { lines.append("  history:\n" + history(view.history)) }
        return lines.joined(separator: "\n")
    }
}
