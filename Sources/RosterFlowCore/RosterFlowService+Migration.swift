import Foundation
import StorageCore
import WorkflowEngine

/// A timer as a migration report shows it: the event it sends and when.
public struct MigrationTimerView: Sendable, Codable, Equatable {
    public var event: String
    /// ISO 8601 UTC.
    public var dueAt: String
}

/// One instance in a migration report.
public struct MigrationItem: Sendable, Codable, Equatable {
    /// What happened (or, in a dry run, would happen) to one instance.
    public enum Outcome: String, Sendable, Codable {
        /// Moved to the plan's version (a dry run: would be).
        case migrated
        case wouldMigrate = "would-migrate"
        /// Already on the plan's version: nothing to do.
        case alreadyMigrated = "already-migrated"
        /// Not moved: in a final state, outside the plan's `only` filter, or changed under the migration.
        case refused
    }

    public var id: String
    public var subject: String
    public var version: Int
    public var state: String
    public var outcome: Outcome
    /// The state it goes to (nil when it does not move).
    public var target: String?
    /// The condition that chose the target of a split state.
    public var condition: String?
    public var timersBefore: [MigrationTimerView]
    public var timersAfter: [MigrationTimerView]
    /// Why it does not move, for `refused`.
    public var reason: String?
}

/// What `workflows migrate` did (or would do), instance by instance.
public struct MigrationReport: Sendable, Codable, Equatable {
    public var plan: String
    public var workflow: String
    public var from: Int
    public var to: Int
    public var dryRun: Bool
    public var timers: String
    public var migrated: Int
    public var alreadyMigrated: Int
    public var refused: Int
    public var instances: [MigrationItem]

    /// One line a person reads first.
    public var summary: String {
        let verb = dryRun ? "would migrate" : "migrated"
        var text = "\(plan): \(workflow) \(from) → \(to): \(verb) \(migrated), refused \(refused), already on \(to) \(alreadyMigrated)"
        if !dryRun, migrated == 0 { text += "; nothing to do" }
        return text
    }
}

/// A workflow, each version the database holds, and how many instances run it.
public struct WorkflowVersionsView: Sendable, Codable, Equatable {
    /// One version of a workflow with its instance count.
    public struct Version: Sendable, Codable, Equatable {
        public var version: Int
        public var current: Bool
        public var instances: Int
    }

    public var name: String
    public var versions: [Version]
}

extension RosterFlowService {
    /// Every workflow with every version the database holds, the current one marked, and a count of instances per version.
    ///
    /// - Parameter includes: when given, only instances of the districts (tenant ids) it accepts are counted, so a
    ///   district's people see their own instances, not the vendor's whole book.
    public func workflowVersions(includes: ((String) -> Bool)? = nil) throws -> [WorkflowVersionsView] {
        let counts = try read { tx -> [InstanceVersionCount] in
            guard let includes else { return try tx.instanceVersionCounts() }
            var tally: [String: [Int: Int]] = [:]
            for workflow in runtime.definitions.keys {
                for instance in try tx.instances(workflow: workflow, states: nil) {
                    let integrationID = try tx.course(id: instance.id)?.integrationID ?? instance.id
                    guard let tenant = try tx.integration(id: integrationID)?.tenantID, includes(tenant) else { continue }
                    tally[workflow, default: [:]][instance.version, default: 0] += 1
                }
            }
            return tally.flatMap { workflow, versions in
                versions.map { InstanceVersionCount(workflow: workflow, version: $0.key, instances: $0.value) }
            }
        }
        return runtime.definitions.keys.sorted().map { name in
            let versions = (runtime.definitions[name] ?? [:]).keys.sorted().map { version in
                WorkflowVersionsView.Version(
                    version: version, current: runtime.current[name]?.version == version,
                    instances: counts.first { $0.workflow == name && $0.version == version }?.instances ?? 0)
            }
            return WorkflowVersionsView(name: name, versions: versions)
        }
    }

