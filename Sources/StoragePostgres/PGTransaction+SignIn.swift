import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Sign-in links

    func insertSignInLink(_ record: SignInLinkRecord) throws {
        try execute("""
            INSERT INTO sign_in_links (token_hash, account_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)
            """, record.tokenHash, record.accountID, record.createdAt, record.expiresAt, record.usedAt)
    }

    /// In a write transaction the link's row is locked (`FOR UPDATE`) until the transaction ends: the caller reads the
    /// link, sees it unused, then marks it used; two requests presenting one link at once (in any processes) would both
    /// see it unused at READ COMMITTED. With the lock the later one waits and reads the link as the earlier one left it,
    /// used, so a link starts one session only. Read-only transactions (the confirm page) read without locking.
    func signInLink(hash: String) throws -> SignInLinkRecord? {
        let lock = try isReadOnly() ? "" : " FOR UPDATE"
        let rows = try query("""
            SELECT token_hash, account_id, created_at, expires_at, used_at FROM sign_in_links WHERE token_hash = $1\(lock)
            """, hash)
        guard rows.count > 0 else { return nil }
        return SignInLinkRecord(
            tokenHash: rows.text(0, 0), accountID: rows.text(0, 1), createdAt: rows.double(0, 2) ?? 0,
            expiresAt: rows.double(0, 3) ?? 0, usedAt: rows.double(0, 4))
    }

    func markSignInLinkUsed(hash: String, at: Double) throws {
        try execute("UPDATE sign_in_links SET used_at = coalesce(used_at, $1) WHERE token_hash = $2", at, hash)
    }

    // MARK: Sessions

    func insertSession(_ record: SessionRecord) throws {
        try execute("""
            INSERT INTO sessions (id_hash, account_id, csrf_token, method, created_at, last_seen_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, record.idHash, record.accountID, record.csrfToken, record.method, record.createdAt, record.lastSeenAt,
            record.expiresAt)
    }

    func session(hash: String) throws -> SessionRecord? {
        let rows = try query("""
            SELECT id_hash, account_id, csrf_token, method, created_at, last_seen_at, expires_at FROM sessions WHERE id_hash = $1
            """, hash)
        guard rows.count > 0 else { return nil }
        return SessionRecord(
            idHash: rows.text(0, 0), accountID: rows.text(0, 1), csrfToken: rows.text(0, 2), method: rows.text(0, 3),
            createdAt: rows.double(0, 4) ?? 0, lastSeenAt: rows.double(0, 5) ?? 0, expiresAt: rows.double(0, 6) ?? 0)
    }

    func touchSession(hash: String, at: Double) throws {
        try execute("UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id_hash = $2", at, hash)
    }

    func deleteSession(hash: String) throws {
        try execute("DELETE FROM sessions WHERE id_hash = $1", hash)
    }

    func deleteSessions(accountID: String) throws {
        try execute("DELETE FROM sessions WHERE account_id = $1", accountID)
    }

    // MARK: Sign-in attempts

    func recordSignInAttempt(key: String, at: Double) throws {
        try execute("INSERT INTO sign_in_attempts (key, at) VALUES ($1, $2)", key, at)
    }

    /// In a write transaction, first takes an advisory lock on `key` (held to the end of the transaction): the caller
    /// counts the attempts, then records one when under the limit, and two attempts at once (in any processes) would
    /// both count the same attempts at READ COMMITTED and both get in past the limit. With the lock the later one waits,
    /// and its SELECT (a new snapshot) counts the attempt the earlier one recorded.
    func signInAttempts(key: String, since: Double) throws -> [Double] {
        try lockForDecision("rosterflow.sign-in-attempts", key)
        let rows = try query("SELECT at FROM sign_in_attempts WHERE key = $1 AND at >= $2 ORDER BY at", key, since)
        return (0..<rows.count).map { rows.double($0, 0) ?? 0 }
    }
}
