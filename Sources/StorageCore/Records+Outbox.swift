import Foundation

/// One delivery of an outbox message: the message over one channel to one destination, with its own status and
/// attempts. The outbox message id is the idempotency key every attempt carries.
public struct DeliveryRecord: Sendable, Codable, Equatable {
    /// Statuses a delivery moves through.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Waiting for its next attempt (and, while `claimedBy` holds an unexpired lease, being sent).
        case pending
        /// The destination accepted it.
        case sent
        /// The destination refused it for good (SMTP 5xx, HTTP 4xx other than 429); `lastError` keeps the reply.
        case failed
        /// Retried up to the limit without success.
        case dead
        /// Nothing to send to (no address configured for the recipient); `lastError` says what to configure.
        case skipped
    }

    /// `<outbox id>/email` or `<outbox id>/webhook/<subscriber>`.
    public var id: String
    public var outboxID: String
    public var channel: OutboxChannel
    /// The recipient role (e-mail; resolved to addresses at each attempt) or the webhook subscriber's name.
    public var destination: String
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Double
    /// The dispatcher holding the delivery, while `leaseUntil` is in the future.
    public var claimedBy: String?
    public var leaseUntil: Double?
    public var lastError: String?
    public var lastAttemptAt: Double?
    public var deliveredAt: Double?
    public var createdAt: Double

    /// A delivery with every field given; by default a new one: pending, not attempted and not claimed.
    public init(
        id: String, outboxID: String, channel: OutboxChannel, destination: String, status: Status = .pending, attempts: Int = 0,
        nextAttemptAt: Double, claimedBy: String? = nil, leaseUntil: Double? = nil, lastError: String? = nil,
        lastAttemptAt: Double? = nil, deliveredAt: Double? = nil, createdAt: Double
    ) {
        self.id = id
        self.outboxID = outboxID
        self.channel = channel
        self.destination = destination
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.claimedBy = claimedBy
        self.leaseUntil = leaseUntil
        self.lastError = lastError
        self.lastAttemptAt = lastAttemptAt
        self.deliveredAt = deliveredAt
        self.createdAt = createdAt
    }
}

/// A delivery a dispatcher has claimed, with the message it carries.
public struct ClaimedDelivery: Sendable, Equatable {
    public var delivery: DeliveryRecord
    public var message: OutboxRecord

    /// A record with every field given.
    public init(delivery: DeliveryRecord, message: OutboxRecord) {
        self.delivery = delivery
        self.message = message
    }
}

/// Who claims the deliveries a fan-out creates, for how long, and how many at most.
public struct FanOutClaim: Sendable {
    public var worker: String
    public var leaseSeconds: Double
    public var limit: Int

    /// A claim for `worker` of at most `limit` deliveries, each leased for `leaseSeconds`.
    public init(worker: String, leaseSeconds: Double, limit: Int) {
        self.worker = worker
        self.leaseSeconds = leaseSeconds
        self.limit = limit
    }
}

/// One attempt's outcome, for ``completeDeliveries(_:worker:now:)``.
public struct DeliveryOutcomeRecord: Sendable {
    public var id: String
    public var status: DeliveryRecord.Status
    public var error: String?
    public var nextAttemptAt: Double?

    /// An outcome with every field given; `nextAttemptAt` is when to retry a `.pending` delivery (nil keeps the
    /// time it had).
    public init(id: String, status: DeliveryRecord.Status, error: String?, nextAttemptAt: Double?) {
        self.id = id
        self.status = status
        self.error = error
        self.nextAttemptAt = nextAttemptAt
    }
}
