import Foundation
import Yams

/// A condition that decides between the targets of a split state in a migration plan.
///
/// A small closed set, implemented in Swift like guards: a guard the domain implements (by name), or how long the
/// instance has been in its state or has existed.
public enum MigrationCondition: Sendable, Hashable, Codable, CustomStringConvertible {
    /// A guard of the domain (e.g. `all_courses_have_content`) passes for the instance.
    case guardPasses(String)
    /// The instance entered its current state longer ago than the duration (`in_state_over P3D`).
    case inStateOver(ISODuration)
    /// The instance was created longer ago than the duration (`age_over P30D`).
    case ageOver(ISODuration)

    /// Reads `in_state_over P3D`, `age_over P30D` or a guard name; nil when the text is none of them.
    public init?(parsing text: String, knownGuards: Set<String>?) {
        let words = text.split(separator: " ").map(String.init)
        if words.count == 2, let duration = ISODuration(words[1]) {
            switch words[0] {
            case "in_state_over": self = .inStateOver(duration); return
            case "age_over": self = .ageOver(duration); return
            default: return nil
            }
        }
        guard words.count == 1 else { return nil }
        if let knownGuards, !knownGuards.contains(words[0]) { return nil }
        self = .guardPasses(words[0])
    }

    public var description: String {
        switch self {
        case let .guardPasses(name): name
        case let .inStateOver(duration): "in_state_over \(duration)"
        case let .ageOver(duration): "age_over \(duration)"
        }
    }
}

/// Where instances of one old state go: the first target whose condition holds (the last has none).
public struct StateMapping: Sendable, Hashable, Codable {
    /// One target of a mapping, taken when its condition holds (nil: always).
    public struct Target: Sendable, Hashable, Codable {
        public var state: String
        public var condition: MigrationCondition?
        public var location: SourceLocation

        /// A target state, taken when `condition` holds (always when nil).
        public init(state: String, condition: MigrationCondition? = nil, location: SourceLocation) {
            self.state = state
            self.condition = condition
            self.location = location
        }
    }

    public var from: String
    public var targets: [Target]
    public var location: SourceLocation

    /// The targets of old state `from`, in order.
    public init(from: String, targets: [Target], location: SourceLocation) {
        self.from = from
        self.targets = targets
        self.location = location
    }
}

/// What a migration does with an instance's pending timers.
public enum TimerPolicy: String, Sendable, Hashable, Codable {
    /// Re-arm the new state's timers counting from when the instance entered its state (time already waited counts);
    /// a timer the old state had and that already fired is not armed again.
    case keep
    /// Re-arm the new state's timers counting from the migration.
    case restart
}

/// A plan that moves running instances of a workflow from one definition version to another, read from
/// `Workflows/migrations/*.yaml`:
/// ```yaml
/// plan: integration-6-to-7
/// workflow: integration
/// from: 6
/// to: 7
/// states:                          # old → new; a state not listed keeps its name
///   awaiting: awaiting_school      # a rename
///   mapped:                        # a split: the first target whose condition holds
///     - { to: mapped_late, when: in_state_over P7D }
///     - { to: mapped }
/// timers: keep                     # keep (count the time already waited) or restart
/// only: { states: [mapped], min_age: P1D, max_age: P365D }   # which instances may move (optional)
/// notify: { to: vendor_admins, template: workflow-migrated }  # optional; none by default
/// ```
public struct MigrationPlan: Sendable, Hashable, Codable {
    /// The plan's name (recorded in history); the file name without `.yaml` when `plan:` is not given.
    public var name: String
    public var workflow: String
    public var fromVersion: Int
    public var toVersion: Int
    /// Explicit mappings by old state name; states not listed keep their name.
    public var mappings: [String: StateMapping]
    public var timers: TimerPolicy
    /// Only instances in these old states move (nil: any state).
    public var onlyStates: [String]?
    /// Only instances created at least / at most this long ago move.
    public var minAge: ISODuration?
    public var maxAge: ISODuration?
    /// A notification to send per migrated instance (`to`, `template`), none when nil.
    public var notify: [String: String]?
    public var location: SourceLocation

    /// A plan with every field given.
    public init(
        name: String, workflow: String, fromVersion: Int, toVersion: Int, mappings: [String: StateMapping] = [:],
        timers: TimerPolicy = .keep, onlyStates: [String]? = nil, minAge: ISODuration? = nil, maxAge: ISODuration? = nil,
        notify: [String: String]? = nil, location: SourceLocation
    ) {
        self.name = name
        self.workflow = workflow
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.mappings = mappings
        self.timers = timers
        self.onlyStates = onlyStates
        self.minAge = minAge
        self.maxAge = maxAge
        self.notify = notify
        self.location = location
    }

