import Foundation

/// One change recorded in the audit log.
public struct AuditRecord: Sendable, Codable, Equatable {
    /// The row's sequence number (0 before it is written).
    public var id: Int64
    /// Seconds since 1970 (UTC).
    public var at: Double
    /// Who made the change (`--actor`, e.g. `cli:ana`).
    public var actor: String
    /// What was done: `integration-policy`, `integration-source`, `customer-import`, `sync-approve`, `sync-reject`,
    /// `outbox-retry`.
    public var action: String
    /// The integration the change concerns, when there is one.
    public var integrationID: String?
    /// The changed thing: an integration id, a tenant id, a sync run id or an outbox message (or delivery) id.
    public var subject: String
    /// The value before the change (JSON text, or nil when there was none).
    public var before: String?
    /// The value after the change (JSON text, or nil when it was removed).
    public var after: String?

    /// A record with every field given; `id` is assigned when it is written.
    public init(
        id: Int64 = 0, at: Double, actor: String, action: String, integrationID: String?, subject: String,
        before: String?, after: String?
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.integrationID = integrationID
        self.subject = subject
        self.before = before
        self.after = after
    }
}
