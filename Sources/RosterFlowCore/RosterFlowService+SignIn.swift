import Foundation
import StorageCore
import WorkflowEngine

/// How long dashboard sign-in secrets live and how often a person may try to sign in.
public struct SignInPolicy: Sendable, Equatable {
    /// A one-time link works this long after it was sent (seconds).
    public var linkLifetime: Double = 15 * 60
    /// A session unused this long ends (seconds).
    public var sessionIdle: Double = 60 * 60
    /// A session ends this long after sign-in however active it is (seconds).
    public var sessionLifetime: Double = 12 * 60 * 60
    /// Sign-in attempts allowed per e-mail address and per client address within ``attemptWindow``.
    public var attemptLimit: Int = 5
    /// The rate-limit window (seconds).
    public var attemptWindow: Double = 15 * 60

    /// The defaults: links for 15 minutes, sessions idle 1 hour or 12 hours in all, 5 attempts per 15 minutes.
    public init() {}
}

/// The answer to a sign-in request: accepted (a link went out if the address has an active account: the same answer
/// either way), or too many attempts (try again after `retryAfter` seconds).
public enum SignInRequestOutcome: Sendable, Equatable {
    case accepted
    case rateLimited(retryAfter: Int)
}

/// What a presented one-time link is.
public enum SignInLinkCheck: Sendable, Equatable {
    /// Unused and in time: signing in with it will work (for this account's e-mail).
    case valid(email: String)
    /// No link has this token (a typo, or a forged link).
    case unknown
    /// It was used already: links work once.
    case used
    case expired
}

/// A session just started: the cookie value is shown this once (only its hash is stored).
public struct NewSession: Sendable, Equatable {
    /// The session cookie's value: keep it secret.
    public var token: String
    /// The synchronizer token the session's forms carry.
    public var csrfToken: String
    public var principal: Principal
    /// Seconds since 1970: the absolute end of the session.
    public var expiresAt: Double
}

/// A signed-in session, found by its cookie.
public struct SessionCheck: Sendable, Equatable {
    public var principal: Principal
    public var csrfToken: String
}

extension RosterFlowService {
    /// The template of the sign-in e-mail.
    public static let signInTemplate = "sign-in-link"

    /// Someone asks for a sign-in link for `email` from `clientAddress`. Attempts are counted per e-mail and per client
    /// address; within the limit, a link is queued through the outbox when `email` belongs to an active account. The
    /// answer does not say whether it does.
    public func requestSignInLink(
        email: String, clientAddress: String, baseURL: String, policy: SignInPolicy = SignInPolicy()
    ) async throws -> SignInRequestOutcome {
        let email = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let token = Self.newSecret(prefix: "rfl_")
        return try await write { tx, now in
            if let wait = try Self.countAttempt(keys: ["email:\(email)", "client:\(clientAddress)"], policy: policy, tx, now) {
                return .rateLimited(retryAfter: wait)
            }
            guard EmailAddress.isPlausible(email), let account = try tx.account(email: email), account.status == "active" else {
                return .accepted
            }
            try Self.queueSignInLink(token: token, account: account, baseURL: baseURL, policy: policy, tx, now)
            return .accepted
        }
    }

    /// Sends a one-time sign-in link to an active account's e-mail (through the outbox) and returns the link, e.g. for
    /// `rosterflow serve --demo` to print. Not rate-limited: for operators, not for the sign-in form.
    ///
    /// - Parameter baseURL: where people reach the server, e.g. `https://rosterflow.example` (the link is
    ///   `<baseURL>/sign-in/<token>`).
    /// - Throws: ``RosterFlowError/Code/notFound`` when no account has this e-mail; ``RosterFlowError/Code/refused``
    ///   when it is disabled.
    public func issueSignInLink(accountEmail: String, baseURL: String, policy: SignInPolicy = SignInPolicy()) async throws -> URL {
        let token = Self.newSecret(prefix: "rfl_")
        return try await write { tx, now in
            guard let account = try tx.account(email: accountEmail.trimmingCharacters(in: .whitespaces)) else {
                throw RosterFlowError(.notFound, "there is no account \(accountEmail); `rosterflow accounts list` shows them")
            }
            guard account.status == "active" else {
                throw RosterFlowError(.refused, "\(account.email)'s account is disabled; sign-in links go to active accounts only")
            }
            return try Self.queueSignInLink(token: token, account: account, baseURL: baseURL, policy: policy, tx, now)
        }
    }

