import Crypto
import Foundation
import StorageCore
import WorkflowEngine

/// An account as shown by `rosterflow accounts list` and the API.
public struct AccountView: Sendable, Codable, Equatable {
    public var id: String
    public var email: String
    public var name: String
    /// `vendor_admin`, `dsp` or `school_admin`: the workflow role the account acts in.
    public var role: String
    /// `all`, `assigned` or `district`.
    public var scope: String
    /// The tenant ids the account may see (empty for scope `all`).
    public var districts: [String]
    /// `active` or `disabled`.
    public var status: String
    /// ISO 8601, UTC.
    public var createdAt: String
    public var disabledAt: String?

    init(_ record: AccountRecord) {
        id = record.id
        email = record.email
        name = record.name
        role = record.role
        scope = record.scope
        districts = record.districts
        status = record.status
        createdAt = Timestamp.iso(record.createdAt)
        disabledAt = record.disabledAt.map(Timestamp.iso)
    }
}

/// An API token as listed: never the token itself.
public struct TokenView: Sendable, Codable, Equatable {
    public var id: String
    public var accountID: String
    public var name: String
    /// `active`, `expired` or `revoked`.
    public var status: String
    public var createdAt: String
    public var expiresAt: String?
    public var revokedAt: String?

    init(_ record: APITokenRecord, now: Double) {
        id = record.id
        accountID = record.accountID
        name = record.name
        status = record.revokedAt != nil ? "revoked" : (record.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
        createdAt = Timestamp.iso(record.createdAt)
        expiresAt = record.expiresAt.map(Timestamp.iso)
        revokedAt = record.revokedAt.map(Timestamp.iso)
    }
}

/// A token just created: the only time its text is shown.
public struct IssuedToken: Sendable, Codable, Equatable {
    /// `rf_` and 43 base64url characters (32 random bytes); keep it secret, it is not stored.
    public var token: String
    public var details: TokenView
}

/// Which districts (tenant ids) an account may see.
public enum DistrictScope: Sendable, Equatable {
    case all
    case only(Set<String>)

    /// Whether the district with this tenant id is in scope.
    public func allows(_ tenantID: String) -> Bool {
        switch self {
        case .all: true
        case let .only(districts): districts.contains(tenantID)
        }
    }
}

/// Who is calling: an active account, authenticated by one of its tokens (or, later, a session).
public struct Principal: Sendable, Equatable {
    public var account: AccountView
    /// The workflow role the account acts in.
    public var role: Role
    public var scope: DistrictScope
    /// How the caller proved who they are, e.g. `token:tok_…`.
    public var credential: String

    /// What history and the audit log record as the actor: `account:` and the e-mail.
    public var actor: String { "account:\(account.email)" }
}

/// What checking a presented token found.
public enum TokenCheck: Sendable, Equatable {
    case valid(Principal)
    /// No token has this text (a typo, or a forged token).
    case unknown
    case revoked
    case expired
    case accountDisabled
}

extension RosterFlowService {
    /// The roles an account may have: every workflow role but the system's.
    public static let accountRoles: [Role] = [.vendorAdmin, .dsp, .schoolAdmin]

