import Foundation
import StorageCore
import WorkflowEngine

/// What an effect sees: the open transaction, the instance after the transition, and the event's details.
struct EffectContext {
    let tx: any StoreTransaction
    let runtime: WorkflowRuntime
    let instance: InstanceRecord
    let event: String
    let from: String?
    let to: String
    let sender: Sender
    let reason: String?
    let payload: [String: String]
    let transitionSeq: Int64?
    let now: Double

    /// What a notification of this transition needs.
    var notice: NoticeContext {
        NoticeContext(tx: tx, instance: instance, event: event, from: from, to: to, reason: reason, payload: payload,
                      transitionSeq: transitionSeq, now: now)
    }
}

/// What a notification sees: a transition's effect context without the runtime, so that a notice outside any
/// transition (a sync's finding) can be written too.
struct NoticeContext {
    let tx: any StoreTransaction
    let instance: InstanceRecord
    let event: String
    let from: String?
    let to: String
    let reason: String?
    let payload: [String: String]
    let transitionSeq: Int64?
    let now: Double
}

/// The guards and effects that workflow YAML may name, implemented in Swift.
///
/// A definition cannot run arbitrary code: it can only name entries of these registries, and an unknown name is a
/// load-time error.
public struct DomainRules: Sendable {
    /// States of the course-mapping workflow in which a course counts as having content.
    static let contentStates = [DomainVocabulary.CourseMapping.State.contentAdded, DomainVocabulary.CourseMapping.State.locked]
    /// Integration states in which new courses count as "added after start-up".
    static let startedStates = [DomainVocabulary.Integration.State.contentMapped, DomainVocabulary.Integration.State.live]

    static let guardNames: Set<String> = Set(["existing_customer", "registry_matches", "all_courses_have_content"]).union(OnDemand.guardNames)
    static let effectNames: Set<String> = Set([
        "notify", "store_schedule", "store_mapping", "record_lock", "announce_course", "check_integration_content",
        "withdraw_content",
    ]).union(OnDemand.effectNames)

    /// The validator that checks definitions against these registries and the names of ``DomainVocabulary``.
    public static var validator: WorkflowValidator {
        WorkflowValidator(knownGuards: guardNames, knownEffects: effectNames, requiredNames: DomainVocabulary.required)
    }

    /// The validator for versions already stored in a database: they were checked when they were loaded, and
    /// instances that run on them must keep running, so the vocabulary is not checked again.
    static var storedValidator: WorkflowValidator {
        WorkflowValidator(knownGuards: guardNames, knownEffects: effectNames)
    }

    func evaluate(guard name: String, tx: any StoreTransaction, instance: InstanceRecord) throws -> GuardVerdict {
        switch name {
        case "existing_customer":
            guard let integration = try tx.integration(id: instance.id) else {
                return .refuse("\(instance.id) is not an integration")
            }
            if try tx.customer(tenantID: integration.tenantID) != nil { return .pass }
            // Stored as the rejection reason and sent to the school: it says what happened, not how to operate us.
            return .refuse("tenant '\(integration.tenantID)' (\(integration.district)) is not in the customer registry")
        case "registry_matches":
            // The tenant is a customer, its district and contact domain match the registry, and it has no other open
            // integration (see RegistryComparison); else every difference, stored as the reason of the fallback.
            guard let integration = try tx.integration(id: instance.id) else {
                return .refuse("\(instance.id) is not an integration")
            }
            let comparison = try RegistryComparison.compare(integration, tx: tx)
            return comparison.matches ? .pass : .refuse(comparison.problems.joined(separator: "; "))
        case "all_courses_have_content":
            let counts = try tx.courseCounts(integrationID: instance.id, notIn: Self.contentStates)
            if counts.total == 0 { return .refuse("the integration has no courses yet") }
            if counts.outside == 0 { return .pass }
            return .refuse("\(counts.outside) of \(counts.total) courses still need content")
        default:
            return .refuse("guard '\(name)' is not implemented")
        }
    }

    /// Runs one effect; returns the steps it caused in other instances.
    func run(_ effect: EffectReference, _ context: EffectContext) throws -> [AppliedStep] {
        let tx = context.tx
        switch effect.name {
        case "notify":
            try notify(
                recipient: effect.parameters["to"] ?? "vendor_admins", template: effect.parameters["template"] ?? "generic",
                context.notice)
            return []
        case "store_schedule":
            guard let time = context.payload["sync_time"], let zone = context.payload["timezone"],
                  let next = context.payload["next_sync_at"].flatMap(Double.init)
            else { throw RosterFlowError(.invalidInput, "a schedule needs a time and a time zone") }
            try tx.updateSchedule(integrationID: context.instance.id, syncTime: time, timezone: zone, nextSyncAt: next)
            return []
        case "store_mapping":
            guard let catalog = context.payload["catalog"], let base = context.payload["base_id"] else {
                throw RosterFlowError(.invalidInput, "a mapping needs a catalog course and a base id")
            }
            try tx.updateMapping(courseID: context.instance.id, catalogTitle: catalog, baseID: base)
            return []
        case "record_lock":
            try tx.markLocked(courseID: context.instance.id, at: context.now)
            return []
        case "announce_course":
            return try announceCourse(context)
        case "check_integration_content":
            guard let progress = try tx.integrationProgress(courseID: context.instance.id, notIn: Self.contentStates),
                  progress.state == DomainVocabulary.Integration.State.shellsCreated, !progress.anyOutside
            else { return [] }
            return [try context.runtime.apply(
                tx, instanceID: progress.integrationID, event: DomainVocabulary.Integration.Event.allContentMapped, sender: .system,
                reason: "every course has content (the last was \(context.instance.subjectTitle))", now: context.now)]
        case "withdraw_content":
            return try withdrawContent(context)
        case _ where OnDemand.effectNames.contains(effect.name):
            return try OnDemand.run(effect, context)
        default:
            throw RosterFlowError(.workflowDefinition, "effect '\(effect.name)' is not implemented")
        }
    }

