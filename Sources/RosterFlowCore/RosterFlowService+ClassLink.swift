import Foundation
import StorageCore

/// An integration's Sign in with ClassLink settings as shown to people: never the secret, only where it is read from.
public struct SignInProviderView: Sendable, Codable, Equatable {
    public var integrationID: String
    public var provider: String
    public var issuer: String
    public var clientID: String
    /// The environment variable the server reads the client secret from.
    public var secretEnv: String
    /// Whether that variable is set in this process (the value is never shown).
    public var secretPresent: Bool
    public var scopes: [String]
    public var userInfoURL: String?
}

/// A teacher's or student's session just started by Sign in with ClassLink: the cookie value is shown this once.
public struct PersonSessionStart: Sendable, Equatable {
    /// The session cookie's value: keep it secret.
    public var token: String
    public var person: SignedInPerson
}

/// A teacher or student signed in with ClassLink: a OneRoster user of one integration, with the role their held
/// enrollments give (never the sign-in's role claim).
public struct SignedInPerson: Sendable, Equatable {
    public var integrationID: String
    public var district: String
    public var sourcedID: String
    public var name: String
    /// `teacher` or `student`.
    public var role: String
    /// The synchronizer token of the session's forms (CSRF).
    public var csrfToken: String

    /// The actor written to history and audit.
    public var actor: String { "classlink:\(integrationID):\(sourcedID)" }
}

/// What a Sign in with ClassLink callback came to.
public enum ClassLinkCallbackOutcome: Sendable, Equatable {
    /// A linked teacher or student: a new session (any earlier session of the browser ended).
    case signedIn(PersonSessionStart)
    /// The person could not be linked: their support code, the reason and the district (nil when unknown).
    case unlinked(supportCode: String, reason: String, district: String?)
    /// The callback did not answer a sign-in RosterFlow started (a portal tile, a forged or stale state): start again
    /// from RosterFlow, for this integration when it is known. The code was not used.
    case restart(integrationID: String?)
    /// The state was used already (the same callback twice): the person's current session stands, or they start again.
    case alreadyUsed(integrationID: String)
}

extension RosterFlowService {
    /// The provider name of Sign in with ClassLink's links and sessions.
    public static let classLinkProvider = "classlink"
    /// How long a started sign-in waits for its callback (seconds).
    static let signInRequestLifetime: Double = 10 * 60
    /// The user-info URL when neither the settings nor the discovery document name one (ClassLink's own).
    public static let classLinkUserInfoURL = "https://nodeapi.classlink.com/v2/my/info"

    // MARK: Settings