    /// Adds an account. A vendor admin sees every district (no `districts`); a DSP the districts listed (at least one);
    /// a school admin exactly one. Audited.
    ///
    /// - Throws: ``RosterFlowError/Code/invalidInput`` for a bad e-mail, an empty name, the system role or districts
    ///   that do not fit the role; ``RosterFlowError/Code/conflict`` when the e-mail has an account already.
    public func addAccount(email: String, name: String, role: Role, districts: [String], actor: String) async throws -> AccountView {
        let email = email.trimmingCharacters(in: .whitespaces)
        let name = name.trimmingCharacters(in: .whitespaces)
        let districts = districts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard EmailAddress.isPlausible(email) else { throw RosterFlowError(.invalidInput, "'\(email)' is not an e-mail address") }
        guard !name.isEmpty else { throw RosterFlowError(.invalidInput, "the account's name is empty") }
        let scope: String
        switch role {
        case .vendorAdmin:
            guard districts.isEmpty else {
                throw RosterFlowError(.invalidInput, "a vendor admin sees every district; leave out --district")
            }
            scope = "all"
        case .dsp:
            guard !districts.isEmpty else {
                throw RosterFlowError(.invalidInput, "a DSP sees the districts assigned to them: give at least one --district TENANT_ID")
            }
            scope = "assigned"
        case .schoolAdmin:
            guard districts.count == 1 else {
                throw RosterFlowError(.invalidInput, "a school admin belongs to exactly one district: give one --district TENANT_ID")
            }
            scope = "district"
        case .system:
            throw RosterFlowError(
                .invalidInput, "'system' is RosterFlow itself, not a person; use vendor_admin, dsp or school_admin")
        }
        let record = try await write { tx, now in
            if let existing = try tx.account(email: email) {
                throw RosterFlowError(.conflict, "\(email) already has an account: \(existing.id) (\(existing.role), \(existing.status))")
            }
            let record = AccountRecord(
                id: Identifier.make(prefix: "acct"), email: email, name: name, role: role.rawValue, scope: scope,
                districts: Array(Set(districts)).sorted(), status: "active", createdAt: now)
            try tx.insertAccount(record)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "account-add", integrationID: nil, subject: record.id, before: nil,
                after: Self.json(AccountView(record))))
            return record
        }
        return AccountView(record)
    }

    /// Every account, oldest first.
    public func accounts() throws -> [AccountView] {
        try read { try $0.accounts() }.map(AccountView.init)
    }

    /// Disables an account (by id or e-mail): its tokens stop working at once. Audited.
    public func disableAccount(_ idOrEmail: String, actor: String) async throws -> AccountView {
        let record = try await write { tx, now in
            var record = try Self.requireAccount(idOrEmail, tx)
            guard record.status != "disabled" else { return record }
            let before = Self.json(AccountView(record))
            record.status = "disabled"
            record.disabledAt = now
            try tx.setAccountStatus(id: record.id, status: record.status, disabledAt: now)
            // A disabled account is signed out of the dashboard everywhere.
            try tx.deleteSessions(accountID: record.id)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "account-disable", integrationID: nil, subject: record.id, before: before,
                after: Self.json(AccountView(record))))
            return record
        }
        return AccountView(record)
    }

    /// Creates an API token for an active account; the token's text is returned this once and only its SHA-256 is
    /// stored. Audited (without the token).
    ///
    /// - Parameter expiresAt: seconds since 1970; nil for a token that does not expire (until revoked).
    public func createToken(account idOrEmail: String, name: String?, expiresAt: Double?, actor: String) async throws -> IssuedToken {
        let token = Self.newTokenText()
        let hash = Self.tokenHash(token)
        let clock = self.clock
        let record = try await write { tx, now in
            let account = try Self.requireAccount(idOrEmail, tx)
            guard account.status == "active" else {
                throw RosterFlowError(.refused, "\(account.email)'s account is disabled; tokens are issued to active accounts only")
            }
            if let expiresAt, expiresAt <= now {
                throw RosterFlowError(.invalidInput, "the expiry \(Timestamp.iso(expiresAt)) is in the past")
            }
            let record = APITokenRecord(
                id: Identifier.make(prefix: "tok"), accountID: account.id,
                name: name?.trimmingCharacters(in: .whitespaces).nilIfEmpty ?? "token", tokenHash: hash, createdAt: now,
                expiresAt: expiresAt)
            try tx.insertToken(record)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "token-create", integrationID: nil, subject: record.id, before: nil,
                after: Self.json(TokenView(record, now: now))))
            return record
        }
        return IssuedToken(token: token, details: TokenView(record, now: clock()))
    }

    /// The tokens of one account (by id or e-mail) or of all, oldest first, never their text.
    public func tokens(account idOrEmail: String? = nil) throws -> [TokenView] {
        let now = clock()
        return try read { tx in
            let accountID = try idOrEmail.map { try Self.requireAccount($0, tx).id }
            return try tx.tokens(accountID: accountID).map { TokenView($0, now: now) }
        }
    }

    /// Revokes a token: it is refused from now on. Audited.
    public func revokeToken(id: String, actor: String) async throws -> TokenView {
        try await write { tx, now in
            guard let record = try tx.token(id: id) else {
                throw RosterFlowError(.notFound, "there is no token \(id); `rosterflow tokens list` shows them")
            }
            try tx.revokeToken(id: id, at: now)
            let after = try tx.token(id: id) ?? record
            if record.revokedAt == nil {
                try tx.insertAudit(AuditRecord(
                    at: now, actor: actor, action: "token-revoke", integrationID: nil, subject: id,
                    before: Self.json(TokenView(record, now: now)), after: Self.json(TokenView(after, now: now))))
            }
            return TokenView(after, now: now)
        }
    }

    /// Checks a presented token: its hash must be stored, not revoked nor expired, and its account active.
    public func checkToken(_ token: String) throws -> TokenCheck {
        let hash = Self.tokenHash(token)
        let now = clock()
        // Every API request checks its token: a valid one is remembered while nothing is committed and it has not
        // expired; anything else is read again.
        let counter = store.commitCounter()
        if let kept = validTokens.value(for: hash, at: counter), kept.expiresAt.map({ $0 > now }) ?? true {
            return .valid(kept.principal)
        }
        let check = try read { tx -> TokenCheck in
            guard let record = try tx.token(hash: hash) else { return .unknown }
            if record.revokedAt != nil { return .revoked }
            if let expiresAt = record.expiresAt, expiresAt <= now { return .expired }
            guard let account = try tx.account(id: record.accountID), account.status == "active" else { return .accountDisabled }
            guard let role = Role(rawValue: account.role), role != .system else { return .accountDisabled }
            let scope: DistrictScope = account.scope == "all" ? .all : .only(Set(account.districts))
            let principal = Principal(account: AccountView(account), role: role, scope: scope, credential: "token:\(record.id)")
            validTokens.keep((principal, record.expiresAt), for: hash, at: counter)
            return .valid(principal)
        }
        return check
    }

    /// Reads `--expires`: a number of days (`90d`) or hours (`12h`) from now, a date (`2027-01-31`, midnight UTC) or an
    /// ISO 8601 time (`2027-01-31T12:00:00Z`).
    public func expiry(parsing text: String) throws -> Double {
        let text = text.trimmingCharacters(in: .whitespaces)
        let now = clock()
        if let unit = text.last, "dh".contains(unit), let count = Int(text.dropLast()), count > 0, count <= 3650 * 24 {
            return now + Double(count) * (unit == "d" ? 86_400 : 3_600)
        }
        if let date = try? Date(text, strategy: .iso8601) { return date.timeIntervalSince1970 }
        if let date = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return date.timeIntervalSince1970 }
        throw RosterFlowError(
            .invalidInput, "'\(text)' is not an expiry; give days (90d), hours (12h), a date (2027-01-31) or a time (2027-01-31T12:00:00Z)")
    }

    /// `rf_` and the base64url form of 32 bytes from the system's CSPRNG (256 bits).
    static func newTokenText() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "rf_" + base64
    }

    /// The stored form of a token: lowercase hex SHA-256 of its UTF-8 bytes.
    static func tokenHash(_ token: String) -> String {
        checksum(token)
    }

    static func requireAccount(_ idOrEmail: String, _ tx: StoreTransaction) throws -> AccountRecord {
        let found = idOrEmail.contains("@") ? try tx.account(email: idOrEmail) : try tx.account(id: idOrEmail)
        guard let found else {
            throw RosterFlowError(.notFound, "there is no account \(idOrEmail); `rosterflow accounts list` shows them")
        }
        return found
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

extension RosterFlowService {
    /// The tenant id of an integration's district, or nil when there is no such integration: what district scoping
    /// compares with an account's districts.
    public func tenantID(ofIntegration id: String) throws -> String? {
        if let known = tenantsOfIntegrations[id] { return known }
        guard let tenant = try read({ try $0.integration(id: id)?.tenantID }) else { return nil }
        tenantsOfIntegrations[id] = tenant
        return tenant
    }
}
