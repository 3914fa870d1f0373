/// Checks a parsed definition for the mistakes that would strand an instance or fail at run time.
///
/// Found at load time, with file, line and state: unknown target or initial state, unknown guard or effect
/// (checked against the names the domain registers), unreachable states, non-final states with no way out,
/// timers whose event the state does not accept from the system, final states that accept events, candidates that
/// can never be chosen because an earlier one has no guard, and states or events the domain relies on that are missing.
public struct WorkflowValidator: Sendable {
    /// Guard names implemented in Swift; nil skips the check (e.g. validating the format alone).
    public var knownGuards: Set<String>?
    /// Effect names implemented in Swift; nil skips the check.
    public var knownEffects: Set<String>?
    /// State and event names the code relies on, by workflow name: a definition of that workflow lacking one is refused
    /// (renaming `on_hold` would otherwise pass and break syncs). Empty skips the check.
    public var requiredNames: [String: RequiredNames]

    /// The states and events of one workflow that code outside the YAML relies on, each with what relies on it.
    public struct RequiredNames: Sendable {
        /// State names, each with what relies on it (said in the refusal).
        public var states: [(name: String, use: String)]
        /// Event names (accepted in at least one state), each with what relies on it.
        public var events: [(name: String, use: String)]

        /// The names `states` and `events` a workflow must define.
        public init(states: [(name: String, use: String)], events: [(name: String, use: String)]) {
            self.states = states
            self.events = events
        }
    }

    /// A validator that checks guard and effect names against the given sets (nil skips that check), and the
    /// definitions named in `requiredNames` for the states and events listed there.
    public init(
        knownGuards: Set<String>? = nil, knownEffects: Set<String>? = nil, requiredNames: [String: RequiredNames] = [:]
    ) {
        self.knownGuards = knownGuards
        self.knownEffects = knownEffects
        self.requiredNames = requiredNames
    }

    /// Every problem found in `definition`; empty when it has none. It does not throw, so the problems of many files
    /// can be gathered and reported together.
    public func validate(_ definition: WorkflowDefinition) -> [WorkflowProblem] {
        var problems: [WorkflowProblem] = []
        let states = definition.states
        if !definition.initialState.isEmpty, states[definition.initialState] == nil {
            problems.append(WorkflowProblem(
                .unknownInitialState, at: definition.location,
                "initial state '\(definition.initialState)' is not defined\(suggestion(definition.initialState, in: definition.stateOrder))"))
        }
        for name in definition.stateOrder {
            guard let state = states[name] else { continue }
            if state.isFinal, !state.eventOrder.isEmpty {
                problems.append(WorkflowProblem(
                    .finalStateHasEvents, at: state.location, state: name,
                    "a final state accepts no events, but lists \(state.eventOrder.joined(separator: ", ")); remove them or `final: true`"))
            }
            for event in state.eventOrder {
                let candidates = state.events[event] ?? []
                for (index, transition) in candidates.enumerated() {
                    if case let .state(target) = transition.target, states[target] == nil {
                        problems.append(WorkflowProblem(
                            .unknownTargetState, at: transition.location, state: name,
                            "event '\(event)' goes to '\(target)', which is not a state\(suggestion(target, in: definition.stateOrder))"))
                    }
                    if let knownGuards {
                        for g in transition.guards where !knownGuards.contains(g) {
                            problems.append(WorkflowProblem(
                                .unknownGuard, at: transition.location, state: name,
                                "event '\(event)' uses guard '\(g)', which is not implemented\(suggestion(g, in: knownGuards.sorted()))"))
                        }
                    }
                    if transition.guards.isEmpty, index < candidates.count - 1 {
                        problems.append(WorkflowProblem(
                            .unreachableCandidate, at: candidates[index + 1].location, state: name,
                            "event '\(event)': this candidate can never be chosen, the one before it has no guard"))
                    }
                }
            }
            for timer in state.timers {
                let accepts = state.events[timer.event]?.contains { $0.roles.contains(.system) } ?? false
                if !accepts {
                    problems.append(WorkflowProblem(
                        .timerEventUndefined, at: timer.location, state: name,
                        "timer \(timer.duration) sends '\(timer.event)', but this state has no event '\(timer.event)' allowed to role system"))
                }
            }
            if let knownEffects {
                let effects = state.onEnter + state.events.values.joined().flatMap(\.effects)
                for effect in effects where !knownEffects.contains(effect.name) {
                    problems.append(WorkflowProblem(
                        .unknownEffect, at: effect.location, state: name,
                        "effect '\(effect.name)' is not implemented\(suggestion(effect.name, in: knownEffects.sorted()))"))
                }
            }
            if !state.isFinal {
                let leaves = state.events.values.joined().contains { transition in
                    switch transition.target {
                    case let .state(target): target != name
                    case .previous: true
                    case .stay: false
                    }
                }
                if !leaves {
                    problems.append(WorkflowProblem(
                        .deadEnd, at: state.location, state: name,
                        "no event leads out of this non-final state; add one or mark it `final: true`"))
                }
            }
        }
        problems += unreachable(definition)
        problems += missingRequired(definition)
        return problems
    }

    /// A problem for each state or event of ``requiredNames`` the definition lacks.
    private func missingRequired(_ definition: WorkflowDefinition) -> [WorkflowProblem] {
        guard let required = requiredNames[definition.name] else { return [] }
        var problems: [WorkflowProblem] = []
        for (name, use) in required.states where definition.states[name] == nil {
            problems.append(WorkflowProblem(
                .missingRequiredState, at: definition.location,
                "workflow '\(definition.name)' has no state '\(name)', which RosterFlow relies on (\(use))"
                    + "\(suggestion(name, in: definition.stateOrder)); keep that name"))
        }
        let events = Set(definition.states.values.flatMap(\.eventOrder))
        for (name, use) in required.events where !events.contains(name) {
            problems.append(WorkflowProblem(
                .missingRequiredEvent, at: definition.location,
                "workflow '\(definition.name)' has no event '\(name)', which RosterFlow relies on (\(use))"
                    + "\(suggestion(name, in: events.sorted())); keep that name"))
        }
        return problems
    }

    private func unreachable(_ definition: WorkflowDefinition) -> [WorkflowProblem] {
        guard definition.states[definition.initialState] != nil else { return [] }
        var seen: Set<String> = [definition.initialState]
        var queue = [definition.initialState]
        while let current = queue.popLast() {
            let transitions = definition.states[current].map { Array($0.events.values.joined()) } ?? []
            for transition in transitions {
                if case let .state(target) = transition.target, definition.states[target] != nil, seen.insert(target).inserted {
                    queue.append(target)
                }
            }
        }
        return definition.stateOrder.filter { !seen.contains($0) }.map { name in
            WorkflowProblem(
                .unreachableState, at: definition.states[name]!.location, state: name,
                "no event leads into this state from '\(definition.initialState)'; connect it or remove it")
        }
    }

    /// ", did you mean 'x'?" for a near miss among `candidates`, else "".
    private func suggestion(_ name: String, in candidates: [String]) -> String {
        let best = candidates.map { ($0, editDistance($0, name)) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, name.count / 3) else { return "" }
        return "; did you mean '\(best.0)'?"
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
