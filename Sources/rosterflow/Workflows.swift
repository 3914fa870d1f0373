import ArgumentParser
import Foundation
import RosterFlowApp
import RosterFlowCore
import WorkflowDiagram
import WorkflowEngine

extension DiagramFormat: ExpressibleByArgument {}

extension RosterFlowCommand {
    struct Workflows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check, draw and evolve the workflow definitions.", subcommands: [Validate.self, Graph.self, Diagram.self, Migrate.self])

        struct Validate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate workflow definitions; prints every problem (file:line, state) and exits non-zero if any.")
            @Argument(help: "A folder of .yaml files or one file (default: $ROSTERFLOW_WORKFLOWS, else ./Workflows).")
            var path: String?
            @Flag(help: "Print JSON instead of text.") var json = false

            @Option(help: ArgumentHelp(
                "The database whose stored versions migration plans may name (env ROSTERFLOW_DB); read only when it exists.",
                valueName: "PATH"))
            var db: String = ProcessInfo.processInfo.environment["ROSTERFLOW_DB"] ?? "./rosterflow.sqlite"

            func run() async throws {
                var folder = ""
                try await Output.run(json: json) { folder = try WorkflowFolder.resolve(path) }
                do {
                    if let planFile = MigrationPlans.singlePlan(folder) {
                        // One plan: both versions must be known (the folder beside it or the database).
                        var plans = try MigrationPlans.check([planFile], folder: MigrationPlans.definitionsFolder(of: planFile), db: db, strict: true)
                        if json {
                            struct Report: Encodable { let valid: Bool; let plans: [MigrationPlans.Checked]; let problems: [WorkflowProblem] }
                            try Output.json(Report(valid: true, plans: plans, problems: []))
                        } else {
                            Output.text(plans.removeFirst().line)
                        }
                        return
                    }
                    let catalog = try WorkflowCatalog.load(from: folder, validator: DomainRules.validator)
                    let names = catalog.definitions.values.sorted { $0.name < $1.name }
                    let plans = try MigrationPlans.check(MigrationPlans.files(in: folder), folder: folder, db: db, strict: false)
                    if json {
                        struct Report: Encodable {
                            let valid: Bool; let workflows: [String]; let plans: [MigrationPlans.Checked]; let problems: [WorkflowProblem]
                        }
                        try Output.json(Report(valid: true, workflows: names.map(\.key), plans: plans, problems: []))
                    } else {
                        Output.text("ok: " + names.map { "\($0.key) (\($0.states.count) states)" }.joined(separator: ", "))
                        for plan in plans { Output.text(plan.line) }
                    }
                } catch let error as WorkflowValidationError {
                    if json {
                        struct Report: Encodable { let valid: Bool; let problems: [WorkflowProblem] }
                        try Output.json(Report(valid: false, problems: error.problems))
                    } else {
                        Output.text(error.problems.map(\.description).joined(separator: "\n"))
                    }
                    FileHandle.standardError.write(Data(
                        "error: \(error.problems.count) problem\(error.problems.count == 1 ? "" : "s") in workflow definitions\n".utf8))
                    throw ExitCode(RosterFlowError.Code.workflowDefinition.exitCode)
                }
            }
        }

        struct Graph: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a workflow as a Mermaid or Graphviz diagram.")
            @Argument(help: "Workflow name: integration or course-mapping.") var name: String
            @Option(help: "mermaid or dot.") var format: DiagramFormat = .mermaid
            @Option(help: "Folder of workflow definitions (default: $ROSTERFLOW_WORKFLOWS, else ./Workflows).")
            var workflows: String?

            func run() async throws {
                try await Output.run(json: false) {
                    let catalog = try WorkflowCatalog.load(from: try WorkflowFolder.resolve(workflows), validator: DomainRules.validator)
                    guard let definition = catalog[name] else {
                        throw RosterFlowError(
                            .notFound, "no workflow '\(name)'; defined: \(catalog.definitions.keys.sorted().joined(separator: ", "))")
                    }
                    Output.text(definition.diagram(format), terminator: "")
                }
            }
        }

        struct Diagram: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a workflow as an SVG diagram (`rosterflow workflows diagram integration > integration.svg`).")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Workflow name: integration or course-mapping.") var name: String
            @Option(help: "A version the database holds (default: the newest).") var version: Int?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let definition = try options.open().workflowDefinition(name: name, version: version)
                    Output.text(WorkflowDiagram.svg(for: definition), terminator: "")
                }
            }
        }
    }
}

/// Where the workflow definitions are read from: the path given, else `$ROSTERFLOW_WORKFLOWS`, else `./Workflows`.
enum WorkflowFolder {
    /// The folder (or file) to read; a path that does not exist is "not found" (exit 66), not an invalid definition.
    static func resolve(_ given: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let (path, origin) = given.map { ($0, "given") }
            ?? environment["ROSTERFLOW_WORKFLOWS"].map { ($0, "from ROSTERFLOW_WORKFLOWS") } ?? ("Workflows", "the default")
        guard FileManager.default.fileExists(atPath: path) else {
            throw RosterFlowError(.notFound, "there are no workflow definitions at \(path) (\(origin)): give the folder of .yaml files")
        }
        return path
    }
}

