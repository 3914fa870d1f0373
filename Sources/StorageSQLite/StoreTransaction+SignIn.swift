import GRDB
import StorageCore

extension SQLiteTransaction {
    // MARK: Sign-in links

    /// Stores a new sign-in link.
    public func insertSignInLink(_ record: SignInLinkRecord) throws {
        try db.execute(sql: """
            INSERT INTO sign_in_links (token_hash, account_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)
            """, arguments: [record.tokenHash, record.accountID, record.createdAt, record.expiresAt, record.usedAt])
    }

    /// The link whose token hash this is, or nil.
    public func signInLink(hash: String) throws -> SignInLinkRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM sign_in_links WHERE token_hash = ?", arguments: [hash]).map { row in
            SignInLinkRecord(
                tokenHash: row["token_hash"], accountID: row["account_id"], createdAt: row["created_at"],
                expiresAt: row["expires_at"], usedAt: row["used_at"])
        }
    }

    /// Marks a link used (a used link keeps its first time).
    public func markSignInLinkUsed(hash: String, at: Double) throws {
        try db.execute(sql: "UPDATE sign_in_links SET used_at = coalesce(used_at, ?) WHERE token_hash = ?", arguments: [at, hash])
    }

    // MARK: Sessions

    /// Stores a new session.
    public func insertSession(_ record: SessionRecord) throws {
        try db.execute(sql: """
            INSERT INTO sessions (id_hash, account_id, csrf_token, method, created_at, last_seen_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.idHash, record.accountID, record.csrfToken, record.method, record.createdAt,
                             record.lastSeenAt, record.expiresAt])
    }

    /// The session whose cookie hash this is, or nil.
    public func session(hash: String) throws -> SessionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id_hash = ?", arguments: [hash]).map { row in
            SessionRecord(
                idHash: row["id_hash"], accountID: row["account_id"], csrfToken: row["csrf_token"], method: row["method"],
                createdAt: row["created_at"], lastSeenAt: row["last_seen_at"], expiresAt: row["expires_at"])
        }
    }

    /// Records a request of the session (its idle expiry starts again).
    public func touchSession(hash: String, at: Double) throws {
        try db.execute(sql: "UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?", arguments: [at, hash])
    }

    /// Ends one session.
    public func deleteSession(hash: String) throws {
        try db.execute(sql: "DELETE FROM sessions WHERE id_hash = ?", arguments: [hash])
    }

    /// Ends every session of an account.
    public func deleteSessions(accountID: String) throws {
        try db.execute(sql: "DELETE FROM sessions WHERE account_id = ?", arguments: [accountID])
    }

    // MARK: Sign-in attempts

    /// Counts one sign-in attempt under `key`.
    public func recordSignInAttempt(key: String, at: Double) throws {
        try db.execute(sql: "INSERT INTO sign_in_attempts (key, at) VALUES (?, ?)", arguments: [key, at])
    }

    /// The times of the attempts under `key` since `since`, oldest first.
    public func signInAttempts(key: String, since: Double) throws -> [Double] {
        try Double.fetchAll(db, sql: "SELECT at FROM sign_in_attempts WHERE key = ? AND at >= ? ORDER BY at", arguments: [key, since])
    }
}