    /// Sets an integration's Sign in with ClassLink settings (vendor admin). The client secret is not given: only the
    /// environment variable the server reads it from, so it is never stored, printed or in a shell's history.
    public func setClassLinkSignIn(
        integrationID: String, issuer: String, clientID: String, secretEnv: String, scopes: [String], userInfoURL: String?, actor: String
    ) async throws -> SignInProviderView {
        for (name, url) in [("issuer", issuer), ("user-info URL", userInfoURL ?? "https://x")] {
            guard let parsed = URL(string: url), ["https", "http"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw RosterFlowError(.invalidInput, "the \(name) '\(url)' is not an http(s) URL (ClassLink's issuer is https://launchpad.classlink.com)")
            }
        }
        guard !clientID.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw RosterFlowError(.invalidInput, "give the client id of RosterFlow's ClassLink app (Partner Portal → OAuth2 configuration)")
        }
        guard secretEnv.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
            throw RosterFlowError(.invalidInput, "'\(secretEnv)' is not an environment variable name (e.g. CLASSLINK_SECRET); "
                + "give the name of the variable holding the secret, never the secret itself")
        }
        var scopeList = scopes.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init) }
        if !scopeList.contains("openid") { scopeList.insert("openid", at: 0) }
        let scopeText = scopeList.joined(separator: " ")
        let record = try await write { tx, now in
            guard try tx.integration(id: integrationID) != nil else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID)")
            }
            let record = SignInProviderRecord(
                integrationID: integrationID, provider: Self.classLinkProvider, issuer: issuer, clientID: clientID, secretEnv: secretEnv,
                scopes: scopeText, userInfoURL: userInfoURL, actor: actor, setAt: now)
            let before = try tx.signInProvider(integrationID: integrationID)
            try tx.upsertSignInProvider(record)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "integration.sign-in", integrationID: integrationID, subject: integrationID,
                before: before.map { JSONText.object([("issuer", $0.issuer), ("client_id", $0.clientID), ("secret_env", $0.secretEnv)]) },
                after: JSONText.object([("issuer", issuer), ("client_id", clientID), ("secret_env", secretEnv)])))
            return record
        }
        return Self.view(record)
    }

    /// An integration's Sign in with ClassLink settings, or nil when it has none.
    public func classLinkSignIn(integrationID: String) throws -> SignInProviderView? {
        try read { try $0.signInProvider(integrationID: integrationID) }.map(Self.view)
    }

    /// The integrations people can sign in to with ClassLink.
    public func classLinkSignIns() throws -> [SignInProviderView] {
        try read { try $0.signInProviders() }.map(Self.view)
    }

    static func view(_ record: SignInProviderRecord) -> SignInProviderView {
        SignInProviderView(
            integrationID: record.integrationID, provider: record.provider, issuer: record.issuer, clientID: record.clientID,
            secretEnv: record.secretEnv, secretPresent: !(ProcessInfo.processInfo.environment[record.secretEnv] ?? "").isEmpty,
            scopes: record.scopes.split(separator: " ").map(String.init), userInfoURL: record.userInfoURL)
    }

    // MARK: The flow

    /// Starts Sign in with ClassLink for an integration: a new state, nonce and PKCE verifier are kept (the state only as
    /// its SHA-256), and the provider's authorization URL is returned for the browser.
    ///
    /// - Throws: ``RosterFlowError/Code/notFound`` (cause `sign-in-not-configured`) when the integration has no settings.
    public func startClassLinkSignIn(integrationID: String, redirectURI: String) async throws -> URL {
        guard let settings = try read({ try $0.signInProvider(integrationID: integrationID) }) else {
            throw RosterFlowError(
                .notFound, "Sign in with ClassLink is not set up for this district; ask your school to check the link it gave you",
                cause: "sign-in-not-configured")
        }
        let discovery = try await OIDC.cache.discovery(issuer: settings.issuer, now: clock())
        let state = Self.newSecret(prefix: ""), nonce = Self.newSecret(prefix: ""), verifier = Self.newSecret(prefix: "")
        try await write { tx, now in
            try tx.insertSignInRequest(SignInRequestRecord(
                stateHash: Self.tokenHash(state), integrationID: integrationID, nonce: nonce, codeVerifier: verifier, createdAt: now,
                expiresAt: now + Self.signInRequestLifetime))
        }
        guard var url = URLComponents(string: discovery.authorizationEndpoint) else {
            throw OIDC.refused("provider-answer", "ClassLink's authorization endpoint is not a URL")
        }
        url.queryItems = (url.queryItems ?? []) + [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: settings.clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURI), URLQueryItem(name: "scope", value: settings.scopes),
            URLQueryItem(name: "state", value: state), URLQueryItem(name: "nonce", value: nonce),
            URLQueryItem(name: "code_challenge", value: OIDC.challenge(verifier)),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        // `+` is legal in a query but some servers read it as a space; the scope's spaces are sent as %20.
        url.percentEncodedQuery = url.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        guard let result = url.url else { throw OIDC.refused("provider-answer", "ClassLink's authorization endpoint is not a URL") }
        return result
    }

    /// Finishes Sign in with ClassLink at the callback. A state RosterFlow did not issue (a portal tile, a forged link)
    /// is never trusted: its code is not exchanged, and the person starts again from RosterFlow. A state is used once;
    /// the code is exchanged with the client secret in the body and the PKCE verifier; the id_token's signature and
    /// claims are checked; the person is read from the user-info endpoint, must belong to the integration's tenant, and
    /// is linked with ``linkIdentity(_:actor:)``. A linked teacher or student gets a new session (the sessions named in
    /// `replacing` end: shared Chromebooks); a student is placed in their imported classes.
    ///
    /// - Throws: ``RosterFlowError/Code/refused`` with a stable cause (`code-refused`, `bad-signature`, `unknown-key`,
    ///   `wrong-issuer`, `wrong-audience`, `token-expired`, `nonce-mismatch`, `wrong-tenant`, `identity-mismatch`,
    ///   `no-classes`, `secret-missing`, `provider-unreachable`, `provider-answer`, `bad-token`); nothing is made then.
    public func finishClassLinkSignIn(
        code: String?, state: String?, redirectURI: String, replacing: [String] = [], policy: SignInPolicy = SignInPolicy()
    ) async throws -> ClassLinkCallbackOutcome {
        guard let state, !state.isEmpty, state.utf8.count <= 128 else { return .restart(integrationID: nil) }
        let stateHash = Self.tokenHash(state)
        guard let request = try read({ try $0.signInRequest(stateHash: stateHash) }) else { return .restart(integrationID: nil) }
        if request.usedAt != nil { return .alreadyUsed(integrationID: request.integrationID) }
        guard let code, !code.isEmpty, code.utf8.count <= 2048 else { return .restart(integrationID: request.integrationID) }
        let claimed = try await write { tx, now -> Bool in
            guard request.expiresAt > now else { return false }
            return try tx.useSignInRequest(stateHash: stateHash, at: now)
        }
        guard claimed else {
            let now = clock()
            return request.expiresAt > now ? .alreadyUsed(integrationID: request.integrationID) : .restart(integrationID: request.integrationID)
        }
        let integrationID = request.integrationID
        guard let settings = try read({ try $0.signInProvider(integrationID: integrationID) }) else {
            throw RosterFlowError(.notFound, "Sign in with ClassLink is not set up for this district any more", cause: "sign-in-not-configured")
        }
        guard let secret = ProcessInfo.processInfo.environment[settings.secretEnv], !secret.isEmpty else {
            throw OIDC.refused("secret-missing", "RosterFlow's server has no ClassLink client secret for this district "
                + "(its variable \(settings.secretEnv) is not set); tell your vendor's support")
        }
        let discovery = try await OIDC.cache.discovery(issuer: settings.issuer, now: clock())
        let tokens = try await OIDC.exchange(
            code: code, discovery: discovery, clientID: settings.clientID, secret: secret, redirectURI: redirectURI,
            verifier: request.codeVerifier)
        let claims = try await OIDC.verify(
            idToken: tokens.idToken, discovery: discovery, clientID: settings.clientID, nonce: request.nonce, now: clock())
        let info = try await OIDC.userInfo(
            url: settings.userInfoURL ?? discovery.userInfoEndpoint ?? Self.classLinkUserInfoURL, accessToken: tokens.accessToken)
        let subject = claims["sub"] as? String ?? ""
        guard info.userID.isEmpty || info.userID == subject else {
            throw OIDC.refused("identity-mismatch", "ClassLink's user info describes another person than its id_token; sign in again")
        }
        guard let tenant = try tenantID(ofIntegration: integrationID), let district = try read({ try $0.integration(id: integrationID)?.district })
        else { throw RosterFlowError(.notFound, "there is no integration \(integrationID)") }
        guard info.tenantID == tenant else {
            throw OIDC.refused("wrong-tenant", "you signed in to ClassLink as a member of another district "
                + "(tenant \(info.tenantID.isEmpty ? "none" : info.tenantID)), not \(district); open RosterFlow from your own district's ClassLink portal")
        }
        let link = try await linkIdentity(IdentityClaims(
            provider: Self.classLinkProvider, tenantID: info.tenantID, providerUserID: subject, sourcedID: info.sourcedID,
            username: info.loginID, email: info.email ?? claims["email"] as? String))
        guard link.linked, let sourcedID = link.sourcedID, link.integrationID == integrationID else {
            return .unlinked(
                supportCode: link.supportCode ?? "", reason: link.reason ?? "RosterFlow could not find you in your school's roster",
                district: district)
        }
        let role: String
        if link.roles.contains("teacher") {
            role = "teacher"
        } else if link.roles.contains("student") {
            role = "student"
        } else {
            throw OIDC.refused("no-classes", "you signed in as \(link.name ?? sourcedID), but your school's roster lists no classes "
                + "for you as a teacher or student; ask your school's office to check your enrollments in the SIS")
        }
        if role == "student" { _ = try await placeStudent(sourcedID, integrationID: integrationID) }
        let token = Self.newSecret(prefix: "rfp_"), csrf = Self.newSecret(prefix: "")
        let oldHashes = replacing.filter { $0.utf8.count <= 128 }.map(Self.tokenHash)
        let name = link.name ?? sourcedID
        try await write { tx, now in
            for hash in oldHashes {
                try tx.deletePersonSession(hash: hash)
                try tx.deleteSession(hash: hash)
            }
            try tx.insertPersonSession(PersonSessionRecord(
                idHash: Self.tokenHash(token), integrationID: integrationID, sourcedID: sourcedID, role: role, providerUserID: subject,
                csrfToken: csrf, createdAt: now, lastSeenAt: now, expiresAt: now + policy.sessionLifetime))
            try tx.insertAudit(AuditRecord(
                at: now, actor: "classlink:\(integrationID):\(sourcedID)", action: "sign-in", integrationID: integrationID, subject: sourcedID,
                before: nil, after: JSONText.object([("method", "classlink"), ("role", role), ("matched_on", link.matchedOn ?? "")])))
        }
        return .signedIn(PersonSessionStart(
            token: token,
            person: SignedInPerson(integrationID: integrationID, district: district, sourcedID: sourcedID, name: name, role: role, csrfToken: csrf)))
    }

    /// The teacher or student of a session cookie, or nil when there is none or it ended. A request keeps it alive.
    public func checkPersonSession(_ token: String, policy: SignInPolicy = SignInPolicy()) async throws -> SignedInPerson? {
        guard token.utf8.count <= 128 else { return nil }
        let hash = Self.tokenHash(token)
        let now = clock()
        let found: (SignedInPerson, Double)? = try read { tx in
            guard let session = try tx.personSession(hash: hash), session.expiresAt > now, session.lastSeenAt + policy.sessionIdle > now,
                  let integration = try tx.integration(id: session.integrationID)
            else { return nil }
            let name = try OnDemand.name(tx, integrationID: session.integrationID, user: session.sourcedID)
            return (SignedInPerson(
                integrationID: session.integrationID, district: integration.district, sourcedID: session.sourcedID, name: name,
                role: session.role, csrfToken: session.csrfToken), session.lastSeenAt)
        }
        guard let (person, lastSeen) = found else { return nil }
        if now - lastSeen >= 60 { try await write { tx, now in try tx.touchPersonSession(hash: hash, at: now) } }
        return person
    }

    /// Ends a teacher's or student's session (sign-out).
    public func signOutPerson(sessionToken token: String) async throws {
        guard token.utf8.count <= 128 else { return }
        let hash = Self.tokenHash(token)
        try await write { tx, _ in try tx.deletePersonSession(hash: hash) }
    }
}
