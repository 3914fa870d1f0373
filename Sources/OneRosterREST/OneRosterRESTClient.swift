import Foundation

/// Fetches OAuth 2 client-credentials tokens and keeps the current one until it expires.
public final class OAuth2TokenClient: @unchecked Sendable, CustomStringConvertible {
    /// The token endpoint.
    public let tokenURL: String
    /// The client id.
    public let clientID: String
    private let secret: String
    /// Scopes, space-separated.
    public let scope: String?
    private let transport: any HTTPTransport
    private let clock: @Sendable () -> Date
    private let lock = NSLock()
    private var token: (value: String, expires: Date)?
    /// How many tokens were fetched (for tests and progress).
    public private(set) var fetched = 0

    /// A client for `tokenURL` with the client's credentials.
    public init(tokenURL: String, clientID: String, secret: String, scope: String?, transport: any HTTPTransport,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.secret = secret
        self.scope = scope
        self.transport = transport
        self.clock = clock
    }

    /// The token URL and client id only.
    public var description: String { "OAuth2TokenClient(\(tokenURL), clientID: \(clientID))" }

    /// The cached token while it has more than 30 seconds left, else a new one.
    public func currentToken() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let token, token.expires.timeIntervalSince(clock()) > 30 { return token.value }
        return try fetch()
    }

    /// Forgets the cached token (after the provider answered 401 to it).
    public func invalidate() {
        lock.lock()
        token = nil
        lock.unlock()
    }

    private func fetch() throws -> String {
        var form = [("grant_type", "client_credentials")]
        if let scope, !scope.isEmpty { form.append(("scope", scope)) }
        // RFC 6749 §2.3.1: HTTP Basic with the form-encoded id and secret.
        let basic = Data((oauthPercentEncode(clientID) + ":" + oauthPercentEncode(secret)).utf8).base64EncodedString()
        let request = HTTPRequest(
            method: "POST", url: tokenURL,
            headers: [("Authorization", "Basic " + basic), ("Content-Type", "application/x-www-form-urlencoded"),
                      ("Accept", "application/json")],
            body: Data(oauthQueryString(form).utf8))
        let response = try transport.send(request)
        guard response.status == 200 else {
            let detail = oneRosterStatusMessage(response.body) ?? Self.oauthError(response.body).map { "the provider answered \($0)" }
            let what = response.status == 400 || response.status == 401 || response.status == 403
                ? OneRosterRESTError.Code.unauthorized : .provider
            throw OneRosterRESTError(
                what, "the token endpoint \(tokenURL) refused client \(clientID) (HTTP \(response.status))"
                    + (detail.map { ": \($0)" } ?? ""))
        }
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let value = object["access_token"] as? String, !value.isEmpty else {
            throw OneRosterRESTError(.badResponse, "the token endpoint \(tokenURL) answered without an access_token")
        }
        let lifetime = (object["expires_in"] as? NSNumber)?.doubleValue
            ?? (object["expires_in"] as? String).flatMap(Double.init) ?? 3_600
        token = (value, clock().addingTimeInterval(lifetime))
        fetched += 1
        return value
    }

    /// `error` (and `error_description`) of an RFC 6749 error answer.
    static func oauthError(_ body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let error = object["error"] as? String else { return nil }
        return error + ((object["error_description"] as? String).map { " (\($0.prefix(200)))" } ?? "")
    }
}

/// How often and how long a pull retries a request the provider answered 429 or 5xx to (or did not answer).
public struct RetryPolicy: Sendable {
    /// Attempts per request, the first one included.
    public var attempts: Int
    /// The first backoff (seconds); each retry doubles it.
    public var baseDelay: Double
    /// The longest wait, whatever `Retry-After` says.
    public var maxDelay: Double

    /// A policy.
    public init(attempts: Int = 5, baseDelay: Double = 0.5, maxDelay: Double = 120) {
        self.attempts = attempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }
}

/// One page of a collection.
public struct OneRosterPage: Sendable {
    /// 1-based.
    public var number: Int
    /// The records, as the JSON objects (or other values) the provider sent.
    public var records: [JSONValue]
    /// `X-Total-Count`, when sent.
    public var totalCount: Int?
}