extension RosterFlowCommand.Workflows {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move running instances to another version of their workflow, as a migration plan says.",
            discussion: """
                PLAN is a file like Workflows/migrations/integration-6-to-7.yaml. Each instance moves in its own \
                transaction (version, state, timers and a history row `migrated 6 → 7`); instances already on the new \
                version are left, so a second run does nothing. --dry-run changes nothing and lists every instance \
                with its target state, its timers before and after, and any that would be refused and why.
                """)
        @Argument(help: "The migration plan (.yaml).") var plan: String
        @Flag(help: "Say what would happen; change nothing.") var dryRun = false
        @Option(parsing: .upToNextOption, help: "Only these instance ids.") var only: [String] = []
        @Option(name: .customLong("as"), help: "The role migrating (only the vendor admin may).") var role: Role = .vendorAdmin
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await Output.run(json: store.json) {
                guard FileManager.default.fileExists(atPath: plan) else {
                    throw RosterFlowError(.notFound, "there is no migration plan at \(plan): give the plan's .yaml file")
                }
                let service = try store.open()
                let text = try String(contentsOfFile: plan, encoding: .utf8)
                let parsed = try service.migrationPlan(yaml: text, file: plan)
                let json = store.json
                let report = try service.migrate(
                    parsed, dryRun: dryRun, only: only.isEmpty ? nil : only, sender: Sender(actor: store.actor, role: role),
                    progress: { item in
                    // One line per instance as it is done, written at once: an interrupted run shows how far it got.
                    guard !json else { return }
                    Output.text(Self.line(item, dryRun: dryRun))
                    fflush(nil)  // each line out at once: an interrupted run shows how far it got
                })
                if json { try Output.json(report) } else { Output.text(report.summary) }
            }
        }

        static func line(_ item: MigrationItem, dryRun: Bool) -> String {
            let timers = { (list: [MigrationTimerView]) in
                list.isEmpty ? "none" : list.map { "\($0.event) at \($0.dueAt)" }.joined(separator: ", ")
            }
            switch item.outcome {
            case .migrated, .wouldMigrate:
                return "\(dryRun ? "would migrate" : "migrated") \(item.id) (\(item.subject)): \(item.state) → \(item.target ?? item.state)"
                    + (item.condition.map { " (\($0))" } ?? "") + "; timers \(timers(item.timersBefore)) → \(timers(item.timersAfter))"
                    + (item.reason.map { "; \($0)" } ?? "")
            case .alreadyMigrated:
                return "already \(item.id) (\(item.subject)): on version \(item.version) in \(item.state)"
            case .refused:
                return "refused \(item.id) (\(item.subject)) in \(item.state): \(item.reason ?? "")"
            }
        }
    }
}

/// The migration plans beside the workflow definitions (`Workflows/migrations/*.yaml`), checked by `workflows validate`.
enum MigrationPlans {
    /// One plan as `workflows validate` reports it.
    struct Checked: Encodable {
        let file: String
        let plan: String
        let workflow: String
        let from: Int
        let to: Int
        /// False when a version is known neither from the folder nor from the database (nothing can run it here).
        let checked: Bool
        let note: String?

        var line: String {
            "plan \(plan) (\(workflow) \(from) → \(to)): " + (checked ? "ok" : "not checked: \(note ?? "")")
        }
    }

    /// The plan files in `folder/migrations`, sorted; none when there is no such folder.
    static func files(in folder: String) -> [String] {
        let migrations = (folder as NSString).appendingPathComponent("migrations")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: migrations, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
        return (try? WorkflowLoader.definitionFiles(at: migrations)) ?? []
    }

    /// `path` when it is one file holding a plan (a top-level `from:`), else nil.
    static func singlePlan(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        return text.split(separator: "\n").contains { $0.hasPrefix("from:") } ? path : nil
    }

    /// The definitions folder a plan file sits under (`Workflows/` for `Workflows/migrations/x.yaml`).
    static func definitionsFolder(of plan: String) -> String {
        ((plan as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
    }

    /// Checks plans against the definitions in `folder` and those stored in the database at `db` (when it exists).
    /// With `strict`, a version known nowhere is a problem; else the plan is reported as not checked.
    ///
    /// - Throws: ``WorkflowValidationError`` with every problem of every plan.
    static func check(_ files: [String], folder: String, db: String, strict: Bool) throws -> [Checked] {
        guard !files.isEmpty else { return [] }
        var definitions: [String: [Int: WorkflowDefinition]] = [:]
        if FileManager.default.fileExists(atPath: db) {
            // A database that holds no definitions (or cannot be opened) contributes no versions: its plans are then
            // "not checked" here, and `workflows migrate` reports the database's own error.
            definitions = (try? RosterFlowService(databasePath: db, workflowsPath: nil))?.runtime.definitions ?? [:]
        }
        if let catalog = try? WorkflowCatalog.load(from: folder, validator: DomainRules.validator) {
            for definition in catalog.definitions.values { definitions[definition.name, default: [:]][definition.version] = definition }
        }
        var problems: [WorkflowProblem] = []
        var checked: [Checked] = []
        for file in files {
            let (plan, parseProblems) = RosterFlowService.loadMigrationPlan(file: file)
            problems += parseProblems
            guard let plan else { continue }
            let found = RosterFlowService.validate(plan, definitions: definitions)
            let unknown = found.filter { $0.code == .unknownVersion }
            if !strict, !unknown.isEmpty, unknown.count == found.count {
                checked.append(Checked(
                    file: file, plan: plan.name, workflow: plan.workflow, from: plan.fromVersion, to: plan.toVersion, checked: false,
                    note: unknown.map(\.message).joined(separator: "; ") + " (give --db to check it against a database)"))
                continue
            }
            problems += found
            checked.append(Checked(
                file: file, plan: plan.name, workflow: plan.workflow, from: plan.fromVersion, to: plan.toVersion, checked: true, note: nil))
        }
        if !problems.isEmpty { throw WorkflowValidationError(problems: problems) }
        return checked
    }
}