    /// What a presented link is, without using it (the confirm page: mail scanners that open links do not sign in).
    public func checkSignInLink(_ token: String) throws -> SignInLinkCheck {
        let now = clock()
        return try read { tx in
            guard token.utf8.count <= 128, let link = try tx.signInLink(hash: Self.tokenHash(token)) else { return .unknown }
            if link.usedAt != nil { return .used }
            if link.expiresAt <= now { return .expired }
            guard let account = try tx.account(id: link.accountID), account.status == "active" else { return .unknown }
            return .valid(email: account.email)
        }
    }

    /// Uses a one-time link: it stops working, and a new session of its account starts (`replacing` ends the session
    /// the browser had, so a session id is never carried across a sign-in). Audited.
    ///
    /// - Throws: ``RosterFlowError/Code/refused`` (cause `link-unknown`, `link-used`, `link-expired`, `account-disabled`).
    public func signIn(linkToken token: String, replacing oldSession: String? = nil, policy: SignInPolicy = SignInPolicy())
        async throws -> NewSession
    {
        let hash = token.utf8.count <= 128 ? Self.tokenHash(token) : ""
        return try await startSession(replacing: oldSession, policy: policy) { tx, now in
            guard let link = try tx.signInLink(hash: hash) else {
                throw RosterFlowError(.refused, "this sign-in link is not valid; ask for a new one", cause: "link-unknown")
            }
            guard link.usedAt == nil else {
                throw RosterFlowError(.refused, "this sign-in link was used already; links work once: ask for a new one", cause: "link-used")
            }
            guard link.expiresAt > now else {
                throw RosterFlowError(
                    .refused, "this sign-in link has expired (links work for \(Int(policy.linkLifetime / 60)) minutes); ask for a new one",
                    cause: "link-expired")
            }
            try tx.markSignInLinkUsed(hash: hash, at: now)
            return (link.accountID, "link")
        }
    }

    /// Signs in with an API token pasted into the dashboard; attempts are rate-limited per client address.
    ///
    /// - Returns: the new session, or nil with the seconds to wait when there were too many attempts.
    /// - Throws: ``RosterFlowError/Code/refused`` (cause `unknown-token`, `revoked-token`, `expired-token`,
    ///   `account-disabled`) for a token that does not work.
    public func signIn(
        apiToken token: String, clientAddress: String, replacing oldSession: String? = nil, policy: SignInPolicy = SignInPolicy()
    ) async throws -> (session: NewSession?, retryAfter: Int?) {
        let token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        let hash = token.utf8.count <= 128 ? Self.tokenHash(token) : ""
        let limited = try await write { tx, now in
            try Self.countAttempt(keys: ["client:\(clientAddress)"], policy: policy, tx, now)
        }
        if let limited { return (nil, limited) }
        let session = try await startSession(replacing: oldSession, policy: policy) { tx, now in
            guard let record = try tx.token(hash: hash) else {
                throw RosterFlowError(.refused, "this token is not valid", cause: "unknown-token")
            }
            if record.revokedAt != nil { throw RosterFlowError(.refused, "this token was revoked; ask for a new one", cause: "revoked-token") }
            if let expiresAt = record.expiresAt, expiresAt <= now {
                throw RosterFlowError(.refused, "this token has expired; ask for a new one", cause: "expired-token")
            }
            return (record.accountID, "token:\(record.id)")
        }
        return (session, nil)
    }

    /// The signed-in account of a session cookie, or nil when the session does not exist, has ended (idle or absolute
    /// expiry) or its account is disabled. A request keeps the session alive.
    public func checkSession(_ token: String, policy: SignInPolicy = SignInPolicy()) async throws -> SessionCheck? {
        guard token.utf8.count <= 128 else { return nil }
        let hash = Self.tokenHash(token)
        let now = clock()
        let found: (SessionCheck, Double)? = try read { tx in
            guard let session = try tx.session(hash: hash), session.expiresAt > now, session.lastSeenAt + policy.sessionIdle > now,
                  let account = try tx.account(id: session.accountID), let principal = Self.principal(account, credential: "session")
            else { return nil }
            return (SessionCheck(principal: principal, csrfToken: session.csrfToken), session.lastSeenAt)
        }
        guard let (check, lastSeen) = found else { return nil }
        // Keep the session alive, at most once a minute (a write per page view is not worth it).
        if now - lastSeen >= 60 { try await write { tx, now in try tx.touchSession(hash: hash, at: now) } }
        return check
    }

