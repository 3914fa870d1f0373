import CCurl
import Foundation

/// What one attempt to deliver came to.
public enum DeliveryOutcome: Sendable, Equatable {
    /// Accepted; the detail is the server's reply or status.
    case delivered(String)
    /// Not accepted this time (timeout, refused connection, SMTP 4xx, HTTP 429 or 5xx): try again later, no sooner
    /// than `after` seconds when the server said so.
    case retry(String, after: Double?)
    /// Refused for good (SMTP 5xx, HTTP 4xx other than 429), with the server's reply.
    case failed(String)
    /// Not sent at all: nothing reached the receiver, because the request's ``WebhookRequest/mayStart`` said no when
    /// its turn came (the lease that reserves it would run out before the send could finish).
    case notStarted(String)
}

extension DeliveryOutcome {
    /// A delivery not sent because the lease that reserves it would run out before its send could finish.
    public static let leaseWouldRunOut = DeliveryOutcome.notStarted(
        "not sent: its lease would run out before the send could finish; it goes back to the queue")
}

/// Delivers composed e-mail. Each sending thread has its own transport instance.
public protocol MailTransport: AnyObject {
    /// Delivers `message` (RFC 5322 text) from `sender` to `recipients` (bare addresses).
    func send(message: String, messageID: String, sender: String, recipients: [String]) -> DeliveryOutcome
}

/// One webhook POST: the body is sent as `application/json` with `headers` (the signature's) added.
public struct WebhookRequest: Sendable {
    public var url: String
    public var headers: [(String, String)]
    public var body: Data
    public var timeoutSeconds: Double
    /// Asked just before the request is started; when it answers false the request is not sent and its outcome is
    /// ``DeliveryOutcome/notStarted(_:)``. Nil: always started.
    public var mayStart: (@Sendable () -> Bool)?

    /// A request with every field given.
    public init(
        url: String, headers: [(String, String)], body: Data, timeoutSeconds: Double, mayStart: (@Sendable () -> Bool)? = nil
    ) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.mayStart = mayStart
    }
}

/// Delivers webhook requests. One thread uses a transport at a time.
public protocol WebhookTransport: AnyObject {
    func post(url: String, headers: [(String, String)], body: Data, timeoutSeconds: Double) -> DeliveryOutcome
    /// Sends every request, at most `concurrencyPerHost` at once to any one host; returns the outcomes in order.
    /// The default sends them one after another with ``post(url:headers:body:timeoutSeconds:)``.
    func post(_ requests: [WebhookRequest], concurrencyPerHost: Int) -> [DeliveryOutcome]
}

extension WebhookTransport {
    /// Sends the requests one after another with ``post(url:headers:body:timeoutSeconds:)``, ignoring
    /// `concurrencyPerHost`; returns the outcomes in the requests' order.
    public func post(_ requests: [WebhookRequest], concurrencyPerHost: Int) -> [DeliveryOutcome] {
        requests.map {
            if let mayStart = $0.mayStart, !mayStart() { return DeliveryOutcome.leaseWouldRunOut }
            return post(url: $0.url, headers: $0.headers, body: $0.body, timeoutSeconds: $0.timeoutSeconds)
        }
    }
}

/// Writes each message as `<message id>.eml` in a folder instead of sending it: the default when no SMTP server
/// is configured. Writing the same message again replaces the file, so a re-send leaves one copy.
public final class SpoolMailTransport: MailTransport {
    public let folder: String

    /// A transport that writes into `folder`, which is created (with its parents) when it is missing.
    public init(folder: String) {
        self.folder = folder
    }

    /// Writes `message` to `<folder>/<messageID>.eml` (characters other than letters, digits, `_`, `-` and `.` become
    /// `_`), replacing an earlier copy; `sender` and `recipients` are not used. A failed write is retried later.
    public func send(message: String, messageID: String, sender: String, recipients: [String]) -> DeliveryOutcome {
        do {
            // Mail holds names and addresses: the folder is 0700 and each file 0600 (a umask may only make them stricter).
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let name = messageID.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" }
            let path = "\(folder)/\(String(name)).eml"
            try Self.writePrivately(Data(message.utf8), to: path)
            return .delivered("written to \(path)")
        } catch {
            return .retry("cannot write to the spool folder \(folder): \(error.localizedDescription)", after: nil)
        }
    }
}

extension SpoolMailTransport {
    /// Writes `data` to `path` atomically (a temporary file in the same folder, renamed over it), created 0600.
    static func writePrivately(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        close(fd)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO)
        }
    }
}

/// SMTP through libcurl: `smtp://` (optionally STARTTLS) or `smtps://`, AUTH with user and password, timeouts. The
/// handle keeps its connection open between messages.
public final class CurlSMTPTransport: MailTransport {
    let settings: SMTPSettings
    private let easy: CurlEasy

    /// A transport for `settings`, with its own libcurl handle.
    ///
    /// - Throws: ``NotificationError/Code/transport`` when libcurl cannot be initialised.
    public init(settings: SMTPSettings) throws {
        self.settings = settings
        easy = try CurlEasy()
    }

