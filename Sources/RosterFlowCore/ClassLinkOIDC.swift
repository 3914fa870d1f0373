import _CryptoExtras
import Crypto
import Foundation
import OneRosterREST

/// The OpenID Connect relying party's protocol pieces for Sign in with ClassLink: the provider's discovery document and
/// keys (cached per issuer; the keys are fetched again once when an id_token names a key id they lack, for key
/// rotation), PKCE, the code exchange (client secret in the body), the id_token's RS256 signature and claims, and the
/// separate user-info endpoint. No storage: the service keeps state, nonce and verifier.
enum OIDC {
    /// Clock skew accepted on `exp` and `iat` (seconds).
    static let leeway: Double = 60

    /// The parts of a provider's discovery document RosterFlow reads.
    struct Discovery: Sendable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksURI: String
        var userInfoEndpoint: String?
    }

    /// A refusal during sign-in: the person's page shows `message` and the stable `cause`.
    static func refused(_ cause: String, _ message: String) -> RosterFlowError {
        RosterFlowError(.refused, message, cause: cause)
    }

    // MARK: HTTP

    /// The transport sign-ins use: short timeouts, small bodies, TLS verified, no redirects.
    static let transport = CurlHTTPTransport(connectTimeout: 10, timeout: 20, maxBodyBytes: 1 << 20)

    /// Sends a request on a Dispatch thread (libcurl blocks; the cooperative pool is not held).
    static func send(_ request: HTTPRequest) async throws -> OneRosterREST.HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: try transport.send(request))
                } catch {
                    continuation.resume(throwing: refused(
                        "provider-unreachable", "ClassLink could not be reached (\(request.url.prefix(80))); try signing in again in a minute"))
                }
            }
        }
    }

    static func json(_ data: Data, what: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw refused("provider-answer", "ClassLink's \(what) was not a JSON object; try signing in again")
        }
        return object
    }

    // MARK: Discovery and keys

    /// Discovery documents and key sets by issuer.
    actor Cache {
        var discoveries: [String: (Discovery, Double)] = [:]
        var keys: [String: [String: _RSA.Signing.PublicKey]] = [:]

        func discovery(issuer: String, now: Double) async throws -> Discovery {
            if let (found, at) = discoveries[issuer], now - at < 3600 { return found }
            let fetched = try await OIDC.fetchDiscovery(issuer: issuer)
            discoveries[issuer] = (fetched, now)
            return fetched
        }

        /// The key `kid` of `jwksURI`: from the cache, else from a fresh fetch (once), else nil.
        func key(jwksURI: String, kid: String?) async throws -> _RSA.Signing.PublicKey? {
            if let cached = keys[jwksURI], let key = OIDC.pick(cached, kid: kid) { return key }
            let fetched = try await OIDC.fetchKeys(jwksURI)
            keys[jwksURI] = fetched
            return OIDC.pick(fetched, kid: kid)
        }
    }

    static let cache = Cache()

    static func pick(_ keys: [String: _RSA.Signing.PublicKey], kid: String?) -> _RSA.Signing.PublicKey? {
        if let kid { return keys[kid] }
        return keys.count == 1 ? keys.values.first : nil
    }

    static func fetchDiscovery(issuer: String) async throws -> Discovery {
        var base = issuer
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + "/.well-known/openid-configuration"
        let answer = try await send(HTTPRequest(method: "GET", url: url, headers: [("Accept", "application/json")]))
        guard answer.status == 200 else {
            throw refused("provider-answer", "ClassLink's discovery document (\(url)) answered HTTP \(answer.status); check the issuer URL")
        }
        let doc = try json(answer.body, what: "discovery document")
        guard let iss = doc["issuer"] as? String, let authorize = doc["authorization_endpoint"] as? String,
              let token = doc["token_endpoint"] as? String, let jwks = doc["jwks_uri"] as? String
        else {
            throw refused("provider-answer", "ClassLink's discovery document (\(url)) lacks issuer, authorization, token or jwks_uri")
        }
        guard trimmed(iss) == trimmed(issuer) else {
            throw refused("wrong-issuer", "the discovery document at \(url) names issuer \(iss), not \(issuer); check the issuer URL")
        }
        return Discovery(
            issuer: iss, authorizationEndpoint: authorize, tokenEndpoint: token, jwksURI: jwks,
            userInfoEndpoint: doc["userinfo_endpoint"] as? String)
    }

    static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The RSA signing keys of a JWKS document by key id (keys without a `kid` are keyed by "").
    static func fetchKeys(_ jwksURI: String) async throws -> [String: _RSA.Signing.PublicKey] {
        let answer = try await send(HTTPRequest(method: "GET", url: jwksURI, headers: [("Accept", "application/json")]))
        guard answer.status == 200 else {
            throw refused("provider-answer", "ClassLink's signing keys (\(jwksURI)) answered HTTP \(answer.status); try again in a minute")
        }
        return parseKeys(try json(answer.body, what: "key set"))
    }

    static func parseKeys(_ doc: [String: Any]) -> [String: _RSA.Signing.PublicKey] {
        var keys: [String: _RSA.Signing.PublicKey] = [:]
        for case let jwk as [String: Any] in doc["keys"] as? [Any] ?? [] {
            guard jwk["kty"] as? String == "RSA", (jwk["use"] as? String ?? "sig") == "sig",
                  let n = (jwk["n"] as? String).flatMap(base64URL), let e = (jwk["e"] as? String).flatMap(base64URL),
                  let key = try? _RSA.Signing.PublicKey(n: n, e: e)
            else { continue }
            keys[jwk["kid"] as? String ?? ""] = key
        }
        return keys
    }

    // MARK: PKCE and encodings

    /// The S256 challenge of a PKCE verifier.
    static func challenge(_ verifier: String) -> String {
        base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func base64URL(_ text: String) -> Data? {
        var text = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text)
    }

    static func form(_ fields: [(String, String)]) -> Data {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Data(fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
    }

    // MARK: The code exchange

    /// Tokens from the token endpoint.
    struct Tokens {
        var idToken: String
        var accessToken: String
    }

    /// Exchanges a code (client_secret_post, with the PKCE verifier).
    static func exchange(
        code: String, discovery: Discovery, clientID: String, secret: String, redirectURI: String, verifier: String
    ) async throws -> Tokens {
        let body = form([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("client_id", clientID),
            ("client_secret", secret), ("code_verifier", verifier),
        ])
        let answer = try await send(HTTPRequest(
            method: "POST", url: discovery.tokenEndpoint,
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")], body: body))
        let doc = (try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any]) ?? [:]
        guard answer.status == 200 else {
            switch doc["error"] as? String {
            case "invalid_grant"?:
                throw refused("code-refused", "ClassLink did not accept this sign-in: its code expired or was used already. Sign in again.")
            case "invalid_client"?, "unauthorized_client"?:
                throw refused("client-refused", "ClassLink refused RosterFlow's client id or secret for this district; tell your "
                    + "vendor's support (the Sign in with ClassLink settings need checking)")
            default:
                throw refused("provider-answer", "ClassLink's token endpoint answered HTTP \(answer.status); sign in again")
            }
        }
        guard let id = doc["id_token"] as? String, let access = doc["access_token"] as? String else {
            throw refused("provider-answer", "ClassLink's token answer had no id_token or access_token; sign in again")
        }
        return Tokens(idToken: id, accessToken: access)
    }

    // MARK: The id_token

    /// Checks an id_token: RS256 signature by the provider's key (`kid`), issuer, audience (and `azp` with several),
    /// expiry and issue time with ``leeway``, nonce. Returns its claims.
    static func verify(
        idToken: String, discovery: Discovery, clientID: String, nonce: String, now: Double
    ) async throws -> [String: Any] {
        let parts = idToken.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let headerData = base64URL(parts[0]), let payloadData = base64URL(parts[1]),
              let signature = base64URL(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let claims = try? JSONSerialization.jsonObject(with: payloadData) as? [String: Any]
        else { throw refused("bad-token", "ClassLink's id_token could not be read; sign in again") }
        guard header["alg"] as? String == "RS256" else {
            throw refused("bad-token", "ClassLink's id_token is signed with \(header["alg"] as? String ?? "no algorithm"), not RS256")
        }
        guard let key = try await cache.key(jwksURI: discovery.jwksURI, kid: header["kid"] as? String) else {
            throw refused("unknown-key", "ClassLink's id_token is signed with a key (\(header["kid"] as? String ?? "no key id")) "
                + "its published keys do not have; sign in again")
        }
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signed, padding: .insecurePKCS1v1_5) else {
            throw refused("bad-signature", "ClassLink's id_token signature does not match its keys; nothing was signed in")
        }
        guard let iss = claims["iss"] as? String, trimmed(iss) == trimmed(discovery.issuer) else {
            throw refused("wrong-issuer", "the id_token was issued by \(claims["iss"] as? String ?? "nobody"), not \(discovery.issuer)")
        }
        let audiences: [String] = (claims["aud"] as? String).map { [$0] } ?? (claims["aud"] as? [String]) ?? []
        guard audiences.contains(clientID), audiences.count == 1 || claims["azp"] as? String == clientID else {
            throw refused("wrong-audience", "the id_token was issued to another application (\(audiences.joined(separator: ", ")))")
        }
        guard let exp = number(claims["exp"]), exp + leeway > now else {
            throw refused("token-expired", "the sign-in from ClassLink has expired; sign in again")
        }
        if let iat = number(claims["iat"]), iat - leeway > now {
            throw refused("bad-token", "the id_token was issued in the future; check the server's clock")
        }
        guard let sent = claims["nonce"] as? String, sent.utf8.elementsEqual(nonce.utf8) else {
            throw refused("nonce-mismatch", "the id_token does not answer this sign-in (nonce mismatch); sign in again")
        }
        guard let sub = claims["sub"] as? String, !sub.isEmpty else {
            throw refused("bad-token", "the id_token names no user (sub)")
        }
        return claims
    }

    static func number(_ value: Any?) -> Double? {
        if let n = value as? NSNumber { return n.doubleValue }
        return (value as? String).flatMap(Double.init)
    }

    /// A JSON value as text: a string, or a number without a fraction (ClassLink's ids are numbers).
    static func text(_ value: Any?) -> String? {
        if let s = value as? String { return s.trimmingCharacters(in: .whitespaces) }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }

    // MARK: User info

    /// The person as ClassLink's user-info endpoint (`/v2/my/info`) describes them.
    struct UserInfo {
        var userID: String
        var tenantID: String
        var sourcedID: String?
        var loginID: String?
        var email: String?
        var name: String?
    }

    static func userInfo(url: String, accessToken: String) async throws -> UserInfo {
        let answer = try await send(HTTPRequest(
            method: "GET", url: url, headers: [("Authorization", "Bearer \(accessToken)"), ("Accept", "application/json")]))
        guard answer.status == 200 else {
            throw refused("provider-answer", "ClassLink's user info (\(url)) answered HTTP \(answer.status); sign in again")
        }
        let doc = try json(answer.body, what: "user info")
        let first = text(doc["FirstName"]) ?? "", last = text(doc["LastName"]) ?? ""
        let name = text(doc["DisplayName"]) ?? "\(first) \(last)".trimmingCharacters(in: .whitespaces)
        return UserInfo(
            userID: text(doc["UserId"]) ?? text(doc["sub"]) ?? "", tenantID: text(doc["TenantId"]) ?? "",
            sourcedID: text(doc["SourcedId"]), loginID: text(doc["LoginId"]), email: text(doc["Email"]) ?? text(doc["email"]),
            name: name.isEmpty ? nil : name)
    }
}
