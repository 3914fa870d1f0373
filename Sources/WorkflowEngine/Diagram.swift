/// Diagram formats for `rosterflow workflows graph`.
public enum DiagramFormat: String, Sendable, CaseIterable {
    case mermaid
    case dot
}

extension WorkflowDefinition {
    /// The definition as a state diagram: Mermaid `stateDiagram-v2` or Graphviz DOT.
    ///
    /// Edges are labelled `event [roles]`, with guards in brackets and timers as `after P3D`.
    public func diagram(_ format: DiagramFormat) -> String {
        var edges: [(from: String, to: String, label: String)] = []
        for (from, transition) in allTransitions {
            let to: String
            switch transition.target {
            case let .state(name): to = name
            case .stay: to = from
            case .previous: to = "previous"
            }
            var label = transition.event
            if !transition.guards.isEmpty { label += " [\(transition.guards.joined(separator: ", "))]" }
            label += " (\(transition.roles.map(\.rawValue).joined(separator: ", ")))"
            if let timer = states[from]?.timers.first(where: { $0.event == transition.event }) {
                label += " after \(timer.duration)"
            }
            edges.append((from, to, label))
        }
        switch format {
        case .mermaid:
            var lines = ["stateDiagram-v2", "    %% \(key)", "    [*] --> \(initialState)"]
            for (from, to, label) in edges {
                lines.append("    \(from) --> \(to == "previous" ? from : to): \(label)\(to == "previous" ? " → previous state" : "")")
            }
            for name in stateOrder where states[name]?.isFinal == true {
                lines.append("    \(name) --> [*]")
            }
            return lines.joined(separator: "\n") + "\n"
        case .dot:
            func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            var lines = ["digraph \(quote(key)) {", "    rankdir=LR;", "    node [shape=box, style=rounded];",
                         "    __start [shape=point];", "    __start -> \(quote(initialState));"]
            for name in stateOrder where states[name]?.isFinal == true {
                lines.append("    \(quote(name)) [peripheries=2];")
            }
            for (from, to, label) in edges {
                let target = to == "previous" ? "previous state" : to
                if to == "previous" { lines.append("    \(quote(target)) [shape=ellipse, style=dashed];") }
                lines.append("    \(quote(from)) -> \(quote(target)) [label=\(quote(label))];")
            }
            lines.append("}")
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