    /// Reads a migration plan from YAML text and checks it against the two versions it names, each of which must be
    /// loaded from the definitions folder or stored in the database.
    ///
    /// - Throws: ``WorkflowValidationError`` listing every problem with its file and line.
    public func migrationPlan(yaml text: String, file: String) throws -> MigrationPlan {
        let (plan, problems) = MigrationPlan.parse(yaml: text, file: file, knownGuards: DomainRules.guardNames)
        guard let plan, problems.isEmpty else { throw WorkflowValidationError(problems: problems) }
        let more = Self.validate(plan, definitions: runtime.definitions)
        if !more.isEmpty { throw WorkflowValidationError(problems: more) }
        return plan
    }

    /// Reads a plan file, its conditions checked against the guards RosterFlow implements.
    public static func loadMigrationPlan(file: String) -> (plan: MigrationPlan?, problems: [WorkflowProblem]) {
        MigrationPlan.load(file: file, knownGuards: DomainRules.guardNames)
    }

    /// Every problem of `plan` against the versions in `definitions`; an unknown workflow or version is one.
    public static func validate(_ plan: MigrationPlan, definitions: [String: [Int: WorkflowDefinition]]) -> [WorkflowProblem] {
        var problems: [WorkflowProblem] = []
        var pair: [WorkflowDefinition] = []
        for version in [plan.fromVersion, plan.toVersion] {
            if let definition = definitions[plan.workflow]?[version] { pair.append(definition) } else {
                let known = (definitions[plan.workflow] ?? [:]).keys.sorted().map(String.init).joined(separator: ", ")
                problems.append(WorkflowProblem(
                    .unknownVersion, at: plan.location,
                    "\(plan.workflow)@\(version) is neither in the definitions folder nor in the database"
                        + (known.isEmpty ? " (no workflow '\(plan.workflow)' is known)" : " (known versions: \(known))")))
            }
        }
        guard problems.isEmpty else { return problems }
        return plan.validate(from: pair[0], to: pair[1])
    }

    /// Moves the instances of the plan's workflow that run its `from` version to its `to` version, each in its own
    /// transaction, or (with `dryRun`) says what it would do without changing anything.
    ///
    /// Each move writes the instance's version, state and row version (refused if the instance changed since it was
    /// read), a history row `migrated N → M` with the sender and the plan's name, and the new state's timers; the
    /// plan's notification, if it names one. Instances already on `to` are left (a second run does nothing);
    /// instances in final states and outside the plan's filter are refused with the reason.
    ///
    /// - Parameters:
    ///   - only: instance ids to consider (nil: every instance of the workflow).
    ///   - beforeEach: called before each instance's transaction (tests use it to interleave a transition).
    public func migrate(
        _ plan: MigrationPlan, dryRun: Bool, only: [String]? = nil, sender: Sender,
        beforeEach: (String) throws -> Void = { _ in }, progress: (MigrationItem) -> Void = { _ in }
    ) throws -> MigrationReport {
        guard sender.role == .vendorAdmin || sender.role == .system else {
            throw RosterFlowError(
                .refused, "migrating workflow instances is for the vendor admin, not the \(sender.role.displayName); "
                    + "ask a vendor admin, or act as one (--as vendor-admin)")
        }
        let problems = Self.validate(plan, definitions: runtime.definitions)
        if !problems.isEmpty { throw RosterFlowError.wrap(WorkflowValidationError(problems: problems)) }
        let listed = try read { tx in try tx.instances(workflow: plan.workflow, states: nil) }
        if let only {
            let known = Set(listed.map(\.id))
            if let missing = only.first(where: { !known.contains($0) }) {
                throw RosterFlowError(.notFound, "no \(plan.workflow) instance \(missing); `--only` takes ids of that workflow's instances")
            }
        }
        let chosen = listed.filter { only?.contains($0.id) ?? true }
            .filter { $0.version == plan.fromVersion || $0.version == plan.toVersion }
        var report = MigrationReport(
            plan: plan.name, workflow: plan.workflow, from: plan.fromVersion, to: plan.toVersion, dryRun: dryRun,
            timers: plan.timers.rawValue, migrated: 0, alreadyMigrated: 0, refused: 0, instances: [])
        for instance in chosen {
            let item: MigrationItem
            if dryRun {
                item = try read { tx in try self.migrateOne(tx, plan: plan, id: instance.id, listed: instance, apply: false, sender: sender) }
            } else {
                try beforeEach(instance.id)
                do {
                    item = try store.writeNow { tx in
                        try self.migrateOne(tx, plan: plan, id: instance.id, listed: instance, apply: true, sender: sender)
                    }
                } catch {
                    throw RosterFlowError.wrap(error)
                }
            }
            switch item.outcome {
            case .migrated, .wouldMigrate: report.migrated += 1
            case .alreadyMigrated: report.alreadyMigrated += 1
            case .refused: report.refused += 1
            }
            progress(item)
            report.instances.append(item)
        }
        return report
    }

