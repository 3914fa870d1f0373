import Foundation

/// A person who may use the HTTP API: a role and the districts (tenant ids) they may see.
public struct AccountRecord: Sendable, Codable, Equatable {
    public var id: String
    /// Unique, compared without case.
    public var email: String
    public var name: String
    /// A workflow role's YAML spelling: `vendor_admin`, `dsp` or `school_admin`.
    public var role: String
    /// `all` (every district), `assigned` (the districts listed) or `district` (the one district listed).
    public var scope: String
    /// Tenant ids; empty for scope `all`.
    public var districts: [String]
    /// `active` or `disabled`.
    public var status: String
    /// Seconds since 1970.
    public var createdAt: Double
    public var disabledAt: Double?

    /// A record with every field given.
    public init(
        id: String, email: String, name: String, role: String, scope: String, districts: [String], status: String,
        createdAt: Double, disabledAt: Double? = nil
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.scope = scope
        self.districts = districts
        self.status = status
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }
}

/// An API token of an account; the token itself is never stored, only its SHA-256.
public struct APITokenRecord: Sendable, Codable, Equatable {
    public var id: String
    public var accountID: String
    public var name: String
    /// Lowercase hex SHA-256 of the token text.
    public var tokenHash: String
    public var createdAt: Double
    public var expiresAt: Double?
    public var revokedAt: Double?

    /// A record with every field given.
    public init(
        id: String, accountID: String, name: String, tokenHash: String, createdAt: Double, expiresAt: Double? = nil,
        revokedAt: Double? = nil
    ) {
        self.id = id
        self.accountID = accountID
        self.name = name
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}

/// The answer given to a request sent with an `Idempotency-Key`, kept so that the same request gets it again.
public struct IdempotencyRecord: Sendable, Equatable {
    public var accountID: String
    public var key: String
    /// SHA-256 of the method, path and body of the first request under this key.
    public var fingerprint: String
    /// The HTTP status of the answer; nil while the first request is still being answered.
    public var status: Int?
    public var contentType: String?
    public var body: Data?
    public var createdAt: Double

    /// A record with every field given.
    public init(
        accountID: String, key: String, fingerprint: String, status: Int? = nil, contentType: String? = nil, body: Data? = nil,
        createdAt: Double
    ) {
        self.accountID = accountID
        self.key = key
        self.fingerprint = fingerprint
        self.status = status
        self.contentType = contentType
        self.body = body
        self.createdAt = createdAt
    }
}
