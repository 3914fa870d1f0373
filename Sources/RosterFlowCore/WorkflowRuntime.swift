import Foundation
import StorageCore
import WorkflowEngine

/// The result of one applied event, as stored.
public struct AppliedStep: Sendable, Codable, Equatable {
    public var instanceID: String
    public var workflow: String
    public var event: String
    public var from: String
    public var to: String
    public var actor: String
    public var role: String
    public var at: Double
    public var reason: String?
    public var rowVersion: Int
    /// Steps that this one caused in other instances (e.g. the integration moving when its last course gets content).
    public var followUps: [AppliedStep]
}

/// Who sends an event and why.
public struct Sender: Sendable, Equatable {
    public var actor: String
    public var role: Role

    /// A sender acting as `actor` in `role`.
    public init(actor: String, role: Role) {
        self.actor = actor
        self.role = role
    }

    /// RosterFlow itself (timers, automatic moves).
    public static let system = Sender(actor: "rosterflow", role: .system)
}

/// Runs persisted workflow instances: load → step → write state, history and timers → run effects, all inside the
/// caller's transaction. Knows every stored version of every definition, so an instance stays on its own.
public struct WorkflowRuntime: Sendable {
    /// Every known definition, by name and version.
    public let definitions: [String: [Int: WorkflowDefinition]]
    /// The newest definition of each workflow, by name; new instances start on it.
    public let current: [String: WorkflowDefinition]
    let rules: DomainRules

    init(definitions: [WorkflowDefinition], current: [String: WorkflowDefinition], rules: DomainRules) {
        var byName: [String: [Int: WorkflowDefinition]] = [:]
        for definition in definitions { byName[definition.name, default: [:]][definition.version] = definition }
        self.definitions = byName
        self.current = current
        self.rules = rules
    }

    func definition(for instance: InstanceRecord) throws -> WorkflowDefinition {
        guard let definition = definitions[instance.workflow]?[instance.version] else {
            throw RosterFlowError(
                .workflowDefinition,
                "\(instance.id) runs \(instance.workflow) version \(instance.version), which this database does not hold")
        }
        return definition
    }

    /// Creates an instance of the current version of `workflow` in its initial state, arms its timers and runs
    /// its entry effects. `prepare` runs after the instance row exists and before any effect, to write the
    /// instance's subject (the integration or course row).
    func start(
        _ tx: any StoreTransaction, workflow: String, id: String, subjectTitle: String, sender: Sender, reason: String?,
        payload: [String: String], now: Double, prepare: (any StoreTransaction) throws -> Void = { _ in }
    ) throws -> AppliedStep {
        guard let definition = current[workflow] else {
            throw RosterFlowError(.workflowDefinition, "no workflow named '\(workflow)' is loaded")
        }
        let start = Engine.start(definition: definition)
        let instance = InstanceRecord(
            id: id, workflow: definition.name, version: definition.version, state: start.state, subjectTitle: subjectTitle,
            rowVersion: 1, createdAt: now, enteredAt: now, updatedAt: now)
        try tx.insertInstance(instance)
        try prepare(tx)
        let seq = try tx.appendTransition(
            instanceID: id, from: nil, to: start.state, event: "create", actor: sender.actor, role: sender.role.rawValue,
            at: now, reason: reason, rowVersion: 1)
        for timer in start.timers {
            try tx.armTimer(instanceID: id, event: timer.event, dueAt: now + Double(timer.duration.seconds), armedAt: now, inState: start.state)
        }
        var step = AppliedStep(
            instanceID: id, workflow: definition.name, event: "create", from: "", to: start.state, actor: sender.actor,
            role: sender.role.rawValue, at: now, reason: reason, rowVersion: 1, followUps: [])
        let context = EffectContext(
            tx: tx, runtime: self, instance: instance, event: "create", from: nil, to: start.state, sender: sender,
            reason: reason, payload: payload, transitionSeq: seq, now: now)
        for effect in start.effects {
            step.followUps += try rules.run(effect, context)
        }
        return step
    }

    /// Applies `event` to an instance. Refusals throw and change nothing.
    ///
    /// - Parameter expectedRowVersion: the version the sender based its decision on; a different stored version is
    ///   refused as stale.
    func apply(
        _ tx: any StoreTransaction, instanceID: String, event: String, sender: Sender, reason: String? = nil,
        payload: [String: String] = [:], expectedRowVersion: Int? = nil, now: Double, loaded: InstanceRecord? = nil
    ) throws -> AppliedStep {
        guard let instance = try loaded ?? tx.instance(id: instanceID) else {
            throw RosterFlowError(.notFound, "no workflow instance \(instanceID)")
        }
        if let expectedRowVersion, expectedRowVersion != instance.rowVersion {
            throw RosterFlowError(
                .stale,
                "\(instanceID) changed since you read it (you had version \(expectedRowVersion), it is now at version "
                    + "\(instance.rowVersion) in state '\(instance.state)'); nothing was applied: look again and retry")
        }
        let definition = try definition(for: instance)
        let guards = DomainGuards(tx: tx, instance: instance, payload: payload, rules: rules, now: now)
        let outcome = try Engine.step(
            definition: definition, position: InstancePosition(state: instance.state, previousState: instance.previousState),
            event: event, role: sender.role, reason: reason, guards: guards)
        let entered = outcome.entersState
        let newPrevious = entered && outcome.to != instance.state ? instance.state : instance.previousState
        let rowVersion = try tx.updateInstance(
            id: instance.id, expectedRowVersion: instance.rowVersion, state: outcome.to, previousState: newPrevious,
            enteredAt: entered ? now : instance.enteredAt, now: now)
        let seq = try tx.appendTransition(
            instanceID: instance.id, from: instance.state, to: outcome.to, event: event, actor: sender.actor,
            role: sender.role.rawValue, at: now, reason: outcome.reason, rowVersion: rowVersion)
        if entered {
            // Pending timers are only ever those the current state armed on entry: skip the delete when it has none.
            if definition.states[instance.state]?.timers.isEmpty == false {
                try tx.cancelTimers(instanceID: instance.id)
            }
            for timer in outcome.timers {
                try tx.armTimer(
                    instanceID: instance.id, event: timer.event, dueAt: now + Double(timer.duration.seconds), armedAt: now,
                    inState: outcome.to)
            }
        }
        var updated = instance
        updated.state = outcome.to
        updated.previousState = newPrevious
        updated.rowVersion = rowVersion
        var step = AppliedStep(
            instanceID: instance.id, workflow: instance.workflow, event: event, from: instance.state, to: outcome.to,
            actor: sender.actor, role: sender.role.rawValue, at: now, reason: outcome.reason, rowVersion: rowVersion,
            followUps: [])
        if !outcome.effects.isEmpty {
            let context = EffectContext(
                tx: tx, runtime: self, instance: updated, event: event, from: instance.state, to: outcome.to,
                sender: sender, reason: outcome.reason, payload: payload, transitionSeq: seq, now: now)
            for effect in outcome.effects {
                step.followUps += try rules.run(effect, context)
            }
        }
        return step
    }

    /// The role that normally sends `event` to this instance now: the first role the definition names for it.
    func defaultRole(for event: String, instance: InstanceRecord) throws -> Role? {
        let definition = try definition(for: instance)
        if let here = definition.states[instance.state]?.events[event]?.first?.roles.first { return here }
        // Not allowed here: answer as the role that sends it elsewhere, so the refusal speaks to the right person.
        return definition.allTransitions.first { $0.transition.event == event }?.transition.roles.first
    }
}
