import Yams

/// Turns a composed YAML node tree into a ``WorkflowDefinition``, recording a problem for anything malformed.
struct DefinitionParser {
    let file: String
    var problems: [WorkflowProblem] = []

    init(file: String) {
        self.file = file
    }

    private func at(_ node: Node?) -> SourceLocation {
        SourceLocation(file: file, line: node?.mark?.line ?? 0)
    }

    private mutating func problem(_ code: WorkflowProblem.Code, _ node: Node?, state: String? = nil, _ message: String) {
        problems.append(WorkflowProblem(code, at: at(node), state: state, message))
    }

    /// Key/value pairs of a mapping, or a problem when the node is not one.
    private mutating func mapping(_ node: Node?, what: String, state: String? = nil) -> [(key: String, keyNode: Node, value: Node)]? {
        guard let node else { return nil }
        guard case let .mapping(map) = node else {
            problem(.badValue, node, state: state, "\(what) must be a mapping of `key: value` lines")
            return nil
        }
        return map.map { (key: $0.key.string ?? "", keyNode: $0.key, value: $0.value) }
    }

    private mutating func checkKeys(
        _ pairs: [(key: String, keyNode: Node, value: Node)], allowed: [String], what: String, state: String? = nil
    ) {
        for pair in pairs where !allowed.contains(pair.key) {
            problem(.unknownKey, pair.keyNode, state: state,
                    "unknown key '\(pair.key)' in \(what); allowed: \(allowed.joined(separator: ", "))")
        }
    }

    private func string(_ node: Node?) -> String? {
        guard case let .scalar(scalar)? = node else { return nil }
        return scalar.string
    }

    private mutating func stringList(_ node: Node?, what: String, state: String?) -> [(String, Node)] {
        guard let node else { return [] }
        switch node {
        case .scalar: return [(node.string ?? "", node)]
        case let .sequence(seq): return seq.map { ($0.string ?? "", $0) }
        default:
            problem(.badValue, node, state: state, "\(what) must be a name or a list of names")
            return []
        }
    }

