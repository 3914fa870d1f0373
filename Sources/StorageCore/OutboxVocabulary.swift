/// The statuses an outbox message moves through, as stored in `outbox.status` and printed by `outbox list`.
public enum OutboxStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Written with its transition, not yet given to a dispatcher.
    case pending
    /// Fanned out into deliveries, at least one of which is still pending.
    case queued
    /// Every delivery is over and at least one was sent (none failed or died).
    case sent
    /// A delivery was refused for good.
    case failed
    /// A delivery was retried up to the limit without success.
    case dead
    /// Nothing delivers it (no channel, or no address for the recipient).
    case skipped
}

/// How an outbox message is delivered, as stored in `outbox.channel` and `outbox_deliveries.channel`.
public enum OutboxChannel: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Mail to the recipient role's addresses.
    case email
    /// A signed HTTP POST to a subscriber.
    case webhook
}

extension DeliveryRecord.Status {}

extension OutboxStatus {
    /// The stored text, also in messages (`pending`).
    public var description: String { rawValue }
}

extension OutboxChannel {
    /// The stored text, also in messages (`email`).
    public var description: String { rawValue }
}
