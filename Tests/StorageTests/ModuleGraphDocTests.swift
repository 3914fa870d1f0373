import Foundation
import XCTest

/// `docs/architecture.md` shows the module graph twice — a plain list and a Mermaid diagram — and both must say what
/// `Package.swift` declares: every `.target`, `.executableTarget` and `.systemLibrary`, its in-package dependencies and
/// the products it takes from other packages. Test targets are not part of the graph.
final class ModuleGraphDocTests: XCTestCase {
    struct Module: Equatable, CustomStringConvertible {
        var modules: Set<String> = []
        var products: Set<String> = []
        var description: String { "modules \(modules.sorted()), products \(products.sorted())" }
    }

    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func read(_ relative: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(relative), encoding: .utf8)
    }

    // MARK: Package.swift

    /// The text with `//` comments removed; a `//` inside a string (a package URL) is kept.
    static func withoutComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var inString = false
            var previous: Character = " "
            for index in line.indices {
                let character = line[index]
                if character == "\"" { inString.toggle() }
                if !inString, character == "/", previous == "/" {
                    return String(line[..<line.index(before: index)])
                }
                previous = character
            }
            return String(line)
        }.joined(separator: "\n")
    }

    /// The top-level, comma-separated elements of a list's contents (nested brackets and strings kept whole).
    static func elements(of text: Substring) -> [Substring] {
        var result: [Substring] = []
        var depth = 0
        var inString = false
        var start = text.startIndex
        for index in text.indices {
            let character = text[index]
            if character == "\"" { inString.toggle() }
            if inString { continue }
            switch character {
            case "(", "[":
                depth += 1
            case ")", "]":
                depth -= 1
            case "," where depth == 0:
                result.append(text[start..<index])
                start = text.index(after: index)
            default:
                break
            }
        }
        result.append(text[start...])
        return result.map { $0.trimmingCharacters(in: .whitespacesAndNewlines)[...] }.filter { !$0.isEmpty }
    }

    /// The contents of the list after `label` (e.g. `targets:`), between its bracket and the matching one.
    static func list(after label: String, in text: Substring) -> Substring? {
        guard let labelRange = text.range(of: label), let open = text[labelRange.upperBound...].firstIndex(of: "[") else {
            return nil
        }
        var depth = 0
        var inString = false
        for index in text[open...].indices {
            let character = text[index]
            if character == "\"" { inString.toggle() }
            if inString { continue }
            if character == "(" || character == "[" { depth += 1 }
            if character == ")" || character == "]" {
                depth -= 1
                if depth == 0 { return text[text.index(after: open)..<index] }
            }
        }
        return nil
    }

    static func firstQuoted(after label: String, in text: Substring) -> String? {
        guard let range = text.range(of: label) else { return nil }
        let rest = text[range.upperBound...]
        guard let open = rest.firstIndex(of: "\"") else { return nil }
        let afterOpen = rest[rest.index(after: open)...]
        guard let close = afterOpen.firstIndex(of: "\"") else { return nil }
        return String(afterOpen[..<close])
    }

    static func packageGraph(_ manifest: String) throws -> [String: Module] {
        let text = withoutComments(manifest)[...]
        // The package's `targets:` list, not a product's (`.executable(name:targets:)` comes first).
        let kinds = [".target(", ".executableTarget(", ".systemLibrary(", ".testTarget("]
        var candidates: [Substring] = []
        var rest = text
        while let range = rest.range(of: "targets:") {
            if let found = list(after: "targets:", in: rest[range.lowerBound...]) { candidates.append(found) }
            rest = rest[range.upperBound...]
        }
        let targets = try XCTUnwrap(
            candidates.first { list in elements(of: list).contains { element in kinds.contains { element.hasPrefix($0) } } },
            "Package.swift has no targets: [...] list")
        var graph: [String: Module] = [:]
        for element in elements(of: targets) {
            guard [".target(", ".executableTarget(", ".systemLibrary("].contains(where: { element.hasPrefix($0) }) else {
                continue  // test targets, plugins: not modules of the graph
            }
            let name = try XCTUnwrap(firstQuoted(after: "name:", in: element), "a target without a name: \(element)")
            var module = Module()
            if let dependencies = list(after: "dependencies:", in: element) {
                for dependency in elements(of: dependencies) {
                    if dependency.hasPrefix(".product(") {
                        module.products.insert(try XCTUnwrap(firstQuoted(after: "name:", in: dependency)))
                    } else if dependency.hasPrefix("\"") {
                        module.modules.insert(String(dependency.dropFirst().dropLast()))
                    } else {
                        // `.target(name:)`, `.byName(name:)`: an in-package module named explicitly.
                        module.modules.insert(try XCTUnwrap(firstQuoted(after: "name:", in: dependency), String(dependency)))
                    }
                }
            }
            graph[name] = module
        }
        return graph
    }

    // MARK: docs/architecture.md

    static func backticked(_ text: Substring) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated().compactMap { offset, part in
            offset % 2 == 1 ? String(part) : nil
        }
    }

    /// The lines between `<!-- module-graph:begin -->` and `<!-- module-graph:end -->`, each
    /// ``- `Module`: depends on `A`, `B`; products: `X`, `Y` `` (or `depends on nothing`).
    static func documentedList(_ page: String) throws -> [String: Module] {
        let begin = try XCTUnwrap(page.range(of: "<!-- module-graph:begin -->"), "no module-graph:begin marker")
        let end = try XCTUnwrap(page.range(of: "<!-- module-graph:end -->"), "no module-graph:end marker")
        var graph: [String: Module] = [:]
        for line in page[begin.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("- `") {
            let parts = line.split(separator: ":", maxSplits: 1)
            let name = try XCTUnwrap(backticked(parts[0]).first)
            XCTAssertNil(graph[name], "\(name) is listed twice")
            var module = Module()
            let rest = parts.count > 1 ? parts[1] : ""
            let clauses = rest.split(separator: ";")
            if let modules = clauses.first { module.modules = Set(backticked(modules)) }
            for clause in clauses.dropFirst() where clause.contains("products:") {
                module.products = Set(backticked(clause))
            }
            graph[name] = module
        }
        return graph
    }

    /// The edges `A --> B` of the first Mermaid block; node ids spell a module's `-` as `_`.
    static func mermaidEdges(_ page: String) throws -> Set<String> {
        let start = try XCTUnwrap(page.range(of: "```mermaid"), "no mermaid block")
        let end = try XCTUnwrap(page[start.upperBound...].range(of: "```"))
        var edges: Set<String> = []
        for line in page[start.upperBound..<end.lowerBound].split(separator: "\n") where line.contains("-->") {
            let ends = line.components(separatedBy: "-->").map {
                $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "-")
            }
            edges.insert(ends[0] + " -> " + ends[1])
        }
        return edges
    }

    // MARK: tests

    func testThePackageParserReadsTargetsDependenciesAndProducts() throws {
        let manifest = """
            let package = Package(
                name: "P", // a comment with "quotes", [brackets] and .target(name: "Fake")
                products: [.library(name: "B", targets: ["B"]), .executable(name: "d", targets: ["tool-d"])],
                dependencies: [.package(url: "https://example.com/x", from: "1.0.0")],
                targets: [
                    .target(name: "A"),
                    .target(name: "B", dependencies: ["A", .product(name: "X", package: "x"), .target(name: "C")]),
                    .systemLibrary(name: "C", pkgConfig: "c"),
                    .executableTarget(
                        name: "tool-d",
                        dependencies: ["B"]
                    ),
                    .testTarget(name: "BTests", dependencies: ["B"]),
                ]
            )
            """
        let graph = try Self.packageGraph(manifest)
        XCTAssertEqual(graph, [
            "A": Module(),
            "B": Module(modules: ["A", "C"], products: ["X"]),
            "C": Module(),
            "tool-d": Module(modules: ["B"]),
        ])
    }

    func testTheArchitecturePageListsExactlyTheModulesAndDependenciesOfPackageSwift() throws {
        let declared = try Self.packageGraph(read("Package.swift"))
        XCTAssertGreaterThan(declared.count, 5, "the manifest parser found too few targets: \(declared.keys.sorted())")
        let documented = try Self.documentedList(read("docs/architecture.md"))
        for name in Set(declared.keys).union(documented.keys).sorted() {
            XCTAssertEqual(
                documented[name], declared[name],
                "docs/architecture.md's module list and Package.swift differ for `\(name)`: update the list (and the diagram)")
        }
    }

    func testTheMermaidDiagramDrawsExactlyTheInPackageDependencies() throws {
        let declared = try Self.packageGraph(read("Package.swift"))
        let expected = Set(declared.flatMap { name, module in module.modules.map { name + " -> " + $0 } })
        let drawn = try Self.mermaidEdges(read("docs/architecture.md"))
        XCTAssertEqual(drawn.subtracting(expected).sorted(), [], "edges in the diagram that Package.swift does not declare")
        XCTAssertEqual(expected.subtracting(drawn).sorted(), [], "edges Package.swift declares that the diagram lacks")
    }
}
