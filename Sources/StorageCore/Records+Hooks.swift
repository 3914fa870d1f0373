import Foundation

/// A sender of inbound hooks (`POST /hooks/v1/…`, Standard Webhooks): a name, its signing secret and the districts it
/// may act on.
///
/// The secret is kept as it is, not hashed: verifying an HMAC-SHA256 signature needs the key itself (the server
/// recomputes the signature), unlike an API token, which only has to be recognised. It is never logged, listed or
/// audited; the database file is private (0600).
public struct HookSenderRecord: Sendable, Codable, Equatable {
    /// Unique: how the sender is named in the hook URL (`?sender=NAME`) and as the actor (`hook:NAME`).
    public var name: String
    /// `whsec_` and the base64 of the key.
    public var secret: String
    /// The secret before the last rotation, accepted until ``previousValidUntil``.
    public var previousSecret: String?
    /// Seconds since 1970.
    public var previousValidUntil: Double?
    /// Tenant ids the sender may act on; empty for every district.
    public var districts: [String]
    /// `active` or `disabled`.
    public var status: String
    /// Seconds since 1970.
    public var createdAt: Double
    public var rotatedAt: Double?
    public var disabledAt: Double?

    /// A record with every field given.
    public init(
        name: String, secret: String, previousSecret: String? = nil, previousValidUntil: Double? = nil, districts: [String],
        status: String, createdAt: Double, rotatedAt: Double? = nil, disabledAt: Double? = nil
    ) {
        self.name = name
        self.secret = secret
        self.previousSecret = previousSecret
        self.previousValidUntil = previousValidUntil
        self.districts = districts
        self.status = status
        self.createdAt = createdAt
        self.rotatedAt = rotatedAt
        self.disabledAt = disabledAt
    }
}

/// An inbound hook that was applied, kept by its sender and `webhook-id` so that a redelivery gets the first answer
/// without being applied again.
public struct HookDeliveryRecord: Sendable, Equatable {
    public var sender: String
    /// The `webhook-id` header.
    public var webhookID: String
    /// Lowercase hex SHA-256 of the route and the raw body: a second delivery under the id must carry the same.
    public var fingerprint: String
    /// The answer given: HTTP status and JSON body.
    public var status: Int
    public var body: Data
    /// Seconds since 1970.
    public var receivedAt: Double

    /// A record with every field given.
    public init(sender: String, webhookID: String, fingerprint: String, status: Int, body: Data, receivedAt: Double) {
        self.sender = sender
        self.webhookID = webhookID
        self.fingerprint = fingerprint
        self.status = status
        self.body = body
        self.receivedAt = receivedAt
    }
}
