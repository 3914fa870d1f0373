import WorkflowEngine

/// Workflow definitions drawn as SVG, for people: the dashboard and `rosterflow workflows diagram`.
///
/// The layout is layered and deterministic (the same definition always gives the same bytes): the initial state is
/// on the first row, each other state on the row of the longest path that reaches it (edges that lead back, found by
/// a depth-first walk in file order, are left out of the layering), final states on the last row; a row's states keep
/// their file order after one pass that moves each towards the states it is entered from. Edges between states are
/// labelled with their events and the roles that may send them, guarded candidates are drawn dashed and say `if
/// guard`, and events that keep the state (self-transitions, `stay`, `previous`) and timers are listed inside the
/// state's box. The document is accessible (`role="img"`, `<title>` and a `<desc>` that lists every state and
/// transition in words), uses only a generic font family, presentation attributes (no CSS, so a strict Content
/// Security Policy applies it) and contains no script.
public enum WorkflowDiagram {
    /// The definition as a standalone SVG document (UTF-8 XML).
    public static func svg(for definition: WorkflowDefinition) -> String {
        Layout(definition).render()
    }
}

/// One edge between two different states, with every event that takes it.
struct Edge {
    var from: String
    var to: String
    /// One line per event: `event (roles)`, with its guard or timer.
    var labels: [String]
    /// True when every candidate on it is guarded.
    var guarded: Bool
}

struct Layout {
    static let nodeWidth = 230
    static let columnGap = 70
    static let rowGap = 120
    static let margin = 40
    static let headerHeight = 56
    static let lineHeight = 15
    static let charWidth = 6.2

    let definition: WorkflowDefinition
    /// State names in drawing order: row by row, left to right.
    var rows: [[String]] = []
    var edges: [Edge] = []
    /// Lines listed inside each state's box (events that keep the state, timers).
    var inner: [String: [String]] = [:]
    var boxes: [String: (x: Int, y: Int, width: Int, height: Int)] = [:]
    var width = 0
    var height = 0

    init(_ definition: WorkflowDefinition) {
        self.definition = definition
        collectEdges()
        layer()
        place()
    }

    static func roles(_ transition: Transition) -> String {
        "(" + transition.roles.map(\.rawValue).joined(separator: ", ") + ")"
    }

    static func timer(_ state: StateDefinition?, _ event: String) -> String? {
        state?.timers.first { $0.event == event }.map { "after \($0.duration)" }
    }

    mutating func collectEdges() {
        var byPair: [String: Int] = [:]
        for name in definition.stateOrder {
            guard let state = definition.states[name] else { continue }
            var lines: [String] = []
            if state.isFinal { lines.append("final state") }
            for timer in state.timers { lines.append("⏱ after \(timer.duration): \(timer.event)") }
            for event in state.eventOrder {
                let candidates = state.events[event] ?? []
                for transition in candidates {
                    var label = "\(event) \(Self.roles(transition))"
                    if !transition.guards.isEmpty { label += " if " + transition.guards.joined(separator: ", ") }
                    else if candidates.count > 1 { label += " otherwise" }
                    if let timer = Self.timer(state, event) { label += " ⏱ \(timer)" }
                    switch transition.target {
                    case .stay:
                        lines.append("↺ \(label) (stays)")
                    case .previous:
                        lines.append("↩ \(label) → previous state")
                    case let .state(target) where target == name:
                        lines.append("↺ \(label)")
                    case let .state(target):
                        let key = name + "\u{0}" + target
                        if let index = byPair[key] {
                            edges[index].labels.append(label)
                            edges[index].guarded = edges[index].guarded && !transition.guards.isEmpty
                        } else {
                            byPair[key] = edges.count
                            edges.append(Edge(from: name, to: target, labels: [label], guarded: !transition.guards.isEmpty))
                        }
                    }
                }
            }
            for event in state.refusals.keys.sorted() { lines.append("✕ \(event) refused here") }
            inner[name] = lines
        }
    }

