import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowDiagram
import WorkflowEngine

extension DiagramFormat: ExpressibleByArgument {}

extension RosterFlowCommand {
    struct Workflows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check and draw the workflow definitions.", subcommands: [Validate.self, Graph.self, Diagram.self])

        struct Validate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate workflow definitions; prints every problem (file:line, state) and exits non-zero if any.")
            @Argument(help: "A folder of .yaml files or one file (default: $ROSTERFLOW_WORKFLOWS, else ./Workflows).")
            var path: String?
            @Flag(help: "Print JSON instead of text.") var json = false

            func run() async throws {
                var folder = ""
                try await Output.run(json: json) { folder = try WorkflowFolder.resolve(path) }
                do {
                    let catalog = try WorkflowCatalog.load(from: folder, validator: DomainRules.validator)
                    let names = catalog.definitions.values.sorted { $0.name < $1.name }
                    if json {
                        struct Report: Encodable { let valid: Bool; let workflows: [String]; let problems: [WorkflowProblem] }
                        try Output.json(Report(valid: true, workflows: names.map(\.key), problems: []))
                    } else {
                        Output.text("ok: " + names.map { "\($0.key) (\($0.states.count) states)" }.joined(separator: ", "))
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