    /// The targets of an old state: its mapping, or the same name.
    public func targets(of state: String) -> [StateMapping.Target] {
        mappings[state]?.targets ?? [StateMapping.Target(state: state, location: location)]
    }

    /// Reads a plan, collecting every structural problem; conditions are checked against `knownGuards` (nil: any).
    public static func parse(yaml text: String, file: String, knownGuards: Set<String>? = nil) -> (plan: MigrationPlan?, problems: [WorkflowProblem]) {
        var problems = AliasScanner.scan(text, file: file)
        if problems.isEmpty { problems = DuplicateKeyScanner.scan(text, file: file) }
        if !problems.isEmpty { return (nil, problems) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            return (nil, [WorkflowProblem(.yamlSyntax, at: .init(file: file, line: 0), "YAML: \(error)")])
        }
        var parser = PlanParser(file: file, knownGuards: knownGuards)
        let plan = parser.parse(root)
        return (parser.problems.isEmpty ? plan : nil, parser.problems)
    }

    /// Reads and parses one plan file.
    public static func load(file path: String, knownGuards: Set<String>? = nil) -> (plan: MigrationPlan?, problems: [WorkflowProblem]) {
        do {
            return parse(yaml: try String(contentsOfFile: path, encoding: .utf8), file: path, knownGuards: knownGuards)
        } catch {
            return (nil, [WorkflowProblem(.yamlSyntax, at: .init(file: path, line: 0), "cannot read file: \(error.localizedDescription)")])
        }
    }

    /// Every problem of the plan against the two versions it names: each old state maps to states the new version
    /// defines (a state not listed keeps its name, so it must exist there), a split ends with an unconditional target,
    /// final states map to final states and no other state does, and an instance is never left where it cannot leave.
    public func validate(from old: WorkflowDefinition, to new: WorkflowDefinition) -> [WorkflowProblem] {
        var problems: [WorkflowProblem] = []
        for (name, mapping) in mappings.sorted(by: { $0.key < $1.key }) where old.states[name] == nil {
            problems.append(WorkflowProblem(
                .unknownSourceState, at: mapping.location, state: name,
                "\(old.key) has no state '\(name)'; map the states it has: \(old.stateOrder.joined(separator: ", "))"))
        }
        for name in onlyStates ?? [] where old.states[name] == nil {
            problems.append(WorkflowProblem(
                .unknownSourceState, at: location, state: name, "`only.states` names '\(name)', which \(old.key) does not define"))
        }
        for name in old.stateOrder {
            guard let oldState = old.states[name] else { continue }
            let targets = targets(of: name)
            for target in targets {
                guard let newState = new.states[target.state] else {
                    problems.append(WorkflowProblem(
                        mappings[name] == nil ? .unmappedState : .unknownTargetState, at: target.location, state: name,
                        mappings[name] == nil
                            ? "\(new.key) has no state '\(name)'; map it: `\(name): NEW_STATE` under `states:` (\(new.key) has \(new.stateOrder.joined(separator: ", ")))"
                            : "maps '\(name)' to '\(target.state)', which \(new.key) does not define"))
                    continue
                }
                if oldState.isFinal != newState.isFinal {
                    problems.append(WorkflowProblem(
                        .finalStateMoved, at: target.location, state: name,
                        oldState.isFinal
                            ? "'\(name)' is final in \(old.key); final states stay final, map it to a final state"
                            : "maps '\(name)' to final state '\(target.state)'; an instance on its way may not be ended by a migration"))
                } else if !newState.isFinal, newState.eventOrder.isEmpty {
                    problems.append(WorkflowProblem(
                        .deadEnd, at: target.location, state: name,
                        "maps '\(name)' to '\(target.state)', which accepts no event in \(new.key): its instances could never leave"))
                }
            }
            if let last = targets.last, last.condition != nil {
                problems.append(WorkflowProblem(
                    .missingField, at: last.location, state: name,
                    "the last target of '\(name)' has a condition; end the split with an unconditional `{ to: STATE }`"))
            }
        }
        return problems
    }
}

/// An instance as the migration planner needs it.
public struct MigrationSubject: Sendable, Equatable {
    public var state: String
    public var previousState: String?
    public var createdAt: Double
    public var enteredAt: Double
    /// Pending timers: event and due time.
    public var timers: [MigrationMove.TimerAfter]

    /// An instance in `state` since `enteredAt`, created at `createdAt`, with its pending timers.
    public init(state: String, previousState: String?, createdAt: Double, enteredAt: Double, timers: [MigrationMove.TimerAfter]) {
        self.state = state
        self.previousState = previousState
        self.createdAt = createdAt
        self.enteredAt = enteredAt
        self.timers = timers
    }
}