/// Authenticated, polite GETs against a OneRoster REST provider: signs each request (OAuth 1.0a) or sends the bearer
/// token (OAuth 2, refreshed once on 401), retries 429 and 5xx with exponential backoff honouring `Retry-After`,
/// fails at once on 401/403 naming the credential to check, and pages collections with `limit`/`offset`.
public final class OneRosterRESTClient: @unchecked Sendable {
    /// The configuration.
    public let config: RESTSourceConfig
    private let transport: any HTTPTransport
    private let signer: OAuth1Signer?
    private let tokens: OAuth2TokenClient?
    /// The retry policy.
    public let retry: RetryPolicy
    private let sleep: @Sendable (Double) -> Void
    /// Requests sent (retries included).
    public private(set) var requests = 0
    /// Seconds spent waiting for the provider (requests and backoff).
    public private(set) var waitingSeconds: Double = 0

    /// A client for `config` with its secret.
    public init(config: RESTSourceConfig, secret: String, transport: any HTTPTransport = CurlHTTPTransport(),
                retry: RetryPolicy = RetryPolicy(), sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }) {
        self.config = config
        self.transport = transport
        self.retry = retry
        self.sleep = sleep
        if let tokenURL = config.tokenURL {
            signer = nil
            tokens = OAuth2TokenClient(tokenURL: tokenURL, clientID: config.clientID, secret: secret, scope: config.scope,
                                       transport: transport)
        } else {
            signer = OAuth1Signer(clientID: config.clientID, secret: secret)
            tokens = nil
        }
    }

    /// What to check when the provider refuses the credentials.
    var credentialAdvice: String {
        if let tokens {
            return "check the client id \(config.clientID) and its secret (\(secretPlace)), the token URL \(tokens.tokenURL)"
                + (config.scope.map { " and the scope \($0)" } ?? "")
        }
        return "check the client id (OAuth consumer key) \(config.clientID) and its secret (\(secretPlace)), and that the "
            + "machine's clock is right (OAuth 1.0a signatures carry the time)"
    }

    private var secretPlace: String {
        config.secretEnv.map { "environment variable \($0)" } ?? config.secretFile.map { "file \($0)" } ?? "not configured"
    }

    /// GETs `url` (query included, encoded with ``oauthPercentEncode(_:)``) and returns the 200 answer.
    public func get(_ url: String, what: String) throws -> HTTPResponse {
        var attempt = 0
        var refreshed = false
        while true {
            attempt += 1
            var headers = [("Accept", "application/json")]
            if let signer {
                headers.append(("Authorization", signer.authorization(method: "GET", url: url)))
            } else if let tokens {
                do {
                    headers.append(("Authorization", "Bearer " + (try timed { try tokens.currentToken() })))
                } catch let error as OneRosterRESTError where error.code == .unauthorized {
                    throw OneRosterRESTError(.unauthorized, error.message + "; " + credentialAdvice)
                }
            }
            requests += 1
            let response: HTTPResponse
            do {
                response = try timed { try transport.send(HTTPRequest(method: "GET", url: url, headers: headers)) }
            } catch let error as OneRosterRESTError where error.code == .unreachable && attempt < retry.attempts {
                backoff(attempt: attempt, retryAfter: nil)
                continue
            }
            switch response.status {
            case 200..<300:
                return response
            case 401 where tokens != nil && !refreshed:
                // The token may have been revoked or expired early: one new token, one more try.
                tokens?.invalidate()
                refreshed = true
                continue
            case 401, 403:
                let detail = oneRosterStatusMessage(response.body).map { " (\($0))" } ?? ""
                throw OneRosterRESTError(
                    .unauthorized, "the provider refused to let client \(config.clientID) read \(what) "
                        + "(HTTP \(response.status)\(detail)); \(credentialAdvice)"
                        + (response.status == 403 ? ", and that the district granted this client access to \(what)" : ""),
                    httpStatus: response.status)
            case 429 where attempt < retry.attempts, 500..<600 where attempt < retry.attempts:
                backoff(attempt: attempt, retryAfter: response.headers["retry-after"])
                continue
            default:
                let detail = oneRosterStatusMessage(response.body)
                    ?? (response.status == 429 ? "the provider is busy (429)" : nil)
                let tries = response.status == 429 || response.status >= 500 ? " after \(attempt) attempts" : ""
                throw OneRosterRESTError(
                    .provider, "the provider answered HTTP \(response.status) to the request for \(what) at \(redacted(url))\(tries)"
                        + (detail.map { ": \($0)" } ?? ""), httpStatus: response.status)
            }
        }
    }

    private func timed<T>(_ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { waitingSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    private func backoff(attempt: Int, retryAfter: String?) {
        var delay = retry.baseDelay * pow(2, Double(attempt - 1))
        if let retryAfter, let seconds = Self.retryAfterSeconds(retryAfter) { delay = max(seconds, 0) }
        delay = min(delay, retry.maxDelay)
        timed { sleep(delay) }
    }

    /// Seconds to wait from a `Retry-After` value: delta seconds or an HTTP date.
    static func retryAfterSeconds(_ value: String, now: Date = Date()) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed) { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: trimmed).map { $0.timeIntervalSince(now) }
    }

    /// Every page of the collection at `path` (e.g. `/users`), under `key` in each body (e.g. `users`), handed to
    /// `page` as it arrives. Stops at an empty page, a page shorter than `limit`, when `X-Total-Count` is reached, or
    /// when the `Link` header names no `next` (a `next` link is followed as given).
    public func pages(path: String, key: String, filter: String?, page: (OneRosterPage) throws -> Void) throws {
        try pages(path: path, key: key, filter: filter, decode: { body, _ -> ([JSONValue], Int)? in
            guard case .object(let object) = try JSONParser.parse(body) else { throw JSONParser.Failure(offset: 0, reason: "not an object") }
            guard case .array(let records)? = object[key] else { return nil }
            return (records, records.count)
        }, page: { number, records, total in
            try page(OneRosterPage(number: number, records: records, totalCount: total))
        })
    }

    /// Every page of the collection at `path`, each body decoded by `decode` (given the body and the page number; it
    /// answers the page's records and how many items its list held, `nil` for a JSON object without the list, and
    /// throws for a body that is not complete JSON, which is asked for again) and handed to `page` with its number and
    /// `X-Total-Count`. Paging as ``pages(path:key:filter:page:)``.
    ///
    /// Pages ahead: when the answer for a page says there is a next one (`X-Total-Count` beyond a full page, or a
    /// `Link: rel="next"`), a thread of its own asks for it, and for the one after it as its answer says, while this
    /// thread decodes and hands on the pages before (at most ``PageChain/depth`` answers waiting); an answer is used
    /// when the page before turns out full (or the link is followed), else the chain is stopped and its answers are
    /// dropped. Requests never overlap: the chain sends one at a time, and is stopped (its request waited for) before
    /// any other is sent, and before this returns or throws.
    func pages<Records>(path: String, key: String, filter: String?, decode: (Data, Int) throws -> (Records, Int)?,
                        page: (Int, Records, Int?) throws -> Void) throws {
        let limit = config.pageSize
        var offset = 0
        var number = 0
        var nextURL: String? = nil
        var chain: PageChain?
        defer { chain?.stop() }
        let config = self.config
        @Sendable func pageURL(offset: Int) -> String {
            var query = [("limit", String(limit)), ("offset", String(offset))]
            if let filter { query.append(("filter", filter)) }
            return config.baseURL + path + "?" + oauthQueryString(query)
        }
        /// The page after the one at `url` (at `offset`), as its answer tells: nil when it says there is none.
        @Sendable func predicted(after response: HTTPResponse, at url: String, offset: Int) -> String? {
            if let link = response.headers["link"] { return Self.nextLink(link).map { Self.resolve($0, against: url) } }
            let total = response.headers["x-total-count"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if let total, offset + limit < total { return pageURL(offset: offset + limit) }
            return nil
        }
        /// The answer for `url`: the chain's next when it is that URL, else asked for now (the chain stopped first).
        func fetch(_ url: String, what: String) throws -> HTTPResponse {
            if let ahead = chain {
                if let response = try ahead.take(url) { return response }
                ahead.stop()
                chain = nil
            }
            return try get(url, what: what)
        }
        while true {
            number += 1
            let url = nextURL ?? pageURL(offset: offset)
            let what = "\(key) (page \(number))"
            var decoded: (Records, Int)?
            var complete = false
            var response: HTTPResponse!
            // A page that is not JSON (cut off on the way) is asked for again, like a 5xx.
            for attempt in 1...max(1, retry.attempts) {
                response = try fetch(url, what: what)
                // The pages after this one, if the answer says there is one, while this one is decoded.
                if chain == nil, let next = predicted(after: response, at: url, offset: offset) {
                    chain = PageChain(first: next, number: number + 1, offset: offset + limit, client: self, key: key,
                                      predict: predicted)
                }
                do {
                    decoded = try decode(response.body, number)
                    complete = true
                    break
                } catch is JSONParser.Failure {
                    if attempt < retry.attempts { backoff(attempt: attempt, retryAfter: nil) }
                }
            }
            guard complete else {
                throw OneRosterRESTError(
                    .badResponse, "the provider's answer for \(what) at \(redacted(url)) is not complete JSON "
                        + "(\(response.body.count) bytes, cut off or not OneRoster), also after \(retry.attempts) attempts")
            }
            guard let decoded else {
                // Only a page without its list is looked at for a status payload (parsing every page twice is costly).
                if case .object(let body)? = try? JSONParser.parse(response.body), body[key] == nil,
                   let status = oneRosterStatusMessage(response.body) {
                    throw OneRosterRESTError(.provider, "the request for \(what) failed: \(status)")
                }
                throw OneRosterRESTError(
                    .badResponse, "the provider's answer for \(what) has no `\(key)` list; is \(config.baseURL) a OneRoster "
                        + "\(config.version.rawValue) server?")
            }
            let (records, count) = decoded
            let total = response.headers["x-total-count"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            try page(number, records, total)
            if count == 0 { return }
            offset += count
            if let link = response.headers["link"] {
                guard let next = Self.nextLink(link) else { return }
                nextURL = Self.resolve(next, against: url)
                continue
            }
            nextURL = nil
            if let total { if offset >= total { return } } else if count < limit { return }
            if number >= 1_000_000 {
                throw OneRosterRESTError(.badResponse, "the provider kept sending pages of \(key) past a million; stopped")
            }
        }
    }

    /// Pages asked for ahead, one after another, on a thread of its own (see ``pages(path:key:filter:decode:page:)``):
    /// from `first`, each next page as the answer before it tells (`predict`), while at most ``depth`` answers wait to
    /// be taken. Ends at a page whose answer names no next one, or at a failure (kept as that page's answer).
    private final class PageChain: @unchecked Sendable {
        /// Answers waiting to be taken, at most.
        static let depth = 2
        private let condition = NSCondition()
        private var answers: [(url: String, result: Result<HTTPResponse, any Error>)] = []
        private var stopped = false
        private var running = true

        init(first: String, number: Int, offset: Int, client: OneRosterRESTClient, key: String,
             predict: @escaping @Sendable (HTTPResponse, String, Int) -> String?) {
            let limit = client.config.pageSize
            let thread = Thread { [self] in
                var url = first, number = number, offset = offset
                while true {
                    condition.lock()
                    while answers.count >= Self.depth && !stopped { condition.wait() }
                    let stop = stopped
                    condition.unlock()
                    if stop { break }
                    let result = Result { try client.get(url, what: "\(key) (page \(number))") }
                    condition.lock()
                    answers.append((url, result))
                    condition.broadcast()
                    condition.unlock()
                    guard case .success(let response) = result, let next = predict(response, url, offset) else { break }
                    url = next
                    number += 1
                    offset += limit
                }
                condition.lock()
                running = false
                condition.broadcast()
                condition.unlock()
            }
            thread.name = "rosterflow-rest-ahead"
            thread.start()
        }

        /// The next answer, waiting for it, when it is the one for `url` (throws what asking for it threw); nil when the
        /// chain ended before it or went another way.
        func take(_ url: String) throws -> HTTPResponse? {
            condition.lock()
            while answers.isEmpty && running { condition.wait() }
            guard !answers.isEmpty else {
                condition.unlock()
                return nil
            }
            let answer = answers.removeFirst()
            condition.broadcast()
            condition.unlock()
            guard answer.url == url else { return nil }
            return try answer.result.get()
        }

        /// Stops asking for more, and waits for the request under way (so that the next request does not overlap it).
        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            while running { condition.wait() }
            answers = []
            condition.unlock()
        }
    }

    /// The `rel="next"` target of a `Link` header.
    static func nextLink(_ header: String) -> String? {
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = pieces.first, first.hasPrefix("<"), first.hasSuffix(">") else { continue }
            let rels = pieces.dropFirst().filter { $0.lowercased().hasPrefix("rel=") }
                .flatMap { $0.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased().split(separator: " ") }
            if rels.contains("next") { return String(first.dropFirst().dropLast()) }
        }
        return nil
    }

    static func resolve(_ link: String, against url: String) -> String {
        if link.contains("://") { return link }
        guard let base = URL(string: url), let resolved = URL(string: link, relativeTo: base) else { return link }
        return resolved.absoluteString
    }
}
