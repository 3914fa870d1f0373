import Foundation
import Storage
import WorkflowEngine

/// A template a workflow sends, and to whom.
public struct NotificationUse: Sendable, Codable, Equatable {
    public var workflow: String
    public var template: String
    public var recipient: String

    /// A use with every field given.
    public init(workflow: String, template: String, recipient: String) {
        self.workflow = workflow
        self.template = template
        self.recipient = recipient
    }
}

extension RosterFlowService {
    /// Every (workflow, template, recipient) the current definitions send through `notify` effects, plus the ones
    /// effects and the nightly sync send themselves (`course-added-after-startup`, `missed-sync`,
    /// `locked-course-removed-by-sis`).
    public func notificationUses() -> [NotificationUse] {
        var uses: [NotificationUse] = []
        for definition in runtime.current.values.sorted(by: { $0.name < $1.name }) {
            var effects: [EffectReference] = []
            for name in definition.stateOrder {
                guard let state = definition.states[name] else { continue }
                effects += state.onEnter
                for transitions in state.events.values { for transition in transitions { effects += transition.effects } }
            }
            for effect in effects {
                if effect.name == "notify", let template = effect.parameters["template"] {
                    uses.append(NotificationUse(
                        workflow: definition.name, template: template, recipient: effect.parameters["to"] ?? "vendor_admins"))
                } else if effect.name == "announce_course" {
                    uses.append(NotificationUse(
                        workflow: definition.name, template: "course-added-after-startup", recipient: "dsp"))
                }
            }
        }
        // Sent by the nightly sync itself, not by a notify effect.
        uses.append(NotificationUse(workflow: DomainVocabulary.Integration.workflow, template: "missed-sync", recipient: "school_contact"))
        uses.append(NotificationUse(workflow: DomainVocabulary.CourseMapping.workflow, template: "locked-course-removed-by-sis", recipient: "dsp"))
        var seen = Set<String>()
        return uses.filter { seen.insert("\($0.workflow)|\($0.template)|\($0.recipient)").inserted }
    }

    /// The values a notification about `instanceID` (an integration or a course) would carry now, as the `notify`
    /// effect writes them, for previews. `event` and `state` default to the instance's current state.
    public func notificationValues(instanceID: String, event: String? = nil, extra: [String: String] = [:]) throws
        -> [String: String]
    {
        try read { tx in
            guard let instance = try tx.instance(id: instanceID) else {
                throw RosterFlowError(.notFound, "there is no integration or course \(instanceID)")
            }
            var values: [String: String] = [
                "instance_id": instance.id, "workflow": instance.workflow, "subject": instance.subjectTitle,
                "event": event ?? "preview", "state": instance.state,
            ]
            if let previous = instance.previousState { values["from_state"] = previous }
            var integrationID = instance.id
            if let course = try tx.course(id: instance.id) {
                integrationID = course.integrationID
                values["course_title"] = course.title
                values["course_sourced_id"] = course.sourcedID
                if let catalog = course.catalogTitle { values["catalog_title"] = catalog }
                if let base = course.baseID { values["base_id"] = base }
            }
            if let integration = try tx.integration(id: integrationID) {
                values["integration_id"] = integration.id
                values["district"] = integration.district
                values["tenant_id"] = integration.tenantID
                values["contact_email"] = integration.contactEmail
                if let time = integration.syncTime { values["sync_time"] = time }
                if let zone = integration.timezone { values["timezone"] = zone }
            }
            if let reason = try tx.transitions(instanceID: instance.id).last?.reason { values["reason"] = reason }
            values.merge(extra) { _, new in new }
            return values
        }
    }
}
