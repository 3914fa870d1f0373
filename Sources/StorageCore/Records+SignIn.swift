import Foundation

/// A one-time sign-in link sent to an account's e-mail: only the SHA-256 of its token is kept.
public struct SignInLinkRecord: Sendable, Codable, Equatable {
    /// Lowercase hex SHA-256 of the link's token.
    public var tokenHash: String
    public var accountID: String
    /// Seconds since 1970.
    public var createdAt: Double
    public var expiresAt: Double
    /// When the link was used to sign in; a link works once.
    public var usedAt: Double?

    /// A record with every field given.
    public init(tokenHash: String, accountID: String, createdAt: Double, expiresAt: Double, usedAt: Double? = nil) {
        self.tokenHash = tokenHash
        self.accountID = accountID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// A signed-in dashboard session: only the SHA-256 of the cookie's value is kept.
public struct SessionRecord: Sendable, Codable, Equatable {
    /// Lowercase hex SHA-256 of the session cookie's value.
    public var idHash: String
    public var accountID: String
    /// The synchronizer token every form of this session carries (CSRF).
    public var csrfToken: String
    /// How the person signed in: `link` or `token:<token id>`.
    public var method: String
    /// Seconds since 1970.
    public var createdAt: Double
    /// The last request seen (idle expiry counts from it).
    public var lastSeenAt: Double
    /// The absolute end of the session, however active it is.
    public var expiresAt: Double

    /// A record with every field given.
    public init(
        idHash: String, accountID: String, csrfToken: String, method: String, createdAt: Double, lastSeenAt: Double,
        expiresAt: Double
    ) {
        self.idHash = idHash
        self.accountID = accountID
        self.csrfToken = csrfToken
        self.method = method
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}