    /// Ends a session (sign-out). Audited when there was one.
    public func signOut(sessionToken token: String) async throws {
        guard token.utf8.count <= 128 else { return }
        let hash = Self.tokenHash(token)
        try await write { tx, now in
            guard let session = try tx.session(hash: hash) else { return }
            try tx.deleteSession(hash: hash)
            let actor = try tx.account(id: session.accountID).map { "account:\($0.email)" } ?? "account:\(session.accountID)"
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "sign-out", integrationID: nil, subject: session.accountID, before: nil, after: nil))
        }
    }

    // MARK: Helpers

    private func startSession(
        replacing oldSession: String?, policy: SignInPolicy,
        _ authenticate: @escaping @Sendable (any StoreTransaction, Double) throws -> (accountID: String, method: String)
    ) async throws -> NewSession {
        let token = Self.newSecret(prefix: "rfs_")
        let csrf = Self.newSecret(prefix: "")
        let oldHash = oldSession.flatMap { $0.utf8.count <= 128 ? Self.tokenHash($0) : nil }
        return try await write { tx, now in
            let (accountID, method) = try authenticate(tx, now)
            guard let account = try tx.account(id: accountID), let principal = Self.principal(account, credential: "session") else {
                throw RosterFlowError(.refused, "this account is disabled; ask your vendor admin", cause: "account-disabled")
            }
            if let oldHash { try tx.deleteSession(hash: oldHash) }
            let record = SessionRecord(
                idHash: Self.tokenHash(token), accountID: accountID, csrfToken: csrf, method: method, createdAt: now, lastSeenAt: now,
                expiresAt: now + policy.sessionLifetime)
            try tx.insertSession(record)
            try tx.insertAudit(AuditRecord(
                at: now, actor: principal.actor, action: "sign-in", integrationID: nil, subject: accountID, before: nil,
                after: Self.json(["method": method.hasPrefix("token:") ? method : "link"])))
            return NewSession(token: token, csrfToken: csrf, principal: principal, expiresAt: record.expiresAt)
        }
    }

    /// The caller an active account stands for, or nil for a disabled one.
    static func principal(_ account: AccountRecord, credential: String) -> Principal? {
        guard account.status == "active", let role = Role(rawValue: account.role), role != .system else { return nil }
        let scope: DistrictScope = account.scope == "all" ? .all : .only(Set(account.districts))
        return Principal(account: AccountView(account), role: role, scope: scope, credential: credential)
    }

    /// Counts an attempt under each key; nil when within the limit, else the seconds until the oldest counted attempt
    /// leaves the window (nothing is counted then).
    private static func countAttempt(keys: [String], policy: SignInPolicy, _ tx: any StoreTransaction, _ now: Double) throws -> Int? {
        var wait: Double = 0
        for key in keys {
            let recent = try tx.signInAttempts(key: key, since: now - policy.attemptWindow)
            if recent.count >= policy.attemptLimit, let oldest = recent.first {
                wait = max(wait, oldest + policy.attemptWindow - now)
            }
        }
        if wait > 0 { return max(1, Int(wait.rounded(.up))) }
        for key in keys { try tx.recordSignInAttempt(key: key, at: now) }
        return nil
    }

    @discardableResult
    private static func queueSignInLink(
        token: String, account: AccountRecord, baseURL: String, policy: SignInPolicy, _ tx: any StoreTransaction, _ now: Double
    ) throws -> URL {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: "\(base)/sign-in/\(token)"), url.scheme == "http" || url.scheme == "https" else {
            throw RosterFlowError(.invalidInput, "'\(baseURL)' is not a base URL (e.g. https://rosterflow.example); set --public-url")
        }
        try tx.insertSignInLink(SignInLinkRecord(
            tokenHash: tokenHash(token), accountID: account.id, createdAt: now, expiresAt: now + policy.linkLifetime))
        let values: [(String, String)] = [
            ("sign_in_url", url.absoluteString), ("account_name", account.name), ("account_email", account.email),
            ("expires_minutes", String(Int(policy.linkLifetime / 60))),
        ]
        try tx.insertOutbox(OutboxRecord(
            id: Identifier.make(prefix: "msg", length: 12), instanceID: account.id, transitionSeq: nil, channel: .email,
            recipient: account.email, template: signInTemplate, payload: JSONText.object(values), nextAttemptAt: now, createdAt: now))
        return url
    }

    /// A secret of 32 random bytes from the system's CSPRNG, base64url, after `prefix`.
    static func newSecret(prefix: String) -> String {
        prefix + String(newTokenText().dropFirst(3))
    }
}
