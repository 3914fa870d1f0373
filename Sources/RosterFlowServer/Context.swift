import Hummingbird
import Logging
import RosterFlowCore

/// The request context of every route: the core storage, and who is calling once an authenticator has said so.
public struct AppContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil until the access middleware has checked the request's credentials.
    public var principal: Principal?
    /// The dashboard session's synchronizer token (CSRF), once the session middleware found the session.
    var csrfToken: String?
    /// The teacher or student of a Sign in with ClassLink session, once the person session middleware found it.
    var person: SignedInPerson?
    /// The client's address (the peer of the connection), for rate limits.
    var clientAddress: String

    /// A context for a new request.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// JSON bodies of the API are small: 64 KiB at most (a larger one is answered 413).
    public var maxUploadSize: Int { 64 * 1024 }

    /// The caller, or 401 when no authenticator ran (a route outside the authenticated group).
    func requirePrincipal() throws -> Principal {
        guard let principal else {
            throw AccessError(.unauthenticated, "sign in: send Authorization: Bearer <token>", cause: "missing-credentials")
        }
        return principal
    }
}

/// Proves who sends a request. API tokens (`Authorization: Bearer …`) are the first kind; dashboard sessions are meant
/// to be a second conformer beside it.
public protocol Authenticator: Sendable {
    /// The caller this request's credential names; nil when the request carries no credential of this kind.
    /// - Throws: ``AccessError`` (401) for a credential of this kind that does not work.
    func authenticate(_ request: Request) throws -> Principal?
}

/// `Authorization: Bearer rf_…`, checked against the SHA-256 hashes of the stored tokens.
public struct BearerTokenAuthenticator: Authenticator {
    let service: RosterFlowService

    /// Checks tokens against `service`'s database.
    public init(service: RosterFlowService) {
        self.service = service
    }

    public func authenticate(_ request: Request) throws -> Principal? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AccessError(.unauthenticated, "the Authorization header must be 'Bearer <token>'", cause: "unsupported-scheme")
        }
        // Spaces and tabs around the token are not part of it (trimmed without Foundation's CharacterSet: every request).
        var trimmed = parts[1]
        while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        let token = String(trimmed)
        // Our tokens are short ASCII; anything else cannot be one, and is not hashed.
        guard token.utf8.count <= 128 else {
            throw AccessError(.unauthenticated, "this token is not valid", cause: "unknown-token")
        }
        switch try service.checkToken(token) {
        case let .valid(principal): return principal
        case .unknown: throw AccessError(.unauthenticated, "this token is not valid", cause: "unknown-token")
        case .revoked: throw AccessError(.unauthenticated, "this token was revoked; ask for a new one", cause: "revoked-token")
        case .expired: throw AccessError(.unauthenticated, "this token has expired; ask for a new one", cause: "expired-token")
        case .accountDisabled:
            throw AccessError(.unauthenticated, "the account of this token is disabled", cause: "account-disabled")
        }
    }
}

/// Lets a request through only when one of the authenticators names its caller (401 otherwise), and records the caller
/// in the context.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let authenticators: [any Authenticator]

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        for authenticator in authenticators {
            if let principal = try authenticator.authenticate(request) {
                var context = context
                context.principal = principal
                context.logger[metadataKey: "account"] = .string(principal.account.id)
                return try await next(request, context)
            }
        }
        throw AccessError(.unauthenticated, "sign in: send Authorization: Bearer <token>", cause: "missing-credentials")
    }
}
