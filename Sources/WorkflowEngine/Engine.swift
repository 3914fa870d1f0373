import CodedErrors

/// Where an instance stands, as the engine needs to know it.
public struct InstancePosition: Sendable, Hashable {
    public var state: String
    /// The state it was in before it entered `state` (for `to: previous`).
    public var previousState: String?

    /// A position in `state`, having come from `previousState` (nil when there is none).
    public init(state: String, previousState: String? = nil) {
        self.state = state
        self.previousState = previousState
    }
}

/// Whether a guard lets a transition through.
public enum GuardVerdict: Sendable, Equatable {
    case pass
    /// Refused, with a reason in plain words ("tenant acme is not in the customer registry").
    case refuse(String)
}

/// Evaluates named guards. The domain implements it (reading what it needs); tests can use closures.
public protocol GuardEvaluating {
    func evaluate(guard name: String, event: String, from state: String) throws -> GuardVerdict
}

/// A guard evaluator built from closures, for tests and simple uses.
public struct GuardTable: GuardEvaluating, Sendable {
    public var guards: [String: @Sendable (String, String) -> GuardVerdict]

    /// A table of guard closures by name, each given the event and the state it is sent in.
    public init(_ guards: [String: @Sendable (_ event: String, _ state: String) -> GuardVerdict] = [:]) {
        self.guards = guards
    }

    /// Calls the closure registered as `name` with the event and state; refuses when there is none. Never throws.
    public func evaluate(guard name: String, event: String, from state: String) throws -> GuardVerdict {
        guard let g = guards[name] else { return .refuse("guard '\(name)' is not implemented") }
        return g(event, state)
    }
}

/// The result of one step: where the instance goes and what must happen as a consequence.
public struct Outcome: Sendable, Equatable {
    public var event: String
    public var from: String
    public var to: String
    /// True when the instance enters `to` (a state change or a self-transition); false for `stay`.
    public var entersState: Bool
    /// The transition that was chosen.
    public var transition: Transition
    /// Effects to run, in order: the transition's, then the entered state's `enter` effects.
    public var effects: [EffectReference]
    /// Timers to arm, measured from now. When `entersState` is true the instance's earlier timers are cancelled first.
    public var timers: [TimerDefinition]
    /// The reason recorded in history: the sender's, or the transition's default.
    public var reason: String?
}

/// An event refused by the engine. Says what was refused and what is allowed instead.
public struct EventRefused: CodedError, Equatable {
    /// Why the event was refused; stable, so scripts may match on them.
    public enum Code: String, Sendable, Codable {
        /// The event does not exist in the current state (or at all).
        case eventNotAllowed = "event-not-allowed"
        /// The event exists but the sender's role may not send it.
        case roleNotAllowed = "role-not-allowed"
        /// Every candidate's guard refused.
        case guardRefused = "guard-refused"
        /// The instance is in a final state.
        case finalState = "final-state"
    }

    public var code: Code
    public var event: String
    public var state: String
    public var role: Role
    /// Events the sender's role may send in this state.
    public var allowedEvents: [String]
    /// Roles that may send this event here (for `roleNotAllowed`).
    public var allowedRoles: [Role]
    /// The workflow's own explanation (`refuse:`) or the guards' reasons.
    public var explanation: String?
    /// Events allowed here to other roles than the sender's, with those roles (for "ask the DSP" hints).
    public var othersMay: [AllowedTo] = []
    /// Where the refusal was made.
    public var site: ThrowSite

    /// A refusal of `event` in `state` to `role`; the caller's file and line are its ``site``.
    public init(
        code: Code, event: String, state: String, role: Role, allowedEvents: [String], allowedRoles: [Role],
        explanation: String?, othersMay: [AllowedTo] = [], fileID: String = #fileID, fileLine: Int = #line
    ) {
        self.code = code
        self.event = event
        self.state = state
        self.role = role
        self.allowedEvents = allowedEvents
        self.allowedRoles = allowedRoles
        self.explanation = explanation
        self.othersMay = othersMay
        self.site = ThrowSite(fileID: fileID, line: fileLine)
    }

    /// An event and the roles that may send it.
    public struct AllowedTo: Sendable, Equatable {
        public var event: String
        public var roles: [Role]
    }

    /// The refusal in plain words, with what is allowed instead.
    public var message: String { description }

