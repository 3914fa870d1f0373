import Foundation
import Yams

/// Reads workflow definitions from YAML, collecting every problem rather than stopping at the first.
///
/// The format:
/// ```yaml
/// workflow: course-mapping
/// version: 1
/// initial: shell_created
/// states:
///   mapped:
///     task: { owner: school_admin, todo: "Verify the catalog match for {subject}" }
///     enter: [notify_dsp]
///     on:
///       map: { to: mapped, roles: [school_admin, dsp] }
///       verify: { to: verified, roles: [school_admin] }
///       authenticate:                       # candidates: the first whose guards pass wins
///         - { to: authenticated, guard: existing_customer, roles: [vendor_admin] }
///         - { to: rejected, roles: [vendor_admin], reason: "not an existing customer" }
///     after: { P3D: remind_school }         # durable timer: the system sends remind_school after 3 days
///     refuse: { map: "why this event is refused here" }
///   locked:
///     final: true
/// ```
/// A transition's `to` is a state name, `stay` (no re-entry) or `previous` (back where the instance came from).
public enum WorkflowLoader {
    /// Parses one definition. Structural problems are returned with the (possibly partial) definition;
    /// semantic checks (reachability, registries) are the validator's job.
    public static func parse(yaml text: String, file: String) -> (definition: WorkflowDefinition?, problems: [WorkflowProblem]) {
        var problems = AliasScanner.scan(text, file: file)
        if problems.isEmpty { problems = DuplicateKeyScanner.scan(text, file: file) }
        if !problems.isEmpty {
            return (nil, problems)
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            problems.append(yamlProblem(error, file: file))
            return (nil, problems)
        } catch {
            problems.append(WorkflowProblem(.yamlSyntax, at: .init(file: file, line: 0), "\(error)"))
            return (nil, problems)
        }
        var parser = DefinitionParser(file: file)
        let definition = parser.parseRoot(node)
        return (definition, parser.problems)
    }

    /// Reads and parses one file.
    public static func load(file path: String) -> (definition: WorkflowDefinition?, problems: [WorkflowProblem]) {
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return parse(yaml: text, file: path)
        } catch {
            return (nil, [WorkflowProblem(.yamlSyntax, at: .init(file: path, line: 0), "cannot read file: \(error.localizedDescription)")])
        }
    }

    /// The `.yaml`/`.yml` files in a folder, sorted by name; or the file itself when `path` is a file.
    public static func definitionFiles(at path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw WorkflowValidationError(problems: [
                WorkflowProblem(.missingField, at: .init(file: path, line: 0), "no such file or folder")
            ])
        }
        guard isDirectory.boolValue else { return [path] }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map {
            (path as NSString).appendingPathComponent($0)
        }
    }

    private static func yamlProblem(_ error: YamlError, file: String) -> WorkflowProblem {
        switch error {
        case let .duplicatedKeysInMapping(duplicates, context):
            return WorkflowProblem(
                .duplicateKey, at: .init(file: file, line: context.mark.line),
                "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")): each key may appear once")
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            let what = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
            return WorkflowProblem(.yamlSyntax, at: .init(file: file, line: mark.line), "YAML syntax: \(what)")
        default:
            return WorkflowProblem(.yamlSyntax, at: .init(file: file, line: 0), "YAML: \(error)")
        }
    }
}

/// Finds keys repeated in one block mapping (e.g. an event listed twice under `on:`), all of them, with lines.
///
/// YAML parsers stop at the first duplicate; a person fixing a file wants every one at once.
enum DuplicateKeyScanner {
    static func scan(_ text: String, file: String) -> [WorkflowProblem] {
        var problems: [WorkflowProblem] = []
        // Stack of (indent, keys seen → line, key path) for open block mappings.
        var stack: [(indent: Int, keys: [String: Int], path: [String])] = []
        var lastKey: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.drop { $0 == " " }
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("---") { continue }
            var indent = line.count - trimmed.count
            var content = trimmed
            var startsItem = false
            if trimmed.hasPrefix("- ") || trimmed == "-" {
                // A sequence item: whatever mapping it opens is new, not a continuation of the previous item's.
                while let top = stack.last, top.indent > indent { stack.removeLast() }
                content = trimmed.dropFirst().drop { $0 == " " }
                indent += trimmed.count - content.count
                startsItem = true
            }
            guard let key = blockKey(content) else { continue }
            while let top = stack.last, top.indent > indent { stack.removeLast() }
            if startsItem || stack.last?.indent != indent {
                let parentPath = (stack.last?.path ?? []) + (lastKey.map { [$0] } ?? [])
                stack.append((indent, [:], parentPath))
            }
            if let first = stack[stack.count - 1].keys[key] {
                let path = stack[stack.count - 1].path
                let state = path.count >= 2 && path[0] == "states" ? path[1] : nil
                let isEvent = path.count == 3 && path[2] == "on"
                problems.append(WorkflowProblem(
                    isEvent ? .duplicateEvent : .duplicateKey, at: .init(file: file, line: lineNumber), state: state,
                    isEvent
                        ? "event '\(key)' is listed twice (first at line \(first)); list its candidates under one key"
                        : "key '\(key)' appears twice (first at line \(first)); keep one"))
            } else {
                stack[stack.count - 1].keys[key] = lineNumber
            }
            lastKey = key
        }
        return problems
    }

    /// The key of a `key:` or `key: value` line, unquoted; nil for anything else.
    private static func blockKey(_ line: Substring) -> String? {
        var key = ""
        var quote: Character?
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { key.append(c) }
                continue
            }
            if c == "\"" || c == "'" { quote = c; continue }
            if c == ":" { return key.isEmpty ? nil : key.trimmingCharacters(in: .whitespaces) }
            if c == "{" || c == "[" || c == "#" { return nil }
            key.append(c)
        }
        return nil
    }
}
