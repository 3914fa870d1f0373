/// Sign in with ClassLink: each integration's provider settings, the sign-ins started at the provider (state, nonce,
/// PKCE verifier) and the sessions of the teachers and students who signed in.
public protocol ClassLinkStore {
    /// Sets (or replaces) an integration's provider settings.
    func upsertSignInProvider(_ record: SignInProviderRecord) throws

    /// The provider settings of an integration, or nil.
    func signInProvider(integrationID: String) throws -> SignInProviderRecord?

    /// Every integration's provider settings, by integration id.
    func signInProviders() throws -> [SignInProviderRecord]

    /// Stores a sign-in just started.
    func insertSignInRequest(_ record: SignInRequestRecord) throws

    /// The started sign-in whose state hash this is, or nil.
    func signInRequest(stateHash: String) throws -> SignInRequestRecord?

    /// Marks a started sign-in used; true when this call used it, false when it was used already (or is unknown).
    func useSignInRequest(stateHash: String, at: Double) throws -> Bool

    /// Stores a new person session.
    func insertPersonSession(_ record: PersonSessionRecord) throws

    /// The person session whose cookie hash this is, or nil.
    func personSession(hash: String) throws -> PersonSessionRecord?

    /// Records a request of the session (its idle expiry starts again).
    func touchPersonSession(hash: String, at: Double) throws

    /// Ends one person session.
    func deletePersonSession(hash: String) throws
}
