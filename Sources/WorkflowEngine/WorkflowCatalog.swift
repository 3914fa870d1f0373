import Foundation

/// The workflow definitions a process runs with, loaded and validated together, keyed by name.
public struct WorkflowCatalog: Sendable {
    /// The current definition of each workflow, by name.
    public private(set) var definitions: [String: WorkflowDefinition]
    /// The YAML text of each definition, by name (stored so old versions survive file edits).
    public private(set) var sources: [String: String]

    /// A catalog of the given definitions, not checked here (``load(from:validator:)`` and
    /// ``parse(_:validator:earlierProblems:)`` validate); of two with the same name, the first is kept.
    public init(definitions: [WorkflowDefinition], sources: [String: String] = [:]) {
        self.definitions = Dictionary(definitions.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.sources = sources
    }

    /// The definition named `name`, or nil.
    public subscript(name: String) -> WorkflowDefinition? { definitions[name] }

    /// Loads every `.yaml` file at `path` (a folder or one file), validates all of them, and throws a
    /// ``WorkflowValidationError`` listing every problem in every file when there is any.
    public static func load(from path: String, validator: WorkflowValidator = WorkflowValidator()) throws -> WorkflowCatalog {
        let files = try WorkflowLoader.definitionFiles(at: path)
        var texts: [(file: String, text: String)] = []
        var problems: [WorkflowProblem] = []
        for file in files {
            do {
                texts.append((file, try String(contentsOfFile: file, encoding: .utf8)))
            } catch {
                problems.append(WorkflowProblem(.yamlSyntax, at: .init(file: file, line: 0), "cannot read file: \(error)"))
            }
        }
        let catalog = try parse(texts, validator: validator, earlierProblems: problems)
        return catalog
    }

    /// Parses and validates definitions given as text, e.g. read back from the store.
    public static func parse(
        _ texts: [(file: String, text: String)], validator: WorkflowValidator, earlierProblems: [WorkflowProblem] = []
    ) throws -> WorkflowCatalog {
        var problems = earlierProblems
        var definitions: [WorkflowDefinition] = []
        var sources: [String: String] = [:]
        var firstFile: [String: SourceLocation] = [:]
        for (file, text) in texts {
            let (definition, parseProblems) = WorkflowLoader.parse(yaml: text, file: file)
            problems += parseProblems
            guard let definition else { continue }
            problems += validator.validate(definition)
            if let first = firstFile[definition.name] {
                problems.append(WorkflowProblem(
                    .duplicateWorkflow, at: definition.location,
                    "workflow '\(definition.name)' is also defined in \(first); one file per workflow"))
                continue
            }
            firstFile[definition.name] = definition.location
            definitions.append(definition)
            sources[definition.name] = text
        }
        if !problems.isEmpty { throw WorkflowValidationError(problems: problems) }
        return WorkflowCatalog(definitions: definitions, sources: sources)
    }
}