    /// Sends `message` from `sender` to `recipients` over the kept connection. A 5xx reply fails for good; a 4xx reply,
    /// or none at all (connection, TLS, timeout), is retried.
    public func send(message: String, messageID: String, sender: String, recipients: [String]) -> DeliveryOutcome {
        let settings = self.settings
        // Settings built in code skip the configuration's check: never send a password in clear unless allowed.
        if settings.sendsCredentialsInClear, !settings.allowPlaintextAuth {
            return .failed("refused to send the SMTP password unencrypted: use smtps://, STARTTLS, or allow_plaintext_auth")
        }
        let result = easy.perform(
            upload: Data(message.utf8), recipients: recipients.map { "<\($0)>" }
        ) { easy in
            easy.set(CURLOPT_URL, settings.url)
            easy.set(CURLOPT_MAIL_FROM, "<\(sender)>")
            easy.set(CURLOPT_UPLOAD, 1)
            easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeoutSeconds * 1000))
            easy.set(CURLOPT_TIMEOUT_MS, Int(settings.timeoutSeconds * 1000))
            if settings.startTLS { easy.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
            if let caFile = settings.caFile { easy.set(CURLOPT_CAINFO, caFile) }
            if settings.insecureTLS {
                easy.set(CURLOPT_SSL_VERIFYPEER, 0)
                easy.set(CURLOPT_SSL_VERIFYHOST, 0)
            }
            if let user = settings.username { easy.set(CURLOPT_USERNAME, user) }
            if let password = settings.password { easy.set(CURLOPT_PASSWORD, password.reveal) }
        }
        return Self.classify(result)
    }

    /// A reply code decides: 2xx/3xx after CURLE_OK delivered, 4xx retried, 5xx failed; no reply (connection,
    /// TLS, timeout) retried.
    static func classify(_ result: CurlEasy.Result) -> DeliveryOutcome {
        let lastReply = result.replies.last { $0.count >= 3 && $0.prefix(3).allSatisfy(\.isNumber) }
        if result.code == CURLE_OK { return .delivered(lastReply ?? "\(result.responseCode)") }
        let code = result.responseCode
        let reply = lastReply.map { "; server replied: \($0)" } ?? ""
        switch code {
        case 500...599:
            return .failed("SMTP \(code): \(result.error)\(reply)")
        case 400...499:
            return .retry("SMTP \(code): \(result.error)\(reply)", after: nil)
        default:
            return .retry("SMTP transfer failed: \(result.error)\(reply)", after: nil)
        }
    }
}

/// Webhook POSTs through libcurl's multi interface: many requests in flight on one thread, a bounded number per
/// host, each over a connection kept open and reused for the next request to that host.
public final class CurlWebhookTransport: WebhookTransport {
    private let multi: CurlMulti

    /// - Parameter maxConnectionsPerHost: connections kept open to one host at most (libcurl's own bound; the
    ///   `concurrencyPerHost` of each call bounds the requests in flight).
    public init(maxConnectionsPerHost: Int = 8) throws {
        multi = try CurlMulti(maxConnectionsPerHost: maxConnectionsPerHost)
    }

    /// Sends one request, as a batch of one through ``post(_:concurrencyPerHost:)``.
    public func post(url: String, headers: [(String, String)], body: Data, timeoutSeconds: Double) -> DeliveryOutcome {
        post([WebhookRequest(url: url, headers: headers, body: body, timeoutSeconds: timeoutSeconds)], concurrencyPerHost: 1)[0]
    }

    /// Sends every request, at most `concurrencyPerHost` at once to one host; returns the outcomes in order. A 2xx
    /// status is delivered; 429, 5xx (no sooner than a `Retry-After` asks) and transfer errors are retried; any other
    /// status fails.
    public func post(_ requests: [WebhookRequest], concurrencyPerHost: Int) -> [DeliveryOutcome] {
        multi.post(requests, concurrencyPerHost: concurrencyPerHost).map { $0.map(Self.classify) ?? DeliveryOutcome.leaseWouldRunOut }
    }

    static func classify(_ result: CurlEasy.Result) -> DeliveryOutcome {
        guard result.code == CURLE_OK else {
            return .retry("request failed: \(result.error)", after: nil)
        }
        let status = result.responseCode
        if (200...299).contains(status) { return .delivered("HTTP \(status)") }
        let snippet = String(decoding: result.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = "HTTP \(status)" + (snippet.isEmpty ? "" : ": \(snippet)")
        switch status {
        case 429, 500...599:
            return .retry(detail, after: retryAfter(result.replies))
        default:
            return .failed(detail)
        }
    }

    /// `Retry-After` in seconds (delta form) or as an HTTP date.
    static func retryAfter(_ headers: [String]) -> Double? {
        for line in headers.reversed() {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "retry-after"
            else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if let seconds = Double(value) { return max(0, seconds) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            if let date = formatter.date(from: value) { return max(0, date.timeIntervalSinceNow) }
        }
        return nil
    }
}
