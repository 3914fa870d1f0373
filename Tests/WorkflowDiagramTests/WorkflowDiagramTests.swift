import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import WorkflowDiagram
import WorkflowEngine
import XCTest

/// The SVG diagrams of the shipped workflows: well-formed XML, every state and event drawn and described, the same
/// bytes every time, accessible, and nothing that runs or loads anything.
final class WorkflowDiagramTests: XCTestCase {
    static let workflows = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Workflows").path

    func shipped() throws -> [WorkflowDefinition] {
        let catalog = try WorkflowCatalog.load(from: Self.workflows)
        let definitions = catalog.definitions.values.sorted { $0.name < $1.name }
        XCTAssertEqual(definitions.map(\.name), ["class-import", "course-mapping", "integration"])
        return definitions
    }

    /// Parses `svg` with Foundation's XMLParser, collecting the text of every element and the element names.
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String] = []
        var attributes: [[String: String]] = []
        var text = ""
        var titleText = ""
        var descText = ""
        private var stack: [String] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes attributeDict: [String: String] = [:]) {
            elements.append(name)
            attributes.append(attributeDict)
            stack.append(name)
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
            if stack == ["svg", "title"] { titleText += string }
            if stack == ["svg", "desc"] { descText += string }
        }
    }

    func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) -> Collector {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))", file: file, line: line)
        return collector
    }

    func testEveryShippedWorkflowIsWellFormedAccessibleSVGWithEveryStateAndEvent() throws {
        for definition in try shipped() {
            let svg = WorkflowDiagram.svg(for: definition)
            let parsed = parse(svg)
            XCTAssertEqual(parsed.elements.first, "svg")
            let root = parsed.attributes[0]
            XCTAssertEqual(root["xmlns"], "http://www.w3.org/2000/svg")
            XCTAssertEqual(root["role"], "img")
            XCTAssertNotNil(root["viewBox"])
            XCTAssertTrue(parsed.titleText.contains(definition.name) && parsed.titleText.contains("version \(definition.version)"),
                          parsed.titleText)
            XCTAssertFalse(parsed.descText.isEmpty)
            for name in definition.stateOrder {
                XCTAssertTrue(parsed.text.contains(name), "\(definition.key): state \(name) is not drawn")
                XCTAssertTrue(parsed.descText.contains(name), "\(definition.key): state \(name) is not described")
            }
            for (from, transition) in definition.allTransitions {
                XCTAssertTrue(parsed.text.contains(transition.event), "\(definition.key): event \(transition.event) from \(from) is not drawn")
                XCTAssertTrue(parsed.descText.contains(transition.event), "\(definition.key): event \(transition.event) is not described")
                for guardName in transition.guards {
                    XCTAssertTrue(parsed.text.contains("if \(guardName)"), "\(definition.key): guard \(guardName) is not marked")
                }
                for role in transition.roles {
                    XCTAssertTrue(parsed.text.contains(role.rawValue), "\(definition.key): role \(role.rawValue) is not shown")
                }
            }
            for state in definition.states.values {
                for timer in state.timers {
                    XCTAssertTrue(parsed.text.contains("⏱ after \(timer.duration): \(timer.event)"),
                                  "\(definition.key): timer \(timer.event) of \(state.name) is not marked")
                }
            }
        }
    }

    func testTheDiagramIsTheSameEveryTimeAndRunsNothing() throws {
        for definition in try shipped() {
            let first = WorkflowDiagram.svg(for: definition)
            // A definition decoded anew (dictionaries rebuilt, so their order may differ) draws the same bytes.
            let copy = try JSONDecoder().decode(WorkflowDefinition.self, from: JSONEncoder().encode(definition))
            XCTAssertEqual(WorkflowDiagram.svg(for: copy), first, definition.key)
            XCTAssertEqual(WorkflowDiagram.svg(for: definition), first, definition.key)
            let lower = first.lowercased()
            for forbidden in ["<script", "javascript:", "onload=", "onclick=", "@import", "url(http", "href=\"http", "<style", "@font-face",
                              "<foreignobject", "xlink:href"] {
                XCTAssertFalse(lower.contains(forbidden), "\(definition.key) contains \(forbidden)")
            }
            XCTAssertTrue(first.contains("font-family=\"sans-serif\""))
        }
    }

    func testTheInitialStateComesFirstAndFinalStatesLast() throws {
        let definition = try XCTUnwrap(try shipped().first { $0.name == "course-mapping" })
        let svg = WorkflowDiagram.svg(for: definition)
        let parsed = parse(svg)
        // States are drawn row by row: the order of their name labels (bold text) is the layering.
        let description = parsed.descText
        let states = description.dropFirst("States: ".count).prefix { $0 != "." }.components(separatedBy: ", ")
        XCTAssertEqual(states.first, "shell_created (initial)")
        XCTAssertEqual(states.last, "locked (final)")
        XCTAssertEqual(Set(states.map { $0.components(separatedBy: " ").first ?? "" }), Set(definition.stateOrder))
    }

    func testNamesThatLookLikeMarkupAreEscaped() throws {
        let location = SourceLocation(file: "x.yaml", line: 1)
        let definition = WorkflowDefinition(
            name: "a<b>&\"c\"", version: 1, description: "<script>alert(1)</script>", initialState: "start",
            states: [
                "start": StateDefinition(
                    name: "start", description: "it's <here>",
                    events: ["go&<": [Transition(event: "go&<", target: .state("end"), guards: ["g<1>"], roles: [.system], location: location)]],
                    eventOrder: ["go&<"], location: location),
                "end": StateDefinition(name: "end", isFinal: true, location: location),
            ],
            stateOrder: ["start", "end"], location: location)
        let svg = WorkflowDiagram.svg(for: definition)
        let parsed = parse(svg)
        XCTAssertFalse(svg.contains("<script"), svg)
        XCTAssertTrue(parsed.text.contains("<script>alert(1)</script>"), "kept as text")
        XCTAssertTrue(parsed.text.contains("go&< (system) if g<1>"))
    }
}
