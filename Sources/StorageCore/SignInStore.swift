/// Dashboard sign-in: one-time links, sessions and the counters that rate-limit sign-in attempts.
public protocol SignInStore {
    /// Stores a new sign-in link.
    func insertSignInLink(_ record: SignInLinkRecord) throws

    /// The link whose token hash this is, or nil.
    func signInLink(hash: String) throws -> SignInLinkRecord?

    /// Marks a link used (a used link keeps its first time).
    func markSignInLinkUsed(hash: String, at: Double) throws

    /// Stores a new session.
    func insertSession(_ record: SessionRecord) throws

    /// The session whose cookie hash this is, or nil.
    func session(hash: String) throws -> SessionRecord?

    /// Records a request of the session (its idle expiry starts again).
    func touchSession(hash: String, at: Double) throws

    /// Ends one session.
    func deleteSession(hash: String) throws

    /// Ends every session of an account.
    func deleteSessions(accountID: String) throws

    /// Counts one sign-in attempt under `key` (e.g. `email:…` or `client:…`).
    func recordSignInAttempt(key: String, at: Double) throws

    /// The times of the attempts under `key` since `since`, oldest first.
    func signInAttempts(key: String, since: Double) throws -> [Double]
}