    /// Plans (and with `apply`, makes) the move of one instance inside `tx`, from the instance as stored now.
    private func migrateOne(
        _ tx: any StoreTransaction, plan: MigrationPlan, id: String, listed: InstanceRecord, apply: Bool, sender: Sender
    ) throws -> MigrationItem {
        guard let instance = try tx.instance(id: id) else {
            throw RosterFlowError(.notFound, "\(id) disappeared during the migration")
        }
        let pending = try tx.timers(instanceID: id)
        let before = pending.map { MigrationTimerView(event: $0.event, dueAt: Timestamp.iso($0.dueAt)) }
        var item = MigrationItem(
            id: id, subject: instance.subjectTitle, version: instance.version, state: instance.state,
            outcome: .refused, target: nil, condition: nil, timersBefore: before, timersAfter: before, reason: nil)
        if instance.version == plan.toVersion {
            item.outcome = .alreadyMigrated
            return item
        }
        guard instance.version == plan.fromVersion,
              let old = runtime.definitions[plan.workflow]?[plan.fromVersion],
              let new = runtime.definitions[plan.workflow]?[plan.toVersion]
        else {
            item.reason = "it runs version \(instance.version), the plan moves version \(plan.fromVersion)"
            return item
        }
        let now = clock()
        let subject = MigrationSubject(
            state: instance.state, previousState: instance.previousState, createdAt: instance.createdAt,
            enteredAt: instance.enteredAt, timers: pending.map { .init(event: $0.event, dueAt: $0.dueAt) })
        if let why = MigrationPlanner.exclusion(plan: plan, old: old, subject: subject, now: now) {
            item.reason = why
            return item
        }
        let move = try MigrationPlanner.move(plan: plan, old: old, new: new, subject: subject, now: now) { name in
            if case .pass = try runtime.rules.evaluate(guard: name, tx: tx, instance: instance) { return true }
            return false
        }
        item.target = move.state
        item.condition = move.condition
        item.timersAfter = move.timers.map { MigrationTimerView(event: $0.event, dueAt: Timestamp.iso($0.dueAt)) }
        item.outcome = apply ? .migrated : .wouldMigrate
        if instance.rowVersion != listed.rowVersion {
            item.reason = "it changed while the migration ran (row version \(listed.rowVersion) → \(instance.rowVersion)); "
                + "moved from its state now"
        }
        guard apply else { return item }
        let rowVersion = try tx.migrateInstance(
            id: id, expectedRowVersion: instance.rowVersion, fromVersion: plan.fromVersion, toVersion: plan.toVersion,
            state: move.state, previousState: move.previousState, now: now)
        let seq = try tx.appendTransition(
            instanceID: id, from: instance.state, to: move.state,
            event: "migrated \(plan.fromVersion) → \(plan.toVersion)", actor: sender.actor, role: sender.role.rawValue,
            at: now, reason: "plan \(plan.name)" + (move.condition.map { " (\($0))" } ?? ""), rowVersion: rowVersion)
        try tx.cancelTimers(instanceID: id)
        for timer in move.timers {
            try tx.armTimer(instanceID: id, event: timer.event, dueAt: timer.dueAt, armedAt: now, inState: move.state)
        }
        if let notify = plan.notify {
            var updated = instance
            updated.version = plan.toVersion
            updated.state = move.state
            updated.rowVersion = rowVersion
            let context = EffectContext(
                tx: tx, runtime: runtime, instance: updated, event: "migrated", from: instance.state, to: move.state,
                sender: sender, reason: "plan \(plan.name)", payload: [:], transitionSeq: seq, now: now)
            _ = try runtime.rules.run(EffectReference(name: "notify", parameters: notify, location: plan.location), context)
        }
        return item
    }
}
