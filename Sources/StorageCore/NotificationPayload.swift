/// The values an outbox message carries for its templates: built by this one function for the messages a transition
/// writes and for `templates preview`, and the source of the variable list templates are checked against.
public enum NotificationPayload {
    /// The payload keys a sync event may carry (a held or failed sync's report, where to read it, and the run).
    public static let syncKeys = ["report", "report_url", "sync_run"]

    /// The keys a daily digest adds (about an integration): the courses listed one per line, their number, and the
    /// recipient's local date.
    public static let digestKeys = ["courses", "course_count", "digest_date"]

    /// The payload for a message about `instance` (an integration, or a course mapping with its `course`) as it enters
    /// `state` through `event`, in a stable order.
    ///
    /// - Parameters:
    ///   - from: the state it left, when there was one.
    ///   - reason: the reason given with the event.
    ///   - sync: values the event carried; only ``syncKeys`` are taken.
    public static func values(
        instance: InstanceRecord, course: CourseRecord?, integration: IntegrationRecord?, event: String, state: String,
        from: String?, reason: String?, sync: [String: String] = [:]
    ) -> [(String, String)] {
        var values: [(String, String)] = [
            ("instance_id", instance.id), ("workflow", instance.workflow), ("subject", instance.subjectTitle), ("event", event),
            ("state", state),
        ]
        values.reserveCapacity(20)
        if let from { values.append(("from_state", from)) }
        if let reason { values.append(("reason", reason)) }
        for key in syncKeys { if let value = sync[key] { values.append((key, value)) } }
        if let course {
            values.append(("course_title", course.title))
            values.append(("course_sourced_id", course.sourcedID))
            if let catalog = course.catalogTitle { values.append(("catalog_title", catalog)) }
            if let base = course.baseID { values.append(("base_id", base)) }
        }
        if let integration {
            values.append(("integration_id", integration.id))
            values.append(("district", integration.district))
            values.append(("tenant_id", integration.tenantID))
            values.append(("contact_email", integration.contactEmail))
            if let time = integration.syncTime { values.append(("sync_time", time)) }
            if let zone = integration.timezone { values.append(("timezone", zone)) }
        }
        return values
    }

    /// Every key ``values(instance:course:integration:event:state:from:reason:sync:)`` can write, for a course mapping
    /// (`course`) or not, with the sync values (`sync`) or not: found by building a payload with every optional value
    /// present, so the list cannot drift from the builder.
    public static func keys(course: Bool, sync: Bool) -> Set<String> {
        let instance = InstanceRecord(id: "i", workflow: "w", version: 1, state: "s", subjectTitle: "t", createdAt: 0, enteredAt: 0, updatedAt: 0)
        let full = CourseRecord(id: "c", integrationID: "i", sourcedID: "c", title: "t", catalogTitle: "t", baseID: "b", createdAt: 0)
        var integration = IntegrationRecord(id: "i", tenantID: "t", district: "d", permission: "p", contactEmail: "e", createdAt: 0)
        integration.syncTime = "00:00"
        integration.timezone = "UTC"
        let values = Self.values(
            instance: instance, course: course ? full : nil, integration: integration, event: "e", state: "s", from: "f",
            reason: "r", sync: sync ? Dictionary(uniqueKeysWithValues: syncKeys.map { ($0, "v") }) : [:])
        return Set(values.map(\.0))
    }
}