/// Where one instance goes: its new state and previous state, and the timers to arm (event, due time).
public struct MigrationMove: Sendable, Equatable {
    public var state: String
    public var previousState: String?
    public var timers: [TimerAfter]
    /// The condition that chose the target of a split, when one did.
    public var condition: String?

    /// A timer to arm after the move.
    public struct TimerAfter: Sendable, Equatable, Codable {
        public var event: String
        public var dueAt: Double

        /// A timer sending `event` at `dueAt`.
        public init(event: String, dueAt: Double) {
            self.event = event
            self.dueAt = dueAt
        }
    }
}

/// The pure part of a migration: no I/O, no clock.
public enum MigrationPlanner {
    /// Why an instance does not move, or nil when it may.
    public static func exclusion(plan: MigrationPlan, old: WorkflowDefinition, subject: MigrationSubject, now: Double) -> String? {
        if old.states[subject.state]?.isFinal == true { return "it is in final state '\(subject.state)', which stays" }
        if let only = plan.onlyStates, !only.contains(subject.state) {
            return "the plan moves only instances in \(only.joined(separator: ", ")); it is in '\(subject.state)'"
        }
        let age = now - subject.createdAt
        if let minAge = plan.minAge, age < Double(minAge.seconds) { return "it is younger than the plan's min_age \(minAge)" }
        if let maxAge = plan.maxAge, age > Double(maxAge.seconds) { return "it is older than the plan's max_age \(maxAge)" }
        return nil
    }

    /// Decides where an instance goes. `guardPasses` answers the guard conditions of a split.
    public static func move(
        plan: MigrationPlan, old: WorkflowDefinition, new: WorkflowDefinition, subject: MigrationSubject, now: Double,
        guardPasses: (String) throws -> Bool
    ) throws -> MigrationMove {
        var chosen = plan.targets(of: subject.state).last?.state ?? subject.state
        var because: String?
        for target in plan.targets(of: subject.state) {
            guard let condition = target.condition else { chosen = target.state; break }
            let holds: Bool
            switch condition {
            case let .guardPasses(name): holds = try guardPasses(name)
            case let .inStateOver(d): holds = now - subject.enteredAt > Double(d.seconds)
            case let .ageOver(d): holds = now - subject.createdAt > Double(d.seconds)
            }
            if holds { chosen = target.state; because = condition.description; break }
        }
        let previous = subject.previousState.flatMap { plan.targets(of: $0).last?.state }.flatMap { new.states[$0] == nil ? nil : $0 }
        let oldTimers = old.states[subject.state]?.timers ?? []
        var timers: [MigrationMove.TimerAfter] = []
        for timer in new.states[chosen]?.timers ?? [] {
            switch plan.timers {
            case .restart:
                timers.append(.init(event: timer.event, dueAt: now + Double(timer.duration.seconds)))
            case .keep:
                // The old state's timer for the same event already fired: the instance had it; do not send it twice.
                let hadIt = oldTimers.contains { $0.event == timer.event }
                if hadIt, !subject.timers.contains(where: { $0.event == timer.event }) { continue }
                timers.append(.init(event: timer.event, dueAt: subject.enteredAt + Double(timer.duration.seconds)))
            }
        }
        return MigrationMove(state: chosen, previousState: previous, timers: timers.sorted { $0.dueAt < $1.dueAt }, condition: because)
    }
}

/// Reads a plan's YAML tree, recording a problem with its line for anything malformed.
struct PlanParser {
    let file: String
    let knownGuards: Set<String>?
    var problems: [WorkflowProblem] = []

    private func at(_ node: Node?) -> SourceLocation { SourceLocation(file: file, line: node?.mark?.line ?? 0) }

    private mutating func problem(_ code: WorkflowProblem.Code, _ node: Node?, state: String? = nil, _ message: String) {
        problems.append(WorkflowProblem(code, at: at(node), state: state, message))
    }

    private mutating func pairs(_ node: Node?, what: String, allowed: [String]? = nil) -> [(key: String, keyNode: Node, value: Node)] {
        guard let node else { return [] }
        guard case let .mapping(map) = node else {
            problem(.badValue, node, "\(what) must be a mapping of `key: value` lines")
            return []
        }
        let result = map.map { (key: $0.key.string ?? "", keyNode: $0.key, value: $0.value) }
        if let allowed {
            for pair in result where !allowed.contains(pair.key) {
                problem(.unknownKey, pair.keyNode, "unknown key '\(pair.key)' in \(what); allowed: \(allowed.joined(separator: ", "))")
            }
        }
        return result
    }

