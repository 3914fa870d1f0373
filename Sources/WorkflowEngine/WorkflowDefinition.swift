/// A place in a workflow file, kept so that every problem and refusal can point at the line to fix.
public struct SourceLocation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The file the definition came from (as given to the loader).
    public var file: String
    /// 1-based line; 0 when unknown.
    public var line: Int

    /// A place in `file` at a 1-based `line` (0 when the line is unknown).
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }
}

/// A named effect with parameters, as written in YAML: `- notify_dsp` or `- notify: { to: dsp, template: x }`.
///
/// Effects are implemented in Swift (an effect registry in the domain); the engine only names them.
public struct EffectReference: Sendable, Hashable, Codable {
    public var name: String
    public var parameters: [String: String]
    public var location: SourceLocation

    /// An effect named `name` with its parameters, as written at `location`.
    public init(name: String, parameters: [String: String] = [:], location: SourceLocation) {
        self.name = name
        self.parameters = parameters
        self.location = location
    }
}

/// Where an event leads from one state.
public enum TransitionTarget: Sendable, Hashable, Codable {
    /// Enter the named state (a self-transition re-enters it and re-arms its timers).
    case state(String)
    /// Stay in the current state without re-entering it: run effects only, keep timers.
    case stay
    /// Go back to the state the instance was in before it entered the current one (e.g. leaving `on_hold`).
    case previous
}

/// One candidate transition for an event. An event may have several candidates; the first whose guards all pass wins.
public struct Transition: Sendable, Hashable, Codable {
    public var event: String
    public var target: TransitionTarget
    /// Guard names, all of which must pass.
    public var guards: [String]
    /// Roles allowed to send this event; empty means the event names none (a load-time error).
    public var roles: [Role]
    /// Effects run when this transition is taken (after leaving, before entering).
    public var effects: [EffectReference]
    /// A reason recorded in history when the sender gives none (e.g. "not an existing customer").
    public var defaultReason: String?
    public var location: SourceLocation

    /// A candidate with every field given; by default it has no guards, effects or default reason.
    public init(
        event: String, target: TransitionTarget, guards: [String] = [], roles: [Role], effects: [EffectReference] = [],
        defaultReason: String? = nil, location: SourceLocation
    ) {
        self.event = event
        self.target = target
        self.guards = guards
        self.roles = roles
        self.effects = effects
        self.defaultReason = defaultReason
        self.location = location
    }
}

/// A durable timer: when the instance has stayed in the state for `duration`, the system sends `event`.
public struct TimerDefinition: Sendable, Hashable, Codable {
    public var duration: ISODuration
    public var event: String
    public var location: SourceLocation

    /// A timer that sends `event` once the instance has stayed in the state for `duration`.
    public init(duration: ISODuration, event: String, location: SourceLocation) {
        self.duration = duration
        self.event = event
        self.location = location
    }
}

/// What a state asks of people: who owns the next step and what it is. Drives the task list.
public struct TaskDefinition: Sendable, Hashable, Codable {
    public var owner: Role
    /// What must happen next, in plain words; `{subject}` is replaced by the instance's subject title.
    public var todo: String

    /// A task for `owner`; `todo` may contain `{subject}`.
    public init(owner: Role, todo: String) {
        self.owner = owner
        self.todo = todo
    }
}

/// One state of a workflow.
public struct StateDefinition: Sendable, Hashable, Codable {
    public var name: String
    public var isFinal: Bool
    public var description: String?
    /// Events, in file order, each with its candidate transitions in file order.
    public var events: [String: [Transition]]
    public var eventOrder: [String]
    public var timers: [TimerDefinition]
    /// Effects run on entering the state.
    public var onEnter: [EffectReference]
    public var task: TaskDefinition?
    /// Explanations given when an event is refused in this state, keyed by event (e.g. `map` when `locked`).
    public var refusals: [String: String]
    public var location: SourceLocation

    /// A state with every field given; by default not final, with no events, timers, effects, task or refusals.
    /// `eventOrder` should list the keys of `events`: listing and validation go by it.
    public init(
        name: String, isFinal: Bool = false, description: String? = nil, events: [String: [Transition]] = [:],
        eventOrder: [String] = [], timers: [TimerDefinition] = [], onEnter: [EffectReference] = [],
        task: TaskDefinition? = nil, refusals: [String: String] = [:], location: SourceLocation
    ) {
        self.name = name
        self.isFinal = isFinal
        self.description = description
        self.events = events
        self.eventOrder = eventOrder
        self.timers = timers
        self.onEnter = onEnter
        self.task = task
        self.refusals = refusals
        self.location = location
    }

    /// The events allowed here, in file order.
    public var allowedEvents: [String] { eventOrder }

    /// The events the given role may send here, in file order.
    public func events(allowedFor role: Role) -> [String] {
        eventOrder.filter { event in events[event, default: []].contains { $0.roles.contains(role) } }
    }
}

/// A workflow definition: states, events, guards, effects and timers, read from `Workflows/*.yaml`.
///
/// A definition carries a version. A running instance stays on the version it started on, so the store keeps
/// every version it has seen.
public struct WorkflowDefinition: Sendable, Hashable, Codable {
    public var name: String
    public var version: Int
    public var description: String?
    public var initialState: String
    public var states: [String: StateDefinition]
    /// State names in file order.
    public var stateOrder: [String]
    public var location: SourceLocation

    /// A definition with every field given; `stateOrder` lists the keys of `states` in file order. It is not checked
    /// here: ``WorkflowValidator`` does that.
    public init(
        name: String, version: Int, description: String? = nil, initialState: String,
        states: [String: StateDefinition], stateOrder: [String], location: SourceLocation
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.initialState = initialState
        self.states = states
        self.stateOrder = stateOrder
        self.location = location
    }

    /// `name@version`, the key under which a definition is stored.
    public var key: String { "\(name)@\(version)" }

    /// Every transition in the definition with the state it leaves from, in file order.
    public var allTransitions: [(from: String, transition: Transition)] {
        stateOrder.flatMap { name -> [(from: String, transition: Transition)] in
            guard let state = states[name] else { return [] }
            return state.eventOrder.flatMap { event in state.events[event, default: []].map { (name, $0) } }
        }
    }

    /// Every effect name used anywhere in the definition.
    public var effectNames: Set<String> {
        var names = Set<String>()
        for state in states.values {
            state.onEnter.forEach { names.insert($0.name) }
            state.events.values.joined().forEach { t in t.effects.forEach { names.insert($0.name) } }
        }
        return names
    }
}