    /// Writes a notification about `instance` outside any workflow effect (e.g. a sync's finding), in the caller's
    /// transaction.
    func enqueue(
        template: String, recipient: String, tx: any StoreTransaction, instance: InstanceRecord, reason: String,
        payload: [String: String] = [:], now: Double
    ) throws {
        try notify(recipient: recipient, template: template, NoticeContext(
            tx: tx, instance: instance, event: "notice", from: nil, to: instance.state, reason: reason, payload: payload,
            transitionSeq: nil, now: now))
    }

    /// A new course shell: the first one moves a scheduled integration to shells_created; one that arrives after
    /// start-up (a later sync, or once the integration has content) is announced to the DSP.
    private func announceCourse(_ context: EffectContext) throws -> [AppliedStep] {
        let tx = context.tx
        guard let course = try tx.course(id: context.instance.id),
              let integration = try tx.instance(id: course.integrationID)
        else { return [] }
        if integration.state == DomainVocabulary.Integration.State.scheduled {
            return [try context.runtime.apply(
                tx, instanceID: integration.id, event: DomainVocabulary.Integration.Event.shellsCreated, sender: .system,
                reason: "first course shell created (\(course.title))", now: context.now)]
        }
        if Self.startedStates.contains(integration.state) || context.payload["after_startup"] == "true" {
            try notify(recipient: "dsp", template: "course-added-after-startup", context.notice)
        }
        return []
    }

    /// A course with content was mapped to another catalog course, so its content goes: the DSP is told, and the
    /// integration's workflow hears `content_withdrawn` where its state defines it (an integration that had every
    /// course's content goes back to shells_created; a live one records it). An integration on a version without the
    /// event, or in a state without it (on hold, paused), is left as it is: its go-live guard still counts the course.
    private func withdrawContent(_ context: EffectContext) throws -> [AppliedStep] {
        let tx = context.tx
        try notify(recipient: "dsp", template: "course-content-withdrawn", context.notice)
        guard let course = try tx.course(id: context.instance.id), let integration = try tx.instance(id: course.integrationID)
        else { return [] }
        let event = DomainVocabulary.Integration.Event.contentWithdrawn
        let definition = try context.runtime.definition(for: integration)
        guard definition.states[integration.state]?.events[event] != nil else { return [] }
        let why = context.reason.map { ": \($0)" } ?? " (mapped to another catalog course)"
        return [try context.runtime.apply(
            tx, instanceID: integration.id, event: event, sender: .system,
            reason: "\(context.instance.subjectTitle) lost its content\(why)",
            now: context.now)]
    }

    /// Writes an outbox row in the current transaction: nothing is sent before the transition commits.
    private func notify(recipient: String, template: String, _ context: NoticeContext) throws {
        let tx = context.tx
        // The instance is a course mapping (its id is the course's) or an integration; a course names its integration.
        let course = try tx.course(id: context.instance.id)
        let values = NotificationPayload.values(
            instance: context.instance, course: course, integration: try tx.integration(id: course?.integrationID ?? context.instance.id),
            event: context.event, state: context.to, from: context.from, reason: context.reason, sync: context.payload)
        try tx.insertOutbox(OutboxRecord(
            id: Identifier.make(prefix: "msg", length: 12), instanceID: context.instance.id,
            transitionSeq: context.transitionSeq, channel: .email, recipient: recipient, template: template,
            payload: JSONText.object(values), nextAttemptAt: context.now, createdAt: context.now))
    }
}

/// Guards evaluated against the open transaction.
struct DomainGuards: GuardEvaluating {
    let tx: any StoreTransaction
    let instance: InstanceRecord
    let payload: [String: String]
    let rules: DomainRules
    /// The time the event is applied at (guards about dates, such as a term's end, read it).
    let now: Double

    func evaluate(guard name: String, event: String, from state: String) throws -> GuardVerdict {
        if OnDemand.guardNames.contains(name) {
            return try OnDemand.evaluate(guard: name, tx: tx, instance: instance, payload: payload, now: now)
        }
        return try rules.evaluate(guard: name, tx: tx, instance: instance)
    }
}
