import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The outermost layer: wraps the router so that every error — ours, the router's own 404 for an unknown path, a wrong
/// method (405 with `Allow`), an oversize or malformed body — is answered as an RFC 9457 problem document, and every
/// response carries the security headers.
struct ProblemResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == AppContext {
    typealias Context = AppContext
    let inner: Inner
    /// Each route's path split into segments (`{id}` matches any one segment) with its methods.
    let routes: [(segments: [Substring], methods: [HTTPRequest.Method])]
    let securityHeaders: HTTPFields
    let logger: Logger

    init(inner: Inner, routes: [(path: String, method: HTTPRequest.Method)], hsts: Bool, logger: Logger) {
        self.inner = inner
        var byPath: [String: [HTTPRequest.Method]] = [:]
        for route in routes { byPath[route.path, default: []].append(route.method) }
        self.routes = byPath.sorted { $0.key < $1.key }.map { path, methods in
            (path.split(separator: "/"), methods.sorted { $0.rawValue < $1.rawValue })
        }
        securityHeaders = SecurityHeaders.fields(hsts: hsts)
        self.logger = logger
    }

    func respond(to request: Request, context: AppContext) async throws -> Response {
        var response: Response
        do {
            response = try await inner.respond(to: request, context: context)
            // The router answers Hummingbird's own errors itself (an unknown path, an oversize body): as problems too.
            // (The dashboard's own error pages are HTML for people, and stay so.)
            if response.status.code >= 400, response.headers[.contentType] != ProblemDocument.mediaType,
               response.headers[.contentType]?.hasPrefix("text/html") != true {
                let (problem, headers) = Problems.problem(
                    for: HTTPError(response.status), request: request, allowedMethods: allowedMethods, logger: logger)
                response = Problems.response(problem, headers: headers)
            }
        } catch {
            let (problem, headers) = Problems.problem(for: error, request: request, allowedMethods: allowedMethods, logger: logger)
            response = Problems.response(problem, headers: headers)
        }
        for field in securityHeaders where response.headers[field.name] == nil {
            response.headers.append(field)
        }
        return response
    }

    /// The methods of the routes whose path matches `path`.
    func allowedMethods(_ path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        var methods: [HTTPRequest.Method] = []
        for route in routes where route.segments.count == segments.count {
            let matches = zip(route.segments, segments).allSatisfy { pattern, segment in
                (pattern.hasPrefix("{") && pattern.hasSuffix("}")) || pattern.hasPrefix(":") || pattern == segment
            }
            if matches { methods += route.methods.filter { !methods.contains($0) } }
        }
        return methods
    }
}

/// The headers every response carries (OWASP ASVS 3.4): a CSP without inline script that forbids framing, no MIME
/// sniffing, no referrer to other sites, an isolated browsing context, no caching of API answers, and HSTS behind TLS.
enum SecurityHeaders {
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static func fields(hsts: Bool) -> HTTPFields {
        var fields: HTTPFields = [
            .contentSecurityPolicy: contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "same-origin",
            .crossOriginOpenerPolicy: "same-origin",
            .cacheControl: "no-store",
        ]
        if hsts { fields[.strictTransportSecurity] = "max-age=31536000" }
        return fields
    }
}

extension HTTPField.Name {
    static let referrerPolicy = Self("Referrer-Policy")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
