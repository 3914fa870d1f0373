import Foundation
import StorageCore

/// A secret value (SMTP password, webhook signing secret). It prints as `<redacted>` everywhere — `description`,
/// `dump`, string interpolation, logs — so it cannot leak into output or history by accident.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The secret itself; read it only where it is used (a transport), never to print.
    public let reveal: String

    /// Wraps `value` so that it prints as `<redacted>`.
    public init(_ value: String) {
        reveal = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

/// A webhook subscriber: every outbox message is POSTed to `url`, signed with `secret`.
public struct WebhookSubscriber: Sendable, Equatable {
    /// A short name, unique among subscribers; part of the delivery id (`<message>/webhook/<name>`).
    public var name: String
    public var url: String
    /// `whsec_<base64>` (Standard Webhooks).
    public var secret: Secret

    /// A subscriber with every field given; the secret is not checked here (loading a configuration checks it).
    public init(name: String, url: String, secret: Secret) {
        self.name = name
        self.url = url
        self.secret = secret
    }
}

/// SMTP delivery settings.
public struct SMTPSettings: Sendable, Equatable {
    /// `smtp://host:port` or `smtps://host:port` (implicit TLS).
    public var url: String
    public var username: String?
    public var password: Secret?
    /// Require STARTTLS on an `smtp://` connection.
    public var startTLS: Bool = false
    /// Allow a username and password over an `smtp://` connection without STARTTLS, i.e. in clear (a relay on this
    /// machine only). Without it such settings are refused; with it the worker logs a warning at start.
    public var allowPlaintextAuth: Bool = false
    /// Accept a server certificate that does not verify (test servers only).
    public var insecureTLS: Bool = false
    /// PEM file of the certificate authorities to verify the server with, instead of the system's (a private CA,
    /// or a server's self-signed certificate).
    public var caFile: String?
    public var connectTimeoutSeconds: Double = 10
    /// The whole exchange of one message, connection included.
    public var timeoutSeconds: Double = 60

    /// Whether these settings would send a username (and password) unencrypted: a username over `smtp://` without
    /// STARTTLS.
    public var sendsCredentialsInClear: Bool {
        guard let username, !username.isEmpty else { return false }
        return !url.lowercased().hasPrefix("smtps://") && !startTLS
    }

    /// Refuses credentials that would cross the network in clear, unless ``allowPlaintextAuth`` says so.
    ///
    /// - Throws: ``NotificationError/Code/configuration`` naming the three ways to fix it.
    public func checkCredentialsTransport(source: String) throws {
        guard sendsCredentialsInClear, !allowPlaintextAuth else { return }
        throw NotificationError(
            .configuration,
            "\(source): the SMTP server \(url) is given a username, but the connection is not encrypted, so the password "
                + "would cross the network in clear. Use an smtps:// URL, or set \"starttls\": true "
                + "(ROSTERFLOW_SMTP_STARTTLS=1); only for a relay on this machine, set \"allow_plaintext_auth\": true "
                + "(ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH=1)")
    }

    /// Settings for the server at `url`, with optional credentials; TLS verification, the CA file and the timeouts keep
    /// their defaults (set them afterwards).
    public init(url: String, username: String? = nil, password: Secret? = nil, startTLS: Bool = false) {
        self.url = url
        self.username = username
        self.password = password
        self.startTLS = startTLS
    }
}

/// Everything notifications need: where mail goes, who receives it, webhook subscribers, retry policy.
///
/// Read from a JSON file (``load(file:environment:)``; see `Templates/README.md` for the format) and then from
/// the environment, which wins: `ROSTERFLOW_SMTP_URL`, `ROSTERFLOW_SMTP_FROM`, `ROSTERFLOW_SMTP_USER`,
/// `ROSTERFLOW_SMTP_PASSWORD`, `ROSTERFLOW_SMTP_STARTTLS`, `ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH`,
/// `ROSTERFLOW_SMTP_CA_FILE`, `ROSTERFLOW_SPOOL`,
/// `ROSTERFLOW_VENDOR_ADMINS`, `ROSTERFLOW_DSP`, `ROSTERFLOW_WEBHOOK_URL` with `ROSTERFLOW_WEBHOOK_SECRET`,
/// `ROSTERFLOW_TEMPLATES`.
public struct NotificationConfig: Sendable, Equatable {
    /// nil: mail is written as `.eml` files to ``spoolFolder`` instead of sent.
    public var smtp: SMTPSettings?
    /// The `From:` of every e-mail, e.g. `RosterFlow <rosterflow@vendor.example>`.
    public var from: String = "RosterFlow <rosterflow@localhost>"
    /// Where mail goes when no SMTP server is configured; nil: `outbox-spool` next to the database.
    public var spoolFolder: String?
    /// Whether messages are e-mailed (false: webhooks only).
    public var emailEnabled = true
    /// Addresses of configured roles: `vendor_admins`, `dsp` (others resolve from the integration).
    public var recipients: [String: [String]] = [:]
    public var webhooks: [WebhookSubscriber] = []
    public var retry = RetryPolicy()
    /// Sends in flight at once: e-mail on this many threads, each with its own reused SMTP connection; webhooks at
    /// most this many at once per host, each on a reused HTTP connection (libcurl's multi interface, one thread).
    public var concurrency: Int = 8
    /// How long a claimed delivery stays reserved for its dispatcher; a crashed dispatcher's claims free up after it.
    public var leaseSeconds: Double = 120
    /// Seconds a webhook request may take.
    public var webhookTimeoutSeconds: Double = 10
    /// The Templates folder; nil: `Templates` in the current folder.
    public var templatesPath: String?
    /// Where people reach the dashboard (e.g. `https://rosterflow.example.org`): messages that link to it render it as
    /// `public_url` (`public_url` in the file, `ROSTERFLOW_PUBLIC_URL`; `rosterflow serve` uses its `--public-url`).
    public var publicURL: String?

    /// The defaults: no SMTP server (mail is spooled), no webhook subscribers, no configured recipients, e-mail on.
    public init() {}

    /// Reads `file` (JSON) when given, then applies the environment on top.
    ///
    /// - Throws: ``NotificationError/Code/configuration`` for anything invalid, including SMTP credentials that would be
    ///   sent unencrypted (see ``SMTPSettings/checkCredentialsTransport(source:)``).
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> NotificationConfig
    {
        var config = NotificationConfig()
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw NotificationError(.configuration, "cannot read the notification configuration \(file)")
            }
            let decoded: ConfigFile
            do {
                decoded = try JSONDecoder().decode(ConfigFile.self, from: data)
            } catch let error as DecodingError {
                throw NotificationError(.configuration, "\(file) is not a valid configuration: \(Self.explain(error))")
            }
            try config.apply(decoded, file: file)
        }
        try config.apply(environment: environment)
        try config.smtp?.checkCredentialsTransport(source: file ?? "the environment")
        return config
    }

    mutating func apply(_ file: ConfigFile, file path: String) throws {
        if let smtp = file.smtp {
            guard let url = smtp.url else { throw NotificationError(.configuration, "\(path): smtp.url is missing") }
            var settings = SMTPSettings(url: url, username: smtp.username, password: smtp.password.map(Secret.init),
                                        startTLS: smtp.starttls ?? false)
            settings.insecureTLS = smtp.insecure_tls ?? false
            settings.allowPlaintextAuth = smtp.allow_plaintext_auth ?? false
            settings.caFile = smtp.ca_file
            if let value = smtp.connect_timeout_seconds { settings.connectTimeoutSeconds = value }
            if let value = smtp.timeout_seconds { settings.timeoutSeconds = value }
            self.smtp = settings
        }
        if let from = file.from { self.from = from }
        if let email = file.email { emailEnabled = email }
        if let spool = file.spool { spoolFolder = spool }
        if let recipients = file.recipients { self.recipients.merge(recipients) { _, new in new } }
        for hook in file.webhooks ?? [] {
            webhooks.append(WebhookSubscriber(name: hook.name, url: hook.url, secret: Secret(hook.secret)))
        }
        if let retry = file.retry {
            if let value = retry.base_seconds { self.retry.baseSeconds = value }
            if let value = retry.max_seconds { self.retry.maxSeconds = value }
            if let value = retry.max_attempts { self.retry.maxAttempts = value }
        }
        if let value = file.concurrency { concurrency = value }
        if let value = file.lease_seconds { leaseSeconds = value }
        if let value = file.webhook_timeout_seconds { webhookTimeoutSeconds = value }
        if let value = file.templates { templatesPath = value }
        if let value = file.public_url, !value.isEmpty { publicURL = value }
        try validate(source: path)
    }

    mutating func apply(environment env: [String: String]) throws {
        if let url = env["ROSTERFLOW_SMTP_URL"], !url.isEmpty {
            var settings = smtp ?? SMTPSettings(url: url)
            settings.url = url
            smtp = settings
        }
        if var settings = smtp {
            if let user = env["ROSTERFLOW_SMTP_USER"] { settings.username = user }
            if let password = env["ROSTERFLOW_SMTP_PASSWORD"] { settings.password = Secret(password) }
            if let flag = env["ROSTERFLOW_SMTP_STARTTLS"] { settings.startTLS = ["1", "true", "yes"].contains(flag.lowercased()) }
            if let caFile = env["ROSTERFLOW_SMTP_CA_FILE"], !caFile.isEmpty { settings.caFile = caFile }
            if let flag = env["ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH"] {
                settings.allowPlaintextAuth = ["1", "true", "yes"].contains(flag.lowercased())
            }
            smtp = settings
        }
        if let from = env["ROSTERFLOW_SMTP_FROM"], !from.isEmpty { self.from = from }
        if let spool = env["ROSTERFLOW_SPOOL"], !spool.isEmpty { spoolFolder = spool }
        if let list = env["ROSTERFLOW_VENDOR_ADMINS"] { recipients["vendor_admins"] = Self.addresses(list) }
        if let list = env["ROSTERFLOW_DSP"] { recipients["dsp"] = Self.addresses(list) }
        if let url = env["ROSTERFLOW_WEBHOOK_URL"], !url.isEmpty {
            guard let secret = env["ROSTERFLOW_WEBHOOK_SECRET"] else {
                throw NotificationError(.configuration, "ROSTERFLOW_WEBHOOK_URL is set but ROSTERFLOW_WEBHOOK_SECRET is not")
            }
            webhooks.removeAll { $0.name == "env" }
            webhooks.append(WebhookSubscriber(name: "env", url: url, secret: Secret(secret)))
        }
        if let templates = env["ROSTERFLOW_TEMPLATES"], !templates.isEmpty { templatesPath = templates }
        if let url = env["ROSTERFLOW_PUBLIC_URL"], !url.isEmpty { publicURL = url }
        try validate(source: "the environment")
    }

    /// Checks what can be checked before anything is sent.
    public func validate(source: String) throws {
        if let publicURL, !(publicURL.hasPrefix("http://") || publicURL.hasPrefix("https://")) {
            throw NotificationError(.configuration, "\(source): public_url must be an http:// or https:// address, e.g. https://rosterflow.example.org")
        }
        if let smtp, !(smtp.url.hasPrefix("smtp://") || smtp.url.hasPrefix("smtps://")) {
            throw NotificationError(.configuration, "\(source): the SMTP URL must start with smtp:// or smtps://")
        }
        guard MailAddress.parse(from) != nil else {
            throw NotificationError(.configuration, "\(source): the sender '\(from)' is not an address like Name <user@host>")
        }
        var names = Set<String>()
        for hook in webhooks {
            guard names.insert(hook.name).inserted else {
                throw NotificationError(.configuration, "\(source): two webhook subscribers are named '\(hook.name)'")
            }
            guard hook.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), !hook.name.isEmpty else {
                throw NotificationError(.configuration, "\(source): webhook name '\(hook.name)' may use letters, digits, - and _ only")
            }
            guard hook.url.hasPrefix("http://") || hook.url.hasPrefix("https://") else {
                throw NotificationError(.configuration, "\(source): webhook '\(hook.name)' needs an http:// or https:// URL")
            }
            guard (try? WebhookSigner(secret: hook.secret)) != nil else {
                throw NotificationError(.configuration, "\(source): webhook '\(hook.name)' has a secret that is not whsec_<base64>")
            }
        }
        guard concurrency >= 1, retry.maxAttempts >= 1, leaseSeconds > 0 else {
            throw NotificationError(.configuration, "\(source): concurrency, retry.max_attempts and lease_seconds must be positive")
        }
        // A send that outlasts its lease may be taken over and sent again by another worker: one send, with the time
        // to record its outcome, must fit in a lease.
        let sends = [
            emailEnabled ? smtp.map { ("smtp.timeout_seconds", $0.timeoutSeconds) } : nil,
            webhooks.isEmpty ? nil : ("webhook_timeout_seconds", webhookTimeoutSeconds),
        ].compactMap { $0 }
        if let (name, longest) = sends.max(by: { $0.1 < $1.1 }), leaseSeconds <= longest + recordingAllowance {
            throw NotificationError(.configuration, """
                \(source): lease_seconds (\(Self.seconds(leaseSeconds))) must be longer than \(name) (\(Self.seconds(longest))) \
                plus \(Self.seconds(recordingAllowance)) to record the outcome: a delivery still being sent when its lease runs \
                out could be sent again by another worker. Raise lease_seconds or lower \(name)
                """)
        }
    }

    /// The longest one send on `channel` may take: its timeout (0 for mail written to the spool folder).
    public func longestSend(_ channel: OutboxChannel) -> Double {
        switch channel {
        case .email: smtp?.timeoutSeconds ?? 0
        case .webhook: webhookTimeoutSeconds
        }
    }

    /// Time kept at the end of a lease to record the outcome of a send that finished: a tenth of the lease, at most
    /// 5 seconds. A delivery is started only while its send and this allowance still fit in its lease.
    public var recordingAllowance: Double { min(5, leaseSeconds / 10) }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    static func addresses(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private static func explain(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "'\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "at '\(path)': ") + context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }
}

/// The JSON configuration file, as written (snake_case keys).
struct ConfigFile: Decodable {
    struct SMTP: Decodable {
        var url: String?
        var username: String?
        var password: String?
        var starttls: Bool?
        var insecure_tls: Bool?
        var allow_plaintext_auth: Bool?
        var ca_file: String?
        var connect_timeout_seconds: Double?
        var timeout_seconds: Double?
    }

    struct Webhook: Decodable {
        var name: String
        var url: String
        var secret: String
    }

    struct Retry: Decodable {
        var base_seconds: Double?
        var max_seconds: Double?
        var max_attempts: Int?
    }

    var smtp: SMTP?
    var from: String?
    var email: Bool?
    var spool: String?
    var recipients: [String: [String]]?
    var webhooks: [Webhook]?
    var retry: Retry?
    var concurrency: Int?
    var lease_seconds: Double?
    var webhook_timeout_seconds: Double?
    var templates: String?
    var public_url: String?
}
