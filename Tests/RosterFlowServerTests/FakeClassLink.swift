import _CryptoExtras
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A ClassLink written for the tests, on loopback: discovery, authorize (a "who are you" page, or straight back for a
/// person given in advance), token (client secret in the body, PKCE S256 checked, codes that expire after 5 minutes
/// and work once), JWKS (RSA keys generated here, rotated on demand) and the separate user-info endpoint with
/// ClassLink's PascalCase fields. Tests can spoil what it signs to check the relying party's refusals.
final class FakeClassLink: @unchecked Sendable {
    /// A person ClassLink knows.
    struct Person: Sendable {
        var userID: String
        var tenantID: String
        var sourcedID: String
        var loginID: String
        var email: String
        var name: String
    }

    struct Code {
        var person: Person
        var clientID: String
        var redirectURI: String
        var challenge: String
        var method: String
        var nonce: String?
        var issuedAt: Double
        var used = false
    }

    let clientID = "rosterflow-test-client"
    let secret = "fake-classlink-secret-\(UUID().uuidString)"
    private let lock = NSLock()
    private var keys: [(kid: String, key: _RSA.Signing.PrivateKey)]
    private var codes: [String: Code] = [:]
    private var accessTokens: [String: Person] = [:]
    private(set) var port = 0
    /// Seconds added to the wall clock (a code's 5 minutes run out without waiting).
    var clockOffset: Double { get { lock.withLock { offset } } set { lock.withLock { offset = newValue } } }
    private var offset: Double = 0
    /// People offered on the authorize page (the browser picks one); `next` signs in without a page.
    var people: [Person] { get { lock.withLock { known } } set { lock.withLock { known = newValue } } }
    private var known: [Person] = []
    /// Changes the id_token's claims before it is signed (wrong audience, issuer, nonce, expiry…).
    var claimsTweak: (@Sendable (inout [String: Any]) -> Void)? {
        get { lock.withLock { tweak } } set { lock.withLock { tweak = newValue } }
    }
    private var tweak: (@Sendable (inout [String: Any]) -> Void)?
    /// Signs with a key the JWKS never publishes.
    var signWithUnpublishedKey: Bool { get { lock.withLock { unpublished } } set { lock.withLock { unpublished = newValue } } }
    private var unpublished = false
    /// Flips a byte of the signature.
    var tamperSignature: Bool { get { lock.withLock { tamper } } set { lock.withLock { tamper = newValue } } }
    private var tamper = false
    private let strayKey: _RSA.Signing.PrivateKey

    /// What the relying party did: token requests (their form fields and whether an Authorization header came) and
    /// JWKS fetches.
    private(set) var tokenRequests: [(fields: [String: String], basicAuth: Bool)] = []
    private(set) var jwksFetches = 0

    init() throws {
        keys = [("key-1", try _RSA.Signing.PrivateKey(keySize: .bits2048))]
        strayKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
    }

    var issuer: String { "http://127.0.0.1:\(port)" }
    var userInfoURL: String { issuer + "/v2/my/info" }
    var tokenRequestCount: Int { lock.withLock { tokenRequests.count } }
    var jwksFetchCount: Int { lock.withLock { jwksFetches } }
    var lastTokenRequest: (fields: [String: String], basicAuth: Bool)? { lock.withLock { tokenRequests.last } }

    /// Replaces the signing key with a new one (a new key id); the JWKS publishes only the new one.
    func rotate() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        lock.withLock { keys = [("key-\(keys.count + 1)-\(UUID().uuidString.prefix(4))", key)] }
    }

    /// Runs the provider on a loopback port for `body`.
    func run<T: Sendable>(_ body: @Sendable (FakeClassLink) async throws -> T) async throws -> T {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live) { client in
            self.port = try XCTUnwrapPort(client.port)
            return try await body(self)
        }
    }

    // MARK: Authorize, as a function (router tests) and as pages (the browser)

    /// What the authorize endpoint does for `person`: the callback URL it sends the browser to.
    func authorize(_ url: String, as person: Person) throws -> String {
        guard let items = URLComponents(string: url)?.queryItems else { throw FakeError.bad("not a URL: \(url)") }
        var query: [String: String] = [:]
        for item in items { query[item.name] = item.value ?? "" }
        return try approve(query, person: person)
    }

    private func approve(_ query: [String: String], person: Person) throws -> String {
        guard query["response_type"] == "code", query["client_id"] == clientID, let redirect = query["redirect_uri"],
              let challenge = query["code_challenge"], let method = query["code_challenge_method"]
        else { throw FakeError.bad("bad authorize request: \(query)") }
        let code = "code-" + UUID().uuidString
        lock.withLock {
            codes[code] = Code(person: person, clientID: clientID, redirectURI: redirect, challenge: challenge, method: method,
                               nonce: query["nonce"], issuedAt: Date().timeIntervalSince1970 + offset)
        }
        var back = URLComponents(string: redirect)!
        back.queryItems = [URLQueryItem(name: "code", value: code)] + (query["state"].map { [URLQueryItem(name: "state", value: $0)] } ?? [])
        return back.url!.absoluteString
    }

    /// A code ClassLink made for `person` without being asked (a LaunchPad tile), with no state.
    func portalCode(for person: Person, redirectURI: String) -> String {
        let code = "code-" + UUID().uuidString
        lock.withLock {
            codes[code] = Code(person: person, clientID: clientID, redirectURI: redirectURI, challenge: "", method: "",
                               nonce: nil, issuedAt: Date().timeIntervalSince1970 + offset)
        }
        return code
    }

    /// Spoils the PKCE challenge of every code not yet exchanged (the verifier the relying party sends will not match).
    func spoilChallenges() {
        lock.withLock { for key in codes.keys { codes[key]!.challenge = "spoiled" } }
    }

    enum FakeError: Error { case bad(String) }

    // MARK: The server

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get(".well-known/openid-configuration") { _, _ -> Response in
            self.json([
                "issuer": self.issuer, "authorization_endpoint": self.issuer + "/oauth2/v2/auth",
                "token_endpoint": self.issuer + "/oauth2/v2/token", "jwks_uri": self.issuer + "/oauth2/v2/jwks",
                "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"], "code_challenge_methods_supported": ["S256"],
            ])
        }
        router.get("oauth2/v2/auth") { request, _ -> Response in
            var query: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
            if let chosen = query["person"], let person = self.people.first(where: { $0.userID == chosen }) {
                let back = try self.approve(query, person: person)
                return Response(status: .found, headers: [.location: back])
            }
            var page = "<!doctype html><html><head><title>ClassLink LaunchPad (test)</title></head><body><h1>Sign in to ClassLink</h1><ul>"
            for person in self.people {
                var link = URLComponents()
                link.path = "/oauth2/v2/auth"
                link.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
                    + [URLQueryItem(name: "person", value: person.userID)]
                page += "<li><a id=\"as-\(person.userID)\" href=\"\(link.url!.relativeString.replacingOccurrences(of: "&", with: "&amp;"))\">Sign in as \(person.name)</a></li>"
            }
            page += "</ul></body></html>"
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        router.post("oauth2/v2/token") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 65536)
            var fields: [String: String] = [:]
            for pair in String(buffer: body).split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
                fields[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            return try self.token(fields, basicAuth: request.headers[.authorization] != nil)
        }
        router.get("oauth2/v2/jwks") { _, _ -> Response in
            let published = self.lock.withLock {
                self.jwksFetches += 1
                return self.keys
            }
            return self.json(["keys": try published.map { kid, key -> [String: Any] in
                let primitives = try key.publicKey.getKeyPrimitives()
                return ["kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                        "n": Self.base64URL(primitives.modulus), "e": Self.base64URL(primitives.publicExponent)]
            }])
        }
        router.get("v2/my/info") { request, _ -> Response in
            let header = request.headers[.authorization] ?? ""
            guard header.hasPrefix("Bearer "), let person = self.lock.withLock({ self.accessTokens[String(header.dropFirst(7))] }) else {
                return Response(status: .unauthorized)
            }
            let names = person.name.split(separator: " ")
            return self.json([
                "UserId": Int(person.userID) ?? 0, "TenantId": Int(person.tenantID) ?? person.tenantID, "SourcedId": person.sourcedID,
                "LoginId": person.loginID, "Email": person.email, "FirstName": String(names.first ?? ""),
                "LastName": String(names.last ?? ""), "DisplayName": person.name, "Role": "Student", "Tenant": "Test District",
            ])
        }
        return router
    }

    private func token(_ fields: [String: String], basicAuth: Bool) throws -> Response {
        let now = Date().timeIntervalSince1970 + clockOffset
        let outcome: (code: Code?, error: String?) = lock.withLock {
            tokenRequests.append((fields, basicAuth))
            guard fields["grant_type"] == "authorization_code", fields["client_id"] == clientID, fields["client_secret"] == secret else {
                return (nil, "invalid_client")
            }
            guard let code = fields["code"], var found = codes[code], !found.used else { return (nil, "invalid_grant") }
            found.used = true
            codes[code] = found
            guard found.issuedAt + 300 > now, found.redirectURI == fields["redirect_uri"], found.method == "S256",
                  let verifier = fields["code_verifier"],
                  Self.base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))) == found.challenge
            else { return (nil, "invalid_grant") }
            return (found, nil)
        }
        guard let code = outcome.code else { return json(["error": outcome.error ?? "invalid_grant"], status: .badRequest) }
        let access = "at-" + UUID().uuidString
        lock.withLock { accessTokens[access] = code.person }
        var claims: [String: Any] = [
            "iss": issuer, "sub": code.person.userID, "aud": clientID, "exp": Int(now) + 600, "iat": Int(now),
            "auth_time": Int(now), "email": code.person.email, "name": code.person.name, "profile": "Teacher",
        ]
        if let nonce = code.nonce { claims["nonce"] = nonce }
        claimsTweak?(&claims)
        return json(["access_token": access, "token_type": "Bearer", "expires_in": 86400, "id_token": try sign(claims)])
    }

    func sign(_ claims: [String: Any]) throws -> String {
        let (kid, key) = lock.withLock { unpublished ? ("stray", strayKey) : keys[0] }
        let header = try JSONSerialization.data(withJSONObject: ["alg": "RS256", "typ": "JWT", "kid": kid])
        let payload = try JSONSerialization.data(withJSONObject: claims)
        let input = Self.base64URL(header) + "." + Self.base64URL(payload)
        var signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation
        if tamperSignature { signature[signature.startIndex + 10] ^= 0x01 }
        return input + "." + Self.base64URL(signature)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

private func XCTUnwrapPort(_ port: Int?) throws -> Int {
    guard let port else { throw FakeClassLink.FakeError.bad("the live test server has no port") }
    return port
}