    /// Longest-path layering over the edges that do not lead back (a depth-first walk from the initial state, in file
    /// order), final states last, then one barycentre pass per row.
    mutating func layer() {
        let order = definition.stateOrder
        let index = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        var successors: [String: [String]] = [:]
        for edge in edges { successors[edge.from, default: []].append(edge.to) }
        // Back edges: found by an iterative depth-first walk.
        var back: Set<String> = []
        var visited: Set<String> = []
        var onStack: Set<String> = []
        func walk(_ start: String) {
            var stack: [(String, Int)] = [(start, 0)]
            visited.insert(start)
            onStack.insert(start)
            while let top = stack.last {
                let (node, next) = top
                let list = successors[node] ?? []
                if next < list.count {
                    stack[stack.count - 1].1 += 1
                    let target = list[next]
                    if onStack.contains(target) {
                        back.insert(node + "\u{0}" + target)
                    } else if !visited.contains(target) {
                        visited.insert(target)
                        onStack.insert(target)
                        stack.append((target, 0))
                    }
                } else {
                    onStack.remove(node)
                    stack.removeLast()
                }
            }
        }
        if definition.states[definition.initialState] != nil { walk(definition.initialState) }
        for name in order where !visited.contains(name) { walk(name) }
        // Longest path over the forward edges, in a topological order (Kahn, ties by file order).
        let forward = edges.filter { !back.contains($0.from + "\u{0}" + $0.to) && $0.to != definition.initialState }
        var incoming: [String: Int] = [:]
        for edge in forward { incoming[edge.to, default: 0] += 1 }
        var ready = order.filter { (incoming[$0] ?? 0) == 0 }
        var level: [String: Int] = [:]
        for name in order { level[name] = 0 }
        while !ready.isEmpty {
            ready.sort { (index[$0] ?? 0) < (index[$1] ?? 0) }
            let node = ready.removeFirst()
            for edge in forward where edge.from == node {
                level[edge.to] = max(level[edge.to] ?? 0, (level[node] ?? 0) + 1)
                incoming[edge.to, default: 0] -= 1
                if incoming[edge.to] == 0 { ready.append(edge.to) }
            }
        }
        // The initial state alone on the first row; final states together on the last.
        level[definition.initialState] = 0
        for name in order where name != definition.initialState && level[name] == 0 { level[name] = 1 }
        let finals = order.filter { definition.states[$0]?.isFinal == true && $0 != definition.initialState }
        let lastOther = order.filter { !finals.contains($0) }.map { level[$0] ?? 0 }.max() ?? 0
        for name in finals { level[name] = lastOther + 1 }
        let count = (level.values.max() ?? 0) + 1
        var rows = [[String]](repeating: [], count: count)
        for name in order { rows[level[name] ?? 0].append(name) }
        rows = rows.filter { !$0.isEmpty }
        // One barycentre pass: a state moves towards the states (on earlier rows) it is entered from.
        var position: [String: Double] = [:]
        for (rowIndex, row) in rows.enumerated() {
            if rowIndex > 0 {
                let keyed = row.enumerated().map { offset, name -> (String, Double, Int) in
                    let from = edges.filter { $0.to == name }.compactMap { position[$0.from] }
                    let centre = from.isEmpty ? Double(offset) : from.reduce(0, +) / Double(from.count)
                    return (name, centre, index[name] ?? 0)
                }
                rows[rowIndex] = keyed.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.2 < $1.2 }.map(\.0)
            }
            let row = rows[rowIndex]
            for (offset, name) in row.enumerated() {
                position[name] = Double(offset) - Double(row.count - 1) / 2
            }
        }
        self.rows = rows
    }

    func boxHeight(_ name: String) -> Int {
        Self.headerHeight + (inner[name]?.count ?? 0) * Self.lineHeight + ((inner[name]?.isEmpty ?? true) ? 0 : 8)
    }

    func wrapWidth(_ text: String) -> Int { Int((Double(text.count) * Self.charWidth).rounded(.up)) }

    mutating func place() {
        let widest = rows.map(\.count).max() ?? 1
        let rowWidth = { (count: Int) in count * Self.nodeWidth + max(0, count - 1) * Self.columnGap }
        width = Self.margin * 2 + rowWidth(widest) + 260
        // Wide enough for the title and the description line too.
        let heading = max(wrapWidth("Workflow \(definition.name), version \(definition.version)") * 3 / 2, wrapWidth(definition.description ?? ""))
        width = max(width, Self.margin * 2 + heading)
        var y = Self.margin + 50
        for row in rows {
            let rowHeight = row.map(boxHeight).max() ?? Self.headerHeight
            var x = Self.margin + (rowWidth(widest) - rowWidth(row.count)) / 2
            for name in row {
                let boxWidth = max(Self.nodeWidth, (inner[name] ?? []).map(wrapWidth).max().map { $0 + 20 } ?? 0)
                boxes[name] = (x, y, min(boxWidth, Self.nodeWidth + Self.columnGap - 10), boxHeight(name))
                x += Self.nodeWidth + Self.columnGap
            }
            y += rowHeight + Self.rowGap
        }
        height = y - Self.rowGap + Self.margin
    }

    // MARK: Drawing

    func render() -> String {
        let title = "Workflow \(definition.name), version \(definition.version)"
        var out: [String] = []
        out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        out.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(width)\" height=\"\(height)\" "
                + "viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-labelledby=\"diagram-title diagram-desc\" "
                + "font-family=\"sans-serif\" font-size=\"12\">")
        out.append("<title id=\"diagram-title\">\(xml(title))</title>")
        out.append("<desc id=\"diagram-desc\">\(xml(description()))</desc>")
        out.append("<defs>")
        out.append("<marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">"
            + "<path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#1f2933\"/></marker>")
        out.append("</defs>")
        out.append("<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>")
        out.append("<text x=\"\(Self.margin)\" y=\"\(Self.margin + 4)\" font-size=\"18\" font-weight=\"bold\" fill=\"#1f2933\">\(xml(title))</text>")
        if let text = definition.description {
            out.append("<text x=\"\(Self.margin)\" y=\"\(Self.margin + 24)\" fill=\"#3e4c59\">\(xml(text))</text>")
        }
        // The initial state's entry arrow.
        if let start = boxes[definition.initialState] {
            let cx = start.x + start.width / 2
            out.append("<circle cx=\"\(cx)\" cy=\"\(start.y - 24)\" r=\"6\" fill=\"#1f2933\"/>")
            out.append("<line x1=\"\(cx)\" y1=\"\(start.y - 18)\" x2=\"\(cx)\" y2=\"\(start.y)\" stroke=\"#1f2933\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>")
        }
        let rowOf = Dictionary(uniqueKeysWithValues: rows.enumerated().flatMap { index, row in row.map { ($0, index) } })
        var labelSlots: [Int: Int] = [:]
        for (number, edge) in edges.enumerated() {
            guard let a = boxes[edge.from], let b = boxes[edge.to] else { continue }
            let down = (rowOf[edge.to] ?? 0) > (rowOf[edge.from] ?? 0)
            let path: String
            let labelX: Int
            var labelY: Int
            if down {
                let x1 = a.x + a.width / 2 + spread(edge, outgoing: true)
                let y1 = a.y + a.height
                let x2 = b.x + b.width / 2 + spread(edge, outgoing: false)
                let y2 = b.y
                let bend = max(40, (y2 - y1) / 2)
                path = "M \(x1) \(y1) C \(x1) \(y1 + bend), \(x2) \(y2 - bend), \(x2) \(y2)"
                labelX = (x1 + x2) / 2
                labelY = (y1 + y2) / 2 - edge.labels.count * Self.lineHeight / 2
            } else {
                // Back or sideways: leave from the right side, come in on the right side, bending outwards.
                let x1 = a.x + a.width
                let y1 = a.y + 18 + (number % 3) * 8
                let x2 = b.x + b.width
                let y2 = b.y + 18 + (number % 3) * 8
                let bulge = max(x1, x2) + 40 + (number % 4) * 18
                path = "M \(x1) \(y1) C \(bulge) \(y1), \(bulge) \(y2), \(x2) \(y2)"
                labelX = bulge - 10
                labelY = (y1 + y2) / 2 - edge.labels.count * Self.lineHeight / 2
            }
            let slot = labelY / 20
            labelY += (labelSlots[slot, default: 0]) * 14
            labelSlots[slot, default: 0] += 1
            let dash = edge.guarded ? " stroke-dasharray=\"6 4\"" : ""
            let accessible = "\(edge.from) to \(edge.to): " + edge.labels.joined(separator: "; ")
            out.append("<g><title>\(xml(accessible))</title>")
            out.append("<path d=\"\(path)\" fill=\"none\" stroke=\"#52606d\" stroke-width=\"1.5\"\(dash) marker-end=\"url(#arrow)\"/>")
            let labelWidth = (edge.labels.map(wrapWidth).max() ?? 0) + 8
            out.append("<rect x=\"\(labelX - labelWidth / 2)\" y=\"\(labelY - 11)\" width=\"\(labelWidth)\" "
                + "height=\"\(edge.labels.count * Self.lineHeight + 4)\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>")
            for (line, label) in edge.labels.enumerated() {
                out.append("<text x=\"\(labelX)\" y=\"\(labelY + line * Self.lineHeight)\" text-anchor=\"middle\" fill=\"#1f2933\">\(xml(label))</text>")
            }
            out.append("</g>")
        }
        for name in rows.joined() {
            guard let box = boxes[name], let state = definition.states[name] else { continue }
            let initial = name == definition.initialState
            out.append("<g><title>\(xml(stateSentence(name)))</title>")
            out.append("<rect x=\"\(box.x)\" y=\"\(box.y)\" width=\"\(box.width)\" height=\"\(box.height)\" rx=\"10\" ry=\"10\" "
                + "fill=\"\(state.isFinal ? "#e4e7eb" : initial ? "#e3f8ff" : "#f5f7fa")\" stroke=\"#1f2933\" "
                + "stroke-width=\"\(state.isFinal ? 3 : 1.5)\"/>")
            if state.isFinal {
                out.append("<rect x=\"\(box.x + 4)\" y=\"\(box.y + 4)\" width=\"\(box.width - 8)\" height=\"\(box.height - 8)\" rx=\"8\" ry=\"8\" "
                    + "fill=\"none\" stroke=\"#1f2933\" stroke-width=\"1\"/>")
            }
            out.append("<text x=\"\(box.x + 12)\" y=\"\(box.y + 24)\" font-size=\"14\" font-weight=\"bold\" fill=\"#1f2933\">\(xml(name))</text>")
            if let task = state.task {
                out.append("<text x=\"\(box.x + 12)\" y=\"\(box.y + 42)\" font-size=\"11\" fill=\"#3e4c59\">\(xml("task: \(task.owner.rawValue)"))</text>")
            }
            for (line, text) in (inner[name] ?? []).enumerated() {
                out.append("<text x=\"\(box.x + 12)\" y=\"\(box.y + Self.headerHeight + 6 + line * Self.lineHeight)\" font-size=\"11\" "
                    + "fill=\"#1f2933\">\(xml(text))</text>")
            }
            out.append("</g>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    /// Spreads the ends of several edges leaving (or entering) one box.
    func spread(_ edge: Edge, outgoing: Bool) -> Int {
        let siblings = edges.filter { outgoing ? $0.from == edge.from : $0.to == edge.to }
        guard siblings.count > 1, let index = siblings.firstIndex(where: { $0.from == edge.from && $0.to == edge.to }) else { return 0 }
        let step = min(30, (Self.nodeWidth - 40) / siblings.count)
        return (index * 2 - (siblings.count - 1)) * step / 2
    }

    func stateSentence(_ name: String) -> String {
        guard let state = definition.states[name] else { return name }
        var text = "State \(name)"
        if name == definition.initialState { text += " (initial)" }
        if state.isFinal { text += " (final)" }
        if let description = state.description { text += ": \(description)" }
        if let task = state.task { text += " Task for \(task.owner.rawValue)." }
        let lines = inner[name]?.filter { $0 != "final state" } ?? []
        if !lines.isEmpty { text += " " + lines.joined(separator: "; ") + "." }
        return text
    }

    /// Every state and transition in words, for screen readers.
    func description() -> String {
        var parts: [String] = []
        parts.append("States: " + rows.joined().map { name in
            var text = name
            if name == definition.initialState { text += " (initial)" }
            if definition.states[name]?.isFinal == true { text += " (final)" }
            return text
        }.joined(separator: ", ") + ".")
        if !edges.isEmpty {
            parts.append("Transitions: " + edges.map { "\($0.from) to \($0.to) on " + $0.labels.joined(separator: " or ") }
                .joined(separator: "; ") + ".")
        }
        let inside = definition.stateOrder.compactMap { name -> String? in
            let lines = inner[name]?.filter { $0 != "final state" } ?? []
            return lines.isEmpty ? nil : "In \(name): " + lines.joined(separator: "; ")
        }
        if !inside.isEmpty { parts.append(inside.joined(separator: ". ") + ".") }
        return parts.joined(separator: " ")
    }

    /// Text made safe for XML character data and attribute values; characters XML 1.0 does not allow are dropped.
    func xml(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                let value = scalar.value
                if value < 0x20 || (0xD800...0xDFFF).contains(value) || value == 0xFFFE || value == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
