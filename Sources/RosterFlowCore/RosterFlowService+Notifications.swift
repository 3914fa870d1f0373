import Foundation
import StorageCore
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
    /// Every (workflow, template, recipient) the definitions (every stored version) send through `notify` effects, plus the ones
    /// effects and the nightly sync send themselves (`course-added-after-startup`, `missed-sync`,
    /// `locked-course-removed-by-sis`).
    public func notificationUses() -> [NotificationUse] {
        var uses: [NotificationUse] = []
        // Every version the database holds: instances still on an older version send its templates.
        let definitions = runtime.definitions.values.flatMap(\.values).sorted { ($0.name, $0.version) < ($1.name, $1.version) }
        for definition in definitions {
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
        // The daily digests (sendDueDigests).
        uses.append(NotificationUse(
            workflow: DomainVocabulary.Integration.workflow, template: "mappings-awaiting-verification", recipient: "school_contact"))
        uses.append(NotificationUse(workflow: DomainVocabulary.Integration.workflow, template: "verified-courses", recipient: "dsp"))
        // Dashboard sign-in links (requestSignInLink, issueSignInLink), to the account's own address.
        uses.append(NotificationUse(workflow: "access", template: Self.signInTemplate, recipient: "account"))
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
            let course = try tx.course(id: instance.id)
            let built = NotificationPayload.values(
                instance: instance, course: course, integration: try tx.integration(id: course?.integrationID ?? instance.id),
                event: event ?? "preview", state: instance.state, from: instance.previousState,
                reason: try tx.transitions(instanceID: instance.id).last?.reason)
            var values = Dictionary(built, uniquingKeysWith: { _, last in last })
            values.merge(extra) { _, new in new }
            return values
        }
    }
}
