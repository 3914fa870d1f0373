import Foundation
import Hummingbird
import Logging
import NIOCore
import RosterFlowApp
import RosterFlowCore
import ServiceLifecycle

/// How `rosterflow serve` listens.
public struct ServerOptions: Sendable {
    /// The address to bind (default loopback only).
    public var host: String
    /// The port; 0 picks a free one (the bound port is reported when the server runs).
    public var port: Int
    /// The base URL people reach the server at (for links in e-mails later); an `https` one turns HSTS on.
    public var publicURL: String?
    /// Also run the background services (outbox, timers, nightly syncs); false for an API-only process.
    public var worker: Bool

    /// Options with the defaults: 127.0.0.1:8080, with the worker.
    public init(host: String = "127.0.0.1", port: Int = 8080, publicURL: String? = nil, worker: Bool = true) {
        self.host = host
        self.port = port
        self.publicURL = publicURL
        self.worker = worker
    }

    /// Whether responses carry `Strict-Transport-Security` (the public URL is https).
    public var hsts: Bool { publicURL?.lowercased().hasPrefix("https://") ?? false }
}

/// How the dashboard signs people in.
public struct DashboardOptions: Sendable {
    /// Where people reach the server, for the links in sign-in e-mails (never taken from a request's Host header); an
    /// https one makes the dashboard's cookies `Secure`.
    public var publicURL: String
    /// Link and session lifetimes and the sign-in rate limit.
    public var signInPolicy: SignInPolicy

    /// Options with the default policy: links for 15 minutes, sessions idle 1 hour or 12 hours in all, 5 sign-in
    /// attempts per 15 minutes per e-mail and per client address.
    public init(publicURL: String, signInPolicy: SignInPolicy = SignInPolicy()) {
        self.publicURL = publicURL
        self.signInPolicy = signInPolicy
    }
}

/// `rosterflow serve`: the HTTP API and (unless turned off) RosterFlow's background services in one process, under
/// swift-service-lifecycle: SIGTERM or SIGINT stops accepting connections, drains the requests in flight and the
/// deliveries being sent, then exits.
public enum RosterFlowServer {
    /// The router with every API route, its middleware and the access layer over `service`, and (given `dashboard`)
    /// the dashboard's pages.
    public static func router(service: RosterFlowService, logger: Logger, dashboard: DashboardOptions? = nil) -> Router<AppContext> {
        router(service: service, logger: logger, dashboard: dashboard, listening: nil)
    }

    /// The router; with `listening`, e-mailed links point at the address the server is found listening on once it
    /// runs (`--port 0` without a public URL) instead of `dashboard.publicURL`.
    static func router(
        service: RosterFlowService, logger: Logger, dashboard: DashboardOptions?, listening: ListeningAddress?
    ) -> Router<AppContext> {
        let router = Router(context: AppContext.self)
        API(service: service, logger: logger).register(on: router, authenticators: [BearerTokenAuthenticator(service: service)])
        Hooks(service: service, logger: logger).register(on: router)
        if let dashboard {
            Dashboard(
                service: service, logger: logger, baseURL: dashboard.publicURL,
                secureCookies: dashboard.publicURL.lowercased().hasPrefix("https://"), policy: dashboard.signInPolicy,
                listening: listening
            ).register(on: router)
        }
        return router
    }

    /// The outermost responder over `router`: every error as a problem document, security headers on every response.
    public static func responder(
        for router: Router<AppContext>, hsts: Bool = false, logger: Logger
    ) -> some HTTPResponder<AppContext> {
        ProblemResponder(
            inner: router.buildResponder(), routes: router.routes.map { (path: $0.path.description, method: $0.method) },
            hsts: hsts, logger: logger)
    }

    /// The Hummingbird application serving the API of `service`; `onListening` gets the bound port.
    public static func application(
        service: RosterFlowService, options: ServerOptions, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol & Service {
        let host = options.host.contains(":") ? "[\(options.host)]" : options.host
        // Without a public URL, links point at the listening address; with --port 0 that port is known only once bound.
        let listening = options.publicURL == nil && options.port == 0 ? ListeningAddress() : nil
        let router = router(
            service: service, logger: logger,
            dashboard: DashboardOptions(publicURL: options.publicURL ?? "http://\(host):\(options.port)"), listening: listening)
        return Application(
            responder: responder(for: router, hsts: options.hsts, logger: logger),
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port), serverName: "rosterflow"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.port
                listening?.set("http://\(host):\(port)")
                await onListening(port)
            },
            logger: logger)
    }

    /// Runs the API (and the background services unless `options.worker` is false) until SIGTERM or SIGINT.
    public static func run(
        app: RosterFlowApp, options: ServerOptions, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
    ) async throws {
        let server = application(service: app.service, options: options, logger: logger, onListening: onListening)
        var services: [any Service] = [server]
        if options.worker { services += app.backgroundServices(logger: logger) }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The address the server was found listening on, set once it is bound (links in e-mails point there when no public
/// URL is given and the port was chosen by the system).
final class ListeningAddress: @unchecked Sendable {
    private let lock = NSLock()
    private var url: String?

    /// The `http://HOST:PORT` the server listens on, once known.
    var value: String? { lock.withLock { url } }

    func set(_ value: String) { lock.withLock { url = value } }
}

/// The OpenAPI 3.1 document of `/api/v1/`, kept beside the code (`openapi.yaml`) and built into the binary (so
/// `rosterflow` serves it from any folder), served as is.
public enum OpenAPIDocument {
    /// The document's text.
    public static let text = String(decoding: PackageResources.openapi_yaml, as: UTF8.self)
}
