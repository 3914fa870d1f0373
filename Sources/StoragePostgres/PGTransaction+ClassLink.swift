import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Provider settings

    private static let providerColumns =
        "integration_id, provider, issuer, client_id, secret_env, scopes, user_info_url, actor, set_at"

    func upsertSignInProvider(_ record: SignInProviderRecord) throws {
        try keepingEnrollmentLookups(integrationID: record.integrationID) {
            try execute("""
                INSERT INTO sign_in_providers (\(Self.providerColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (integration_id) DO UPDATE SET provider = EXCLUDED.provider, issuer = EXCLUDED.issuer,
                    client_id = EXCLUDED.client_id, secret_env = EXCLUDED.secret_env, scopes = EXCLUDED.scopes,
                    user_info_url = EXCLUDED.user_info_url, actor = EXCLUDED.actor, set_at = EXCLUDED.set_at
                """, record.integrationID, record.provider, record.issuer, record.clientID, record.secretEnv, record.scopes,
                record.userInfoURL, record.actor, record.setAt)
        }
    }

    func signInProvider(integrationID: String) throws -> SignInProviderRecord? {
        let rows = try query("SELECT \(Self.providerColumns) FROM sign_in_providers WHERE integration_id = $1", integrationID)
        return rows.count == 0 ? nil : Self.signInProvider(rows, 0)
    }

    func signInProviders() throws -> [SignInProviderRecord] {
        let rows = try query("SELECT \(Self.providerColumns) FROM sign_in_providers ORDER BY integration_id")
        return (0..<rows.count).map { Self.signInProvider(rows, $0) }
    }

    private static func signInProvider(_ rows: PGRows, _ row: Int) -> SignInProviderRecord {
        SignInProviderRecord(
            integrationID: rows.text(row, 0), provider: rows.text(row, 1), issuer: rows.text(row, 2), clientID: rows.text(row, 3),
            secretEnv: rows.text(row, 4), scopes: rows.text(row, 5), userInfoURL: rows.string(row, 6), actor: rows.text(row, 7),
            setAt: rows.double(row, 8) ?? 0)
    }

    // MARK: Started sign-ins

    func insertSignInRequest(_ record: SignInRequestRecord) throws {
        try execute("""
            INSERT INTO sign_in_requests (state_hash, integration_id, nonce, code_verifier, created_at, expires_at, used_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, record.stateHash, record.integrationID, record.nonce, record.codeVerifier, record.createdAt, record.expiresAt,
            record.usedAt)
    }

    func signInRequest(stateHash: String) throws -> SignInRequestRecord? {
        let rows = try query("""
            SELECT state_hash, integration_id, nonce, code_verifier, created_at, expires_at, used_at
            FROM sign_in_requests WHERE state_hash = $1
            """, stateHash)
        guard rows.count > 0 else { return nil }
        return SignInRequestRecord(
            stateHash: rows.text(0, 0), integrationID: rows.text(0, 1), nonce: rows.text(0, 2), codeVerifier: rows.text(0, 3),
            createdAt: rows.double(0, 4) ?? 0, expiresAt: rows.double(0, 5) ?? 0, usedAt: rows.double(0, 6))
    }

    /// A conditional UPDATE: of two callbacks with one state at once (in any processes), the later one's UPDATE waits
    /// for the earlier one's row, re-checks `used_at IS NULL` on the row as committed, and changes nothing.
    func useSignInRequest(stateHash: String, at: Double) throws -> Bool {
        try execute("UPDATE sign_in_requests SET used_at = $1 WHERE state_hash = $2 AND used_at IS NULL", at, stateHash) == 1
    }

    // MARK: Person sessions

    func insertPersonSession(_ record: PersonSessionRecord) throws {
        try execute("""
            INSERT INTO person_sessions
                (id_hash, integration_id, sourced_id, role, provider_user_id, csrf_token, created_at, last_seen_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, record.idHash, record.integrationID, record.sourcedID, record.role, record.providerUserID, record.csrfToken,
            record.createdAt, record.lastSeenAt, record.expiresAt)
    }

    func personSession(hash: String) throws -> PersonSessionRecord? {
        let rows = try query("""
            SELECT id_hash, integration_id, sourced_id, role, provider_user_id, csrf_token, created_at, last_seen_at, expires_at
            FROM person_sessions WHERE id_hash = $1
            """, hash)
        guard rows.count > 0 else { return nil }
        return PersonSessionRecord(
            idHash: rows.text(0, 0), integrationID: rows.text(0, 1), sourcedID: rows.text(0, 2), role: rows.text(0, 3),
            providerUserID: rows.text(0, 4), csrfToken: rows.text(0, 5), createdAt: rows.double(0, 6) ?? 0,
            lastSeenAt: rows.double(0, 7) ?? 0, expiresAt: rows.double(0, 8) ?? 0)
    }

    func touchPersonSession(hash: String, at: Double) throws {
        try execute("UPDATE person_sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id_hash = $2", at, hash)
    }

    func deletePersonSession(hash: String) throws {
        try execute("DELETE FROM person_sessions WHERE id_hash = $1", hash)
    }
}
