/// The engine-independent half of ``OutboxStore/completeDeliveries(_:worker:now:)``, shared by every conformer:
/// outcomes alike (same status, error and next attempt — in a healthy batch, all of them) go to the engine as one
/// group, recorded by one conditional statement; a delivery named twice has only its first outcome recorded (as one
/// statement per outcome would); each message concerned is summarised once, in the order its deliveries came.
public enum DeliveryOutcomeBatch {
    /// Outcomes alike, for one conditional update over their deliveries' ids.
    public struct Group: Sendable {
        public var status: DeliveryRecord.Status
        public var error: String?
        public var nextAttemptAt: Double?
        public var ids: [String]
    }

    /// Groups `outcomes`, has `record` update each group (returning the ids it updated, i.e. those the worker still
    /// held), and returns the messages to summarise and the ids that were not recorded.
    public static func record(
        _ outcomes: [DeliveryOutcomeRecord], with record: (Group) throws -> [String]
    ) throws -> (messages: [String], lost: [String]) {
        struct Key: Hashable {
            var status: DeliveryRecord.Status
            var error: String?
            var nextAttemptAt: Double?
        }
        var groups: [Key: Int] = [:]
        var ordered: [Group] = []
        var lost: [String] = []
        var queued = Set<String>()
        queued.reserveCapacity(outcomes.count)
        for outcome in outcomes {
            guard queued.insert(outcome.id).inserted else {
                lost.append(outcome.id)
                continue
            }
            let key = Key(status: outcome.status, error: outcome.error, nextAttemptAt: outcome.nextAttemptAt)
            if let index = groups[key] {
                ordered[index].ids.append(outcome.id)
            } else {
                groups[key] = ordered.count
                ordered.append(Group(status: key.status, error: key.error, nextAttemptAt: key.nextAttemptAt, ids: [outcome.id]))
            }
        }
        var recorded = Set<String>()
        recorded.reserveCapacity(outcomes.count)
        for group in ordered { recorded.formUnion(try record(group)) }
        var messages: [String] = []
        var seen = Set<String>()
        for outcome in outcomes where queued.remove(outcome.id) != nil {
            if recorded.contains(outcome.id) {
                let message = DeliveryRecord.outboxID(ofDelivery: outcome.id)
                if seen.insert(message).inserted { messages.append(message) }
            } else {
                lost.append(outcome.id)
            }
        }
        return (messages, lost)
    }
}

extension DeliveryRecord {
    /// The message a delivery belongs to: `<outbox id>` of `<outbox id>/email` or `<outbox id>/webhook/<subscriber>`.
    public static func outboxID(ofDelivery id: String) -> String {
        String(id[..<(id.firstIndex(of: "/") ?? id.endIndex)])
    }
}
