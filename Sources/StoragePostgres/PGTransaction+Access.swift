import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Accounts

    private static let accountColumns = "id, email, name, role, scope, districts, status, created_at, disabled_at"

    /// Adds an account; the caller checks first that its e-mail is free. Two requests adding one e-mail at once (in any
    /// letter case) both find it free: the unique index on `lower(email)` refuses the later insert, which becomes
    /// `busy` so the later request runs again and finds the account (see ``insertUnlessTaken(_:_:taken:)``).
    func insertAccount(_ record: AccountRecord) throws {
        try insertUnlessTaken("""
            INSERT INTO accounts (id, email, name, role, scope, districts, status, created_at, disabled_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, [record.id.pgParam, record.email.pgParam, record.name.pgParam, record.role.pgParam, record.scope.pgParam,
                  Self.encodeDistricts(record.districts).pgParam, record.status.pgParam, record.createdAt.pgParam,
                  record.disabledAt.pgParam],
            taken: "an account with the e-mail \(record.email) was added")
    }

    func account(id: String) throws -> AccountRecord? {
        let rows = try query("SELECT \(Self.accountColumns) FROM accounts WHERE id = $1", id)
        return rows.count == 0 ? nil : Self.account(rows, 0)
    }

    /// Compared without case as SQLite's `COLLATE NOCASE` does (ASCII letters only: `lower` under the column's "C"
    /// collation), through the unique index on `lower(email)`.
    func account(email: String) throws -> AccountRecord? {
        let rows = try query(
            "SELECT \(Self.accountColumns) FROM accounts WHERE lower(email) = lower($1::text COLLATE \"C\")", email)
        return rows.count == 0 ? nil : Self.account(rows, 0)
    }

    func accounts() throws -> [AccountRecord] {
        let rows = try query("SELECT \(Self.accountColumns) FROM accounts ORDER BY created_at, id")
        return (0..<rows.count).map { Self.account(rows, $0) }
    }

    func setAccountStatus(id: String, status: String, disabledAt: Double?) throws {
        try execute("UPDATE accounts SET status = $1, disabled_at = $2 WHERE id = $3", status, disabledAt, id)
    }

    // MARK: Tokens

    private static let tokenColumns = "id, account_id, name, token_hash, created_at, expires_at, revoked_at"

    func insertToken(_ record: APITokenRecord) throws {
        try execute("""
            INSERT INTO api_tokens (id, account_id, name, token_hash, created_at, expires_at, revoked_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, record.id, record.accountID, record.name, record.tokenHash, record.createdAt, record.expiresAt, record.revokedAt)
    }

    func token(hash: String) throws -> APITokenRecord? {
        let rows = try query("SELECT \(Self.tokenColumns) FROM api_tokens WHERE token_hash = $1", hash)
        return rows.count == 0 ? nil : Self.token(rows, 0)
    }

    func token(id: String) throws -> APITokenRecord? {
        let rows = try query("SELECT \(Self.tokenColumns) FROM api_tokens WHERE id = $1", id)
        return rows.count == 0 ? nil : Self.token(rows, 0)
    }

    func tokens(accountID: String?) throws -> [APITokenRecord] {
        let rows: PGRows
        if let accountID {
            rows = try query("SELECT \(Self.tokenColumns) FROM api_tokens WHERE account_id = $1 ORDER BY created_at, id", accountID)
        } else {
            rows = try query("SELECT \(Self.tokenColumns) FROM api_tokens ORDER BY created_at, id")
        }
        return (0..<rows.count).map { Self.token(rows, $0) }
    }

    func revokeToken(id: String, at: Double) throws {
        try execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2", at, id)
    }

    // MARK: Idempotency keys

    /// One statement claims a free key or takes over an abandoned claim, so two requests (in any processes) never both
    /// get nil: the INSERT of the later one waits on the earlier one's row, then meets the conflict; `DO UPDATE … WHERE`
    /// takes over only a row still unanswered and older than `abandonedBefore` (re-checked on the newest row version,
    /// so of two takeovers at once only the first one's condition holds). A conflicting row is locked by `ON CONFLICT`
    /// even when the WHERE leaves it unchanged, so it is still there for the SELECT that reads it back.
    func claimIdempotencyKey(_ record: IdempotencyRecord, abandonedBefore: Double) throws -> IdempotencyRecord? {
        let claimed = try query("""
            INSERT INTO idempotency_keys (account_id, key, fingerprint, created_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (account_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at
            WHERE idempotency_keys.status IS NULL AND idempotency_keys.created_at < $5
            RETURNING 1
            """, record.accountID, record.key, record.fingerprint, record.createdAt, abandonedBefore)
        if claimed.count > 0 { return nil }
        let rows = try query("""
            SELECT account_id, key, fingerprint, status, content_type, body, created_at FROM idempotency_keys
            WHERE account_id = $1 AND key = $2
            """, record.accountID, record.key)
        guard rows.count > 0 else {
            throw StorageError(.busy, "the idempotency key \(record.key) changed hands while it was claimed; try again")
        }
        return IdempotencyRecord(
            accountID: rows.text(0, 0), key: rows.text(0, 1), fingerprint: rows.text(0, 2), status: rows.int(0, 3),
            contentType: rows.string(0, 4), body: rows.data(0, 5), createdAt: rows.double(0, 6) ?? 0)
    }

    func completeIdempotencyKey(accountID: String, key: String, status: Int, contentType: String?, body: Data) throws {
        try execute("""
            UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3 WHERE account_id = $4 AND key = $5
            """, status, contentType, body, accountID, key)
    }

    func releaseIdempotencyKey(accountID: String, key: String) throws {
        try execute("DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2", accountID, key)
    }

    // MARK: Decoding

    private static func encodeDistricts(_ districts: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(districts)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// An account's districts, stored as a JSON array of strings.
    private static func decodeDistricts(_ text: String) -> [String] {
        if text == "[]" { return [] }
        return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    private static func account(_ rows: PGRows, _ row: Int) -> AccountRecord {
        AccountRecord(
            id: rows.text(row, 0), email: rows.text(row, 1), name: rows.text(row, 2), role: rows.text(row, 3),
            scope: rows.text(row, 4), districts: decodeDistricts(rows.text(row, 5)), status: rows.text(row, 6),
            createdAt: rows.double(row, 7) ?? 0, disabledAt: rows.double(row, 8))
    }

    private static func token(_ rows: PGRows, _ row: Int) -> APITokenRecord {
        APITokenRecord(
            id: rows.text(row, 0), accountID: rows.text(row, 1), name: rows.text(row, 2), tokenHash: rows.text(row, 3),
            createdAt: rows.double(row, 4) ?? 0, expiresAt: rows.double(row, 5), revokedAt: rows.double(row, 6))
    }
}
