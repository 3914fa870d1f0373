import Foundation

/// An integration's Sign in with ClassLink (OpenID Connect) settings. The client secret itself is never stored: only
/// the name of the environment variable the server reads it from.
public struct SignInProviderRecord: Sendable, Codable, Equatable {
    public var integrationID: String
    /// The provider, `classlink`.
    public var provider: String
    /// The issuer URL; its discovery document is `<issuer>/.well-known/openid-configuration`.
    public var issuer: String
    public var clientID: String
    /// The environment variable holding the client secret.
    public var secretEnv: String
    /// The scopes asked for, space-separated (`openid` is always among them).
    public var scopes: String
    /// The user-info URL when it is not the discovery document's (ClassLink's is on another host).
    public var userInfoURL: String?
    public var actor: String
    /// Seconds since 1970.
    public var setAt: Double

    /// A record with every field given.
    public init(
        integrationID: String, provider: String, issuer: String, clientID: String, secretEnv: String, scopes: String,
        userInfoURL: String?, actor: String, setAt: Double
    ) {
        self.integrationID = integrationID
        self.provider = provider
        self.issuer = issuer
        self.clientID = clientID
        self.secretEnv = secretEnv
        self.scopes = scopes
        self.userInfoURL = userInfoURL
        self.actor = actor
        self.setAt = setAt
    }
}

/// A sign-in RosterFlow started at the provider: the state (kept only as its SHA-256), the nonce and the PKCE verifier
/// the callback needs. A state works once.
public struct SignInRequestRecord: Sendable, Codable, Equatable {
    /// Lowercase hex SHA-256 of the `state` sent to the provider.
    public var stateHash: String
    public var integrationID: String
    public var nonce: String
    /// The PKCE code verifier (its S256 challenge went to the provider).
    public var codeVerifier: String
    /// Seconds since 1970.
    public var createdAt: Double
    public var expiresAt: Double
    /// When the callback used it; nil while unused.
    public var usedAt: Double?

    /// A record with every field given.
    public init(
        stateHash: String, integrationID: String, nonce: String, codeVerifier: String, createdAt: Double, expiresAt: Double,
        usedAt: Double? = nil
    ) {
        self.stateHash = stateHash
        self.integrationID = integrationID
        self.nonce = nonce
        self.codeVerifier = codeVerifier
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// A teacher's or student's session after Sign in with ClassLink: only the SHA-256 of the cookie's value is kept. The
/// person is a OneRoster user of one integration; the role comes from the held enrollments.
public struct PersonSessionRecord: Sendable, Codable, Equatable {
    /// Lowercase hex SHA-256 of the session cookie's value.
    public var idHash: String
    public var integrationID: String
    /// The OneRoster user's sourcedId.
    public var sourcedID: String
    /// `teacher` or `student`.
    public var role: String
    /// The provider's user id (ClassLink `UserId`).
    public var providerUserID: String
    /// The synchronizer token every form of this session carries (CSRF).
    public var csrfToken: String
    /// Seconds since 1970.
    public var createdAt: Double
    public var lastSeenAt: Double
    public var expiresAt: Double

    /// A record with every field given.
    public init(
        idHash: String, integrationID: String, sourcedID: String, role: String, providerUserID: String, csrfToken: String,
        createdAt: Double, lastSeenAt: Double, expiresAt: Double
    ) {
        self.idHash = idHash
        self.integrationID = integrationID
        self.sourcedID = sourcedID
        self.role = role
        self.providerUserID = providerUserID
        self.csrfToken = csrfToken
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
    }
}
