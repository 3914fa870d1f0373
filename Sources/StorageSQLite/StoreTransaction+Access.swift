import StorageCore
import Foundation
import GRDB

extension SQLiteTransaction {
    // MARK: Accounts

    /// Adds an account; the caller checks first that its e-mail is free.
    public func insertAccount(_ record: AccountRecord) throws {
        try db.execute(sql: """
            INSERT INTO accounts (id, email, name, role, scope, districts, status, created_at, disabled_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.id, record.email, record.name, record.role, record.scope,
                             Self.encodeDistricts(record.districts), record.status, record.createdAt, record.disabledAt])
    }

    /// The account with this id, or nil.
    public func account(id: String) throws -> AccountRecord? {
        try db.fastLookup(Self.accountByID, [.text(id)], Self.account)
    }

    /// The account with this e-mail (compared without case), or nil.
    public func account(email: String) throws -> AccountRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM accounts WHERE email = ?", arguments: [email]).map(Self.account)
    }

    /// Every account, oldest first.
    public func accounts() throws -> [AccountRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM accounts ORDER BY created_at, id").map(Self.account)
    }

    /// Sets an account's status (`active` or `disabled`) and when it was disabled.
    public func setAccountStatus(id: String, status: String, disabledAt: Double?) throws {
        try db.execute(sql: "UPDATE accounts SET status = ?, disabled_at = ? WHERE id = ?", arguments: [status, disabledAt, id])
    }

    // MARK: Tokens

    /// Stores a token's hash.
    public func insertToken(_ record: APITokenRecord) throws {
        try db.execute(sql: """
            INSERT INTO api_tokens (id, account_id, name, token_hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.id, record.accountID, record.name, record.tokenHash, record.createdAt, record.expiresAt,
                             record.revokedAt])
    }

    /// The token whose hash this is, or nil.
    public func token(hash: String) throws -> APITokenRecord? {
        try db.fastLookup(Self.tokenByHash, [.text(hash)], Self.token)
    }

    /// The token with this id, or nil.
    public func token(id: String) throws -> APITokenRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM api_tokens WHERE id = ?", arguments: [id]).map(Self.token)
    }

    /// The tokens of one account, or (nil) of all, oldest first.
    public func tokens(accountID: String?) throws -> [APITokenRecord] {
        let filter = accountID == nil ? "" : " WHERE account_id = ?"
        return try Row.fetchAll(
            db, sql: "SELECT * FROM api_tokens\(filter) ORDER BY created_at, id", arguments: accountID.map { [$0] } ?? []
        ).map(Self.token)
    }

    /// Marks a token revoked (a token revoked already keeps its first time).
    public func revokeToken(id: String, at: Double) throws {
        try db.execute(sql: "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", arguments: [at, id])
    }

    // MARK: Idempotency keys

    /// Claims `record.key` for its account: returns nil when the key was free (it is now held, with no answer yet), or
    /// the record already stored under it. A claim with no answer made before `abandonedBefore` (its request died before
    /// answering) is taken over.
    public func claimIdempotencyKey(_ record: IdempotencyRecord, abandonedBefore: Double) throws -> IdempotencyRecord? {
        if let row = try Row.fetchOne(
            db, sql: "SELECT * FROM idempotency_keys WHERE account_id = ? AND key = ?", arguments: [record.accountID, record.key]
        ) {
            let existing = IdempotencyRecord(
                accountID: row["account_id"], key: row["key"], fingerprint: row["fingerprint"], status: row["status"],
                contentType: row["content_type"], body: row["body"], createdAt: row["created_at"])
            guard existing.status == nil, existing.createdAt < abandonedBefore else { return existing }
            try db.execute(sql: """
                UPDATE idempotency_keys SET fingerprint = ?, created_at = ? WHERE account_id = ? AND key = ?
                """, arguments: [record.fingerprint, record.createdAt, record.accountID, record.key])
            return nil
        }
        try db.execute(sql: """
            INSERT INTO idempotency_keys (account_id, key, fingerprint, created_at) VALUES (?, ?, ?, ?)
            """, arguments: [record.accountID, record.key, record.fingerprint, record.createdAt])
        return nil
    }

    /// Stores the answer given under a claimed key.
    public func completeIdempotencyKey(accountID: String, key: String, status: Int, contentType: String?, body: Data) throws {
        try db.execute(sql: """
            UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE account_id = ? AND key = ?
            """, arguments: [status, contentType, body, accountID, key])
    }

    /// Frees a claimed key (its request failed in a way worth trying again).
    public func releaseIdempotencyKey(accountID: String, key: String) throws {
        try db.execute(sql: "DELETE FROM idempotency_keys WHERE account_id = ? AND key = ?", arguments: [accountID, key])
    }

    private static func encodeDistricts(_ districts: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(districts)) ?? Data("[]".utf8), as: UTF8.self)
    }

    private static func account(_ row: Row) -> AccountRecord {
        let districts = decodeDistricts(row["districts"])
        return AccountRecord(
            id: row["id"], email: row["email"], name: row["name"], role: row["role"], scope: row["scope"], districts: districts,
            status: row["status"], createdAt: row["created_at"], disabledAt: row["disabled_at"])
    }

    // Every API request looks up its token and account: cached statements, columns read in place by position.
    private static let accountByID =
        "SELECT id, email, name, role, scope, districts, status, created_at, disabled_at FROM accounts WHERE id = ?"
    private static let tokenByHash =
        "SELECT id, account_id, name, token_hash, created_at, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?"

    private static func account(_ row: FastRow) -> AccountRecord {
        AccountRecord(
            id: row.string(0), email: row.string(1), name: row.string(2), role: row.string(3), scope: row.string(4),
            districts: decodeDistricts(row.string(5)), status: row.string(6), createdAt: row.double(7),
            disabledAt: row.optionalDouble(8))
    }

    /// An account's districts, stored as a JSON array of strings (`[]` for most accounts: no decoder for those).
    private static func decodeDistricts(_ text: String) -> [String] {
        if text == "[]" { return [] }
        return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    private static func token(_ row: FastRow) -> APITokenRecord {
        APITokenRecord(
            id: row.string(0), accountID: row.string(1), name: row.string(2), tokenHash: row.string(3),
            createdAt: row.double(4), expiresAt: row.optionalDouble(5), revokedAt: row.optionalDouble(6))
    }

    private static func token(_ row: Row) -> APITokenRecord {
        APITokenRecord(
            id: row["id"], accountID: row["account_id"], name: row["name"], tokenHash: row["token_hash"],
            createdAt: row["created_at"], expiresAt: row["expires_at"], revokedAt: row["revoked_at"])
    }
}
