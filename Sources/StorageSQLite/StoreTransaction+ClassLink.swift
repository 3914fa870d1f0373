import GRDB
import StorageCore

extension SQLiteTransaction {
    // MARK: Provider settings

    /// Sets (or replaces) an integration's provider settings. The first setting makes its enrollments findable by
    /// class and user (a signed-in person's roles).
    public func upsertSignInProvider(_ record: SignInProviderRecord) throws {
        try keepingEnrollmentLookups(integrationID: record.integrationID) {
            try db.execute(sql: """
                INSERT OR REPLACE INTO sign_in_providers
                    (integration_id, provider, issuer, client_id, secret_env, scopes, user_info_url, actor, set_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.integrationID, record.provider, record.issuer, record.clientID, record.secretEnv, record.scopes,
                                 record.userInfoURL, record.actor, record.setAt])
        }
    }

    /// The provider settings of an integration, or nil.
    public func signInProvider(integrationID: String) throws -> SignInProviderRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM sign_in_providers WHERE integration_id = ?", arguments: [integrationID])
            .map(Self.signInProvider)
    }

    /// Every integration's provider settings, by integration id.
    public func signInProviders() throws -> [SignInProviderRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM sign_in_providers ORDER BY integration_id").map(Self.signInProvider)
    }

    private static func signInProvider(_ row: Row) -> SignInProviderRecord {
        SignInProviderRecord(
            integrationID: row["integration_id"], provider: row["provider"], issuer: row["issuer"], clientID: row["client_id"],
            secretEnv: row["secret_env"], scopes: row["scopes"], userInfoURL: row["user_info_url"], actor: row["actor"],
            setAt: row["set_at"])
    }

    // MARK: Started sign-ins

    /// Stores a sign-in just started.
    public func insertSignInRequest(_ record: SignInRequestRecord) throws {
        try db.execute(sql: """
            INSERT INTO sign_in_requests (state_hash, integration_id, nonce, code_verifier, created_at, expires_at, used_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.stateHash, record.integrationID, record.nonce, record.codeVerifier, record.createdAt,
                             record.expiresAt, record.usedAt])
    }

    /// The started sign-in whose state hash this is, or nil.
    public func signInRequest(stateHash: String) throws -> SignInRequestRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM sign_in_requests WHERE state_hash = ?", arguments: [stateHash]).map { row in
            SignInRequestRecord(
                stateHash: row["state_hash"], integrationID: row["integration_id"], nonce: row["nonce"],
                codeVerifier: row["code_verifier"], createdAt: row["created_at"], expiresAt: row["expires_at"], usedAt: row["used_at"])
        }
    }

    /// Marks a started sign-in used; true when this call used it.
    public func useSignInRequest(stateHash: String, at: Double) throws -> Bool {
        try db.execute(
            sql: "UPDATE sign_in_requests SET used_at = ? WHERE state_hash = ? AND used_at IS NULL", arguments: [at, stateHash])
        return db.changesCount == 1
    }

    // MARK: Person sessions

    /// Stores a new person session.
    public func insertPersonSession(_ record: PersonSessionRecord) throws {
        try db.execute(sql: """
            INSERT INTO person_sessions
                (id_hash, integration_id, sourced_id, role, provider_user_id, csrf_token, created_at, last_seen_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.idHash, record.integrationID, record.sourcedID, record.role, record.providerUserID,
                             record.csrfToken, record.createdAt, record.lastSeenAt, record.expiresAt])
    }

    /// The person session whose cookie hash this is, or nil.
    public func personSession(hash: String) throws -> PersonSessionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM person_sessions WHERE id_hash = ?", arguments: [hash]).map { row in
            PersonSessionRecord(
                idHash: row["id_hash"], integrationID: row["integration_id"], sourcedID: row["sourced_id"], role: row["role"],
                providerUserID: row["provider_user_id"], csrfToken: row["csrf_token"], createdAt: row["created_at"],
                lastSeenAt: row["last_seen_at"], expiresAt: row["expires_at"])
        }
    }

    /// Records a request of the session.
    public func touchPersonSession(hash: String, at: Double) throws {
        try db.execute(sql: "UPDATE person_sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?", arguments: [at, hash])
    }

    /// Ends one person session.
    public func deletePersonSession(hash: String) throws {
        try db.execute(sql: "DELETE FROM person_sessions WHERE id_hash = ?", arguments: [hash])
    }
}