    public var description: String {
        var text: String
        switch code {
        case .eventNotAllowed, .finalState:
            text = "'\(event)' is not allowed in state '\(state)'"
        case .roleNotAllowed:
            text = "'\(event)' may not be sent by the \(role.displayName) in state '\(state)'; it is for the "
                + allowedRoles.map(\.displayName).joined(separator: " or ")
        case .guardRefused:
            text = "'\(event)' was refused in state '\(state)'"
        }
        if let explanation, !explanation.isEmpty { text += ": \(explanation)" }
        if code != .guardRefused {
            text += allowedEvents.isEmpty
                ? ". Nothing is allowed to the \(role.displayName) here"
                : ". Allowed to the \(role.displayName) here: \(allowedEvents.joined(separator: ", "))"
            let others = othersMay.filter { !allowedEvents.contains($0.event) }
            if !others.isEmpty {
                text += "; for others: " + others.map { "\($0.event) (\($0.roles.map(\.displayName).joined(separator: ", ")))" }
                    .joined(separator: ", ")
            }
            text += "."
        }
        return text
    }
}

/// The pure step function of the lifecycle engine: no I/O, no clock. The caller persists the outcome.
public enum Engine {
    /// Decides what `event`, sent by `role`, does to an instance at `position`.
    ///
    /// - Throws: ``EventRefused`` when the event is not allowed in the state, not to the role, or every guard refuses;
    ///   whatever the guard evaluator throws.
    public static func step(
        definition: WorkflowDefinition, position: InstancePosition, event: String, role: Role, reason: String? = nil,
        guards: some GuardEvaluating
    ) throws -> Outcome {
        guard let state = definition.states[position.state] else {
            throw EventRefused(
                code: .eventNotAllowed, event: event, state: position.state, role: role, allowedEvents: [],
                allowedRoles: [], explanation: "the instance is in '\(position.state)', which \(definition.key) does not define")
        }
        // What is allowed instead: computed only when refusing (never on the path of an accepted event).
        var allowed: [String] { state.events(allowedFor: role) }
        var others: [EventRefused.AllowedTo] {
            state.eventOrder.compactMap { event -> EventRefused.AllowedTo? in
                var roles: [Role] = []
                for transition in state.events[event] ?? [] {
                    for r in transition.roles where r != role && !roles.contains(r) { roles.append(r) }
                }
                return roles.isEmpty ? nil : EventRefused.AllowedTo(event: event, roles: roles)
            }
        }
        guard let candidates = state.events[event], !candidates.isEmpty else {
            throw EventRefused(
                code: state.isFinal ? .finalState : .eventNotAllowed, event: event, state: state.name, role: role,
                allowedEvents: allowed, allowedRoles: [], explanation: state.refusals[event], othersMay: others)
        }
        let permitted = candidates.filter { $0.roles.contains(role) }
        guard !permitted.isEmpty else {
            var roles = Set<Role>()
            candidates.forEach { roles.formUnion($0.roles) }
            throw EventRefused(
                code: .roleNotAllowed, event: event, state: state.name, role: role, allowedEvents: allowed,
                allowedRoles: roles.sorted(), explanation: state.refusals[event], othersMay: others)
        }
        var refusals: [String] = []
        for transition in permitted {
            var passed = true
            for name in transition.guards {
                if case let .refuse(why) = try guards.evaluate(guard: name, event: event, from: state.name) {
                    // Two candidates' guards may refuse for the same reason (no customer record): say it once.
                    if !refusals.contains(why) { refusals.append(why) }
                    passed = false
                    break
                }
            }
            guard passed else { continue }
            var result = outcome(definition: definition, state: state, position: position, transition: transition, reason: reason)
            if reason == nil, !refusals.isEmpty {
                // A fallback candidate was chosen: record why the earlier ones were not.
                result.reason = ([transition.defaultReason].compactMap { $0 } + refusals).joined(separator: ": ")
            }
            return result
        }
        throw EventRefused(
            code: .guardRefused, event: event, state: state.name, role: role, allowedEvents: allowed, allowedRoles: [],
            explanation: refusals.joined(separator: "; "))
    }

    private static func outcome(
        definition: WorkflowDefinition, state: StateDefinition, position: InstancePosition, transition: Transition,
        reason: String?
    ) -> Outcome {
        let target: String
        let enters: Bool
        switch transition.target {
        case let .state(name):
            (target, enters) = (name, true)
        case .stay:
            (target, enters) = (state.name, false)
        case .previous:
            (target, enters) = (position.previousState ?? definition.initialState, true)
        }
        let entered = enters ? definition.states[target] : nil
        return Outcome(
            event: transition.event, from: state.name, to: target, entersState: enters, transition: transition,
            effects: transition.effects + (entered?.onEnter ?? []), timers: entered?.timers ?? [],
            reason: reason ?? transition.defaultReason)
    }

    /// The entry into the initial state when an instance is created: its `enter` effects and timers.
    public static func start(definition: WorkflowDefinition) -> (state: String, effects: [EffectReference], timers: [TimerDefinition]) {
        let initial = definition.states[definition.initialState]
        return (definition.initialState, initial?.onEnter ?? [], initial?.timers ?? [])
    }
}