    private mutating func duration(_ node: Node?, key: String) -> ISODuration? {
        guard let node else { return nil }
        guard let text = node.string, let duration = ISODuration(text) else {
            problem(.badDuration, node, "\(key) '\(node.string ?? "?")' is not a duration; write ISO 8601 like P3D or PT12H")
            return nil
        }
        return duration
    }

    mutating func parse(_ root: Node?) -> MigrationPlan? {
        guard let root else {
            problem(.missingField, nil, "the file is empty; a plan needs `workflow`, `from`, `to`")
            return nil
        }
        let top = pairs(root, what: "a migration plan", allowed: ["plan", "workflow", "from", "to", "states", "timers", "only", "notify", "description"])
        let lookup = Dictionary(top.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let workflow = lookup["workflow"]?.string ?? ""
        if workflow.isEmpty { problem(.missingField, root, "missing `workflow: NAME`") }
        var versions: [Int] = []
        for key in ["from", "to"] {
            if let node = lookup[key], let v = node.int, v > 0 { versions.append(v) } else {
                problem(lookup[key] == nil ? .missingField : .badValue, lookup[key] ?? root,
                        "`\(key): N` must be a definition version (a whole number ≥ 1)")
                versions.append(0)
            }
        }
        if versions[0] > 0, versions[0] == versions[1] {
            problem(.badValue, lookup["to"], "`from` and `to` are both \(versions[0]); a plan moves instances between two versions")
        }
        let fileName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        var plan = MigrationPlan(
            name: lookup["plan"]?.string ?? fileName, workflow: workflow, fromVersion: versions[0], toVersion: versions[1],
            location: at(root))
        for pair in pairs(lookup["states"], what: "`states`") {
            plan.mappings[pair.key] = StateMapping(from: pair.key, targets: targets(pair.value, from: pair.key), location: at(pair.keyNode))
        }
        if let node = lookup["timers"] {
            if let policy = node.string.flatMap(TimerPolicy.init(rawValue:)) { plan.timers = policy } else {
                problem(.badValue, node, "timers must be `keep` (count the time already waited) or `restart`")
            }
        }
        let only = pairs(lookup["only"], what: "`only`", allowed: ["states", "min_age", "max_age"])
        for pair in only {
            switch pair.key {
            case "states":
                switch pair.value {
                case .scalar: plan.onlyStates = [pair.value.string ?? ""]
                case let .sequence(items): plan.onlyStates = items.map { $0.string ?? "" }
                default: problem(.badValue, pair.value, "`only.states` must be a state or a list of states")
                }
            case "min_age": plan.minAge = duration(pair.value, key: "min_age")
            case "max_age": plan.maxAge = duration(pair.value, key: "max_age")
            default: break
            }
        }
        if let node = lookup["notify"] {
            if node.string == "none" { plan.notify = nil } else {
                let fields = pairs(node, what: "`notify`", allowed: ["to", "template"])
                var notify: [String: String] = [:]
                for pair in fields { notify[pair.key] = pair.value.string ?? "" }
                if notify["template"]?.isEmpty ?? true {
                    problem(.missingField, node, "`notify` names a template: `notify: { to: vendor_admins, template: NAME }`")
                }
                plan.notify = notify
            }
        }
        return plan
    }

    private mutating func targets(_ node: Node, from state: String) -> [StateMapping.Target] {
        switch node {
        case .scalar:
            guard let name = node.string, !name.isEmpty else {
                problem(.badValue, node, state: state, "map '\(state)' to a state name")
                return []
            }
            return [StateMapping.Target(state: name, location: at(node))]
        case let .sequence(items):
            var result: [StateMapping.Target] = []
            for item in items {
                let fields = pairs(item, what: "a target of '\(state)'", allowed: ["to", "when"])
                let lookup = Dictionary(fields.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                guard let to = lookup["to"]?.string, !to.isEmpty else {
                    problem(.missingField, item, state: state, "a target of '\(state)' needs `to: STATE`")
                    continue
                }
                var condition: MigrationCondition?
                if let when = lookup["when"] {
                    let text = when.string ?? ""
                    condition = MigrationCondition(parsing: text, knownGuards: knownGuards)
                    if condition == nil {
                        let guards = knownGuards.map { ", or a guard: " + $0.sorted().joined(separator: ", ") } ?? ", or a guard name"
                        problem(.unknownCondition, when, state: state,
                                "'\(text)' is not a condition; use `in_state_over P3D`, `age_over P30D`\(guards)")
                    }
                }
                result.append(StateMapping.Target(state: to, condition: condition, location: at(item)))
            }
            if result.isEmpty { problem(.badValue, node, state: state, "'\(state)' lists no targets") }
            return result
        default:
            problem(.badValue, node, state: state, "map '\(state)' to a state name or a list of `{ to: STATE, when: CONDITION }`")
            return []
        }
    }
}