    mutating func parseRoot(_ root: Node?) -> WorkflowDefinition? {
        guard let root else {
            problem(.missingField, nil, "the file is empty; a workflow needs `workflow`, `version`, `initial` and `states`")
            return nil
        }
        guard let pairs = mapping(root, what: "a workflow file") else { return nil }
        checkKeys(pairs, allowed: ["workflow", "version", "description", "initial", "states"], what: "the workflow")
        let lookup = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })

        let name = string(lookup["workflow"]) ?? ""
        if name.isEmpty { problem(.missingField, root, "missing `workflow: NAME`") }
        var version = 0
        if let versionNode = lookup["version"] {
            if let v = versionNode.int, v > 0 { version = v } else {
                problem(.badValue, versionNode, "version must be a whole number ≥ 1, got '\(versionNode.string ?? "?")'")
            }
        } else {
            problem(.missingField, root, "missing `version: N`; every definition carries a version")
        }
        let initial = string(lookup["initial"]) ?? ""
        if initial.isEmpty { problem(.missingField, root, "missing `initial: STATE`") }

        var states: [String: StateDefinition] = [:]
        var order: [String] = []
        if let statesPairs = mapping(lookup["states"], what: "`states`") {
            for pair in statesPairs {
                let state = parseState(name: pair.key, keyNode: pair.keyNode, node: pair.value)
                states[pair.key] = state
                order.append(pair.key)
            }
        } else if lookup["states"] == nil {
            problem(.missingField, root, "missing `states:`")
        }
        return WorkflowDefinition(
            name: name, version: version, description: string(lookup["description"]), initialState: initial,
            states: states, stateOrder: order, location: at(root))
    }

    private mutating func parseState(name: String, keyNode: Node, node: Node) -> StateDefinition {
        var state = StateDefinition(name: name, location: at(keyNode))
        if case .scalar = node, node.string == nil || node.string == "" || node.null != nil {
            return state  // `name:` with nothing under it: a state with no events (the validator will judge)
        }
        guard let pairs = mapping(node, what: "state '\(name)'", state: name) else { return state }
        checkKeys(pairs, allowed: ["final", "description", "on", "after", "enter", "task", "refuse"], what: "a state", state: name)
        for pair in pairs {
            switch pair.key {
            case "final":
                guard let flag = pair.value.bool else {
                    problem(.badValue, pair.value, state: name, "final must be true or false")
                    continue
                }
                state.isFinal = flag
            case "description":
                state.description = string(pair.value)
            case "on":
                for event in mapping(pair.value, what: "`on`", state: name) ?? [] {
                    state.eventOrder.append(event.key)
                    state.events[event.key] = parseCandidates(event: event.key, node: event.value, state: name)
                }
            case "after":
                for timer in mapping(pair.value, what: "`after`", state: name) ?? [] {
                    guard let duration = ISODuration(timer.key) else {
                        problem(.badDuration, timer.keyNode, state: name,
                                "'\(timer.key)' is not a duration; write ISO 8601 like P3D (3 days), PT12H (12 hours) or P1DT6H")
                        continue
                    }
                    guard let event = string(timer.value), !event.isEmpty else {
                        problem(.badValue, timer.value, state: name, "a timer names the event to send, e.g. `P3D: remind_school`")
                        continue
                    }
                    state.timers.append(TimerDefinition(duration: duration, event: event, location: at(timer.keyNode)))
                }
            case "enter":
                state.onEnter = parseEffects(pair.value, state: name)
            case "task":
                guard let taskPairs = mapping(pair.value, what: "`task`", state: name) else { continue }
                checkKeys(taskPairs, allowed: ["owner", "todo"], what: "a task", state: name)
                let lookup = Dictionary(taskPairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                let ownerText = string(lookup["owner"]) ?? ""
                guard let owner = Role(parsing: ownerText) else {
                    problem(.unknownRole, lookup["owner"] ?? pair.value, state: name,
                            "task owner '\(ownerText)' is not a role; use one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                state.task = TaskDefinition(owner: owner, todo: string(lookup["todo"]) ?? "")
            case "refuse":
                for refusal in mapping(pair.value, what: "`refuse`", state: name) ?? [] {
                    state.refusals[refusal.key] = string(refusal.value) ?? ""
                }
            default:
                break
            }
        }
        return state
    }

    private mutating func parseCandidates(event: String, node: Node, state: String) -> [Transition] {
        switch node {
        case .mapping:
            return parseTransition(event: event, node: node, state: state).map { [$0] } ?? []
        case let .sequence(items):
            if items.isEmpty {
                problem(.badValue, node, state: state, "event '\(event)' lists no transitions")
            }
            return items.compactMap { parseTransition(event: event, node: $0, state: state) }
        default:
            problem(.badValue, node, state: state,
                    "event '\(event)' must be a mapping like `{ to: STATE, roles: [ROLE] }` or a list of them")
            return []
        }
    }

    private mutating func parseTransition(event: String, node: Node, state: String) -> Transition? {
        guard let pairs = mapping(node, what: "event '\(event)'", state: state) else { return nil }
        checkKeys(pairs, allowed: ["to", "guard", "guards", "roles", "effects", "reason"], what: "event '\(event)'", state: state)
        let lookup = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let targetText = string(lookup["to"]) ?? ""
        let target: TransitionTarget
        switch targetText {
        case "": 
            problem(.missingField, node, state: state, "event '\(event)' has no `to:`; name a state, `stay` or `previous`")
            return nil
        case "stay": target = .stay
        case "previous": target = .previous
        default: target = .state(targetText)
        }
        var guards: [String] = []
        for key in ["guard", "guards"] {
            guards += stringList(lookup[key], what: "`\(key)`", state: state).map(\.0)
        }
        var roles: [Role] = []
        for (text, roleNode) in stringList(lookup["roles"], what: "`roles`", state: state) {
            if let role = Role(parsing: text) { roles.append(role) } else {
                problem(.unknownRole, roleNode, state: state,
                        "event '\(event)' names role '\(text)'; roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        if lookup["roles"] == nil {
            problem(.missingRoles, node, state: state, "event '\(event)' must name the roles allowed to send it (`roles: [...]`)")
        }
        return Transition(
            event: event, target: target, guards: guards, roles: roles,
            effects: lookup["effects"].map { parseEffects($0, state: state) } ?? [],
            defaultReason: string(lookup["reason"]), location: at(node))
    }

    private mutating func parseEffects(_ node: Node, state: String) -> [EffectReference] {
        let items: [Node]
        switch node {
        case .scalar: items = [node]
        case let .sequence(seq): items = Array(seq)
        default:
            problem(.badValue, node, state: state, "effects must be a name or a list of names")
            return []
        }
        var effects: [EffectReference] = []
        for item in items {
            switch item {
            case .scalar:
                effects.append(EffectReference(name: item.string ?? "", location: at(item)))
            case let .mapping(map) where map.count == 1:
                let (key, value) = (map.first!.key, map.first!.value)
                var parameters: [String: String] = [:]
                if case let .mapping(params) = value {
                    for p in params { parameters[p.key.string ?? ""] = p.value.string ?? "" }
                } else if let scalar = value.string, !scalar.isEmpty {
                    parameters["value"] = scalar
                }
                effects.append(EffectReference(name: key.string ?? "", parameters: parameters, location: at(key)))
            default:
                problem(.badValue, item, state: state,
                        "an effect is a name (`- notify_dsp`) or a name with parameters (`- notify: { to: dsp }`)")
            }
        }
        return effects
    }
}
