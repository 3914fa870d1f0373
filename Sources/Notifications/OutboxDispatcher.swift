import Foundation
import Storage

/// What one dispatcher pass did.
public struct DispatchReport: Sendable, Equatable, Codable {
    /// New outbox messages turned into deliveries.
    public var fannedOut = 0
    /// Deliveries claimed and attempted.
    public var claimed = 0
    public var sent = 0
    public var retrying = 0
    public var failed = 0
    public var dead = 0
    public var skipped = 0
    /// Outcomes not recorded because another dispatcher had taken the delivery over (its lease had run out).
    public var lostLeases = 0

    public init() {}
}

/// Sends the outbox: fans each new message out to its deliveries (e-mail to its recipient, one webhook per
/// subscriber), claims due deliveries under a lease, sends them on up to `concurrency` threads, and records each
/// outcome.
///
/// Delivery is at least once: the outbox message id is the idempotency key of every attempt (the `webhook-id`
/// header, the e-mail's `Message-ID`), and a dispatcher that dies between sending and recording leaves a lease
/// that runs out, after which another attempt re-sends under the same id. Several dispatchers may share one
/// database: a claim is one write statement, so no two hold the same delivery at once.
public final class OutboxDispatcher: Sendable {
    public let store: SQLiteStore
    public let config: NotificationConfig
    public let templates: TemplateCatalog
    /// Names this dispatcher in `claimed_by`.
    public let workerID: String
    private let clock: @Sendable () -> Double
    private let slots: [SenderSlot]
    private let sleepAfterSend: Double
    private let queue = DispatchQueue(label: "rosterflow.outbox-dispatcher")

    /// - Parameters:
    ///   - spoolFolder: where mail goes when `config` names no SMTP server and no spool folder.
    ///   - mailTransport: makes one mail transport per sending thread; nil picks SMTP or the spool from `config`.
    ///   - webhookTransport: makes one webhook transport per sending thread; nil uses libcurl.
    public init(
        store: SQLiteStore, config: NotificationConfig, templates: TemplateCatalog, workerID: String,
        spoolFolder: String, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        mailTransport: (@Sendable () throws -> any MailTransport)? = nil,
        webhookTransport: (@Sendable () throws -> any WebhookTransport)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.store = store
        self.config = config
        self.templates = templates
        self.workerID = workerID
        self.clock = clock
        let spool = config.spoolFolder ?? spoolFolder
        let smtp = config.smtp
        let makeMail: @Sendable () throws -> any MailTransport = mailTransport ?? {
            if let smtp { return try CurlSMTPTransport(settings: smtp) }
            return SpoolMailTransport(folder: spool)
        }
        let makeWebhook: @Sendable () throws -> any WebhookTransport = webhookTransport ?? { try CurlWebhookTransport() }
        slots = (0..<max(1, config.concurrency)).map { _ in SenderSlot(makeMail: makeMail, makeWebhook: makeWebhook) }
        // Test hook: pause between sending and recording, so a test can kill the process in that window.
        sleepAfterSend = environment["ROSTERFLOW_TEST_SLEEP_AFTER_SEND"].flatMap(Double.init) ?? 0
    }

    /// One pass: fan out new messages, claim up to `limit` due deliveries, send them, record the outcomes.
    /// Blocks while sending; call it from a thread that may block (``runOnceInBackground(limit:)`` does).
    public func runOnce(limit: Int = 256) throws -> DispatchReport {
        var report = DispatchReport()
        let now = clock()
        let subscribers = config.webhooks.map(\.name)
        let email = config.emailEnabled
        report.fannedOut = try store.writeNow { tx in
            try tx.fanOutOutbox(limit: 1_000, now: now) { message in
                (email ? [(channel: "email", destination: message.recipient)] : [])
                    + subscribers.map { (channel: "webhook", destination: $0) }
            }
        }
        let claimed = try store.writeNow { tx in
            try tx.claimDeliveries(worker: workerID, now: now, leaseSeconds: config.leaseSeconds, limit: limit)
        }
        report.claimed = claimed.count
        guard !claimed.isEmpty else { return report }
        let outcomes = sendAll(claimed)
        if sleepAfterSend > 0 { Thread.sleep(forTimeInterval: sleepAfterSend) }
        let finished = clock()
        let policy = config.retry
        let worker = workerID
        let lost = try store.writeNow { tx in
            var lost = 0
            for (item, outcome) in zip(claimed, outcomes) {
                let (status, error, next) = Self.decide(outcome, attempts: item.delivery.attempts + 1, policy: policy, now: finished)
                if try !tx.completeDelivery(id: item.delivery.id, worker: worker, status: status, error: error,
                                            nextAttemptAt: next, now: finished) { lost += 1 }
            }
            return lost
        }
        report.lostLeases = lost
        for outcome in outcomes {
            switch Self.decide(outcome, attempts: 0, policy: policy, now: finished).0 {
            case .sent: report.sent += 1
            case .failed: report.failed += 1
            case .skipped: report.skipped += 1
            case .pending, .dead: break
            }
        }
        for (item, outcome) in zip(claimed, outcomes) {
            if case .retry = outcome.result {
                if item.delivery.attempts + 1 >= policy.maxAttempts { report.dead += 1 } else { report.retrying += 1 }
            }
        }
        return report
    }

    /// ``runOnce(limit:)`` on the dispatcher's own thread, so async callers do not block the cooperative pool.
    public func runOnceInBackground(limit: Int = 256) async throws -> DispatchReport {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.runOnce(limit: limit) }) }
        }
    }

    /// Gives back this dispatcher's unsent claims (on a graceful stop), so another may take them at once.
    public func releaseClaims() throws {
        let worker = workerID
        try store.writeNow { tx in try tx.releaseClaims(worker: worker) }
    }

    /// Sends until nothing is due now, or `maxPasses` passes ran; returns the summed report.
    public func drain(maxPasses: Int = 1_000) throws -> DispatchReport {
        var total = DispatchReport()
        for _ in 0..<maxPasses {
            let report = try runOnce()
            total.add(report)
            if report.claimed == 0 && report.fannedOut == 0 { break }
        }
        return total
    }

    // MARK: Sending

    /// An attempt's outcome, or that there was nothing to send to.
    struct Attempt: Sendable {
        var result: DeliveryOutcome
        var skipped = false
    }

    static func decide(_ attempt: Attempt, attempts: Int, policy: RetryPolicy, now: Double)
        -> (DeliveryRecord.Status, String?, Double?)
    {
        if attempt.skipped, case .failed(let why) = attempt.result { return (.skipped, why, nil) }
        switch attempt.result {
        case .delivered:
            return (.sent, nil, nil)
        case .failed(let why):
            return (.failed, why, nil)
        case .retry(let why, let after):
            if attempts >= policy.maxAttempts {
                return (.dead, "gave up after \(attempts) attempts; last: \(why)", nil)
            }
            return (.pending, why, now + policy.delay(afterAttempts: attempts, retryAfter: after))
        }
    }

    private func sendAll(_ claimed: [ClaimedDelivery]) -> [Attempt] {
        let batch = Batch(count: claimed.count)
        let workers = min(slots.count, claimed.count)
        let group = DispatchGroup()
        for index in 0..<workers {
            let slot = slots[index]
            group.enter()
            let thread = Thread { [self] in
                while let next = batch.take() {
                    batch.put(next, attempt(claimed[next], slot: slot))
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        return batch.results
    }

    private func attempt(_ item: ClaimedDelivery, slot: SenderSlot) -> Attempt {
        let message = item.message
        guard let values = try? JSONSerialization.jsonObject(with: Data(message.payload.utf8)) as? [String: String] else {
            return Attempt(result: .failed("the outbox payload is not a flat JSON object"))
        }
        switch item.delivery.channel {
        case "email":
            return sendMail(message, values: values, slot: slot)
        case "webhook":
            return sendWebhook(message, values: values, subscriber: item.delivery.destination, slot: slot)
        default:
            return Attempt(result: .failed("unknown channel '\(item.delivery.channel)'"))
        }
    }

    /// The addresses a recipient role stands for: the integration's contact for `school_contact` and
    /// `district_admin`, the configured list for other roles, or the recipient itself when it is an address.
    public func addresses(for recipient: String, values: [String: String]) -> [String] {
        if MailAddress.isAddress(recipient) { return [recipient] }
        switch recipient {
        case "school_contact", "district_admin":
            return values["contact_email"].map { [$0] } ?? []
        default:
            return config.recipients[recipient] ?? []
        }
    }

    /// The Message-ID of a message's e-mail: its outbox id at the sender's domain.
    public func messageID(for outboxID: String) -> String {
        let domain = MailAddress.parse(config.from)?.address.split(separator: "@").last.map(String.init) ?? "rosterflow.local"
        return "\(outboxID)@\(domain)"
    }

    /// The composed e-mail for an outbox message, as it is sent (the same bytes on every attempt).
    public func composeMail(_ message: OutboxRecord, values: [String: String], to addresses: [String]) throws -> String {
        guard let template = templates[message.template] else {
            throw NotificationError(.template, "no template named '\(message.template)' in \(templates.folder)")
        }
        let sender = MailAddress.parse(config.from) ?? MailAddress(address: "rosterflow@localhost")
        var values = values
        let messageID = messageID(for: message.id)
        values["message_id"] = messageID
        values["recipient"] = message.recipient
        return MIME.compose(
            template.render(values), from: sender, to: addresses.compactMap(MailAddress.parse), messageID: messageID,
            date: Date(timeIntervalSince1970: message.createdAt),
            extraHeaders: [("X-RosterFlow-Outbox-Id", message.id), ("X-RosterFlow-Template", message.template)])
    }

    private func sendMail(_ message: OutboxRecord, values: [String: String], slot: SenderSlot) -> Attempt {
        let to = addresses(for: message.recipient, values: values)
        guard !to.isEmpty else {
            let hint = message.recipient == "vendor_admins" ? "ROSTERFLOW_VENDOR_ADMINS" : message.recipient == "dsp" ? "ROSTERFLOW_DSP" : nil
            return Attempt(
                result: .failed("no address for '\(message.recipient)': add it under recipients.\(message.recipient) in the configuration"
                    + (hint.map { " or set \($0)" } ?? "")),
                skipped: true)
        }
        let text: String
        do {
            text = try composeMail(message, values: values, to: to)
        } catch {
            return Attempt(result: .failed("\(error)"))
        }
        let sender = MailAddress.parse(config.from)?.address ?? "rosterflow@localhost"
        do {
            return Attempt(result: try slot.mail().send(message: text, messageID: messageID(for: message.id), sender: sender, recipients: to))
        } catch {
            return Attempt(result: .retry("\(error)", after: nil))
        }
    }

    /// The JSON body POSTed for an outbox message.
    public static func webhookBody(_ message: OutboxRecord, values: [String: String]) -> Data {
        let event: [String: Any] = [
            "type": "rosterflow.notification.\(message.template)",
            "timestamp": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: message.createdAt)),
            "data": [
                "id": message.id, "template": message.template, "recipient": message.recipient,
                "instance_id": message.instanceID, "values": values,
            ] as [String: Any],
        ]
        return (try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }

    private func sendWebhook(_ message: OutboxRecord, values: [String: String], subscriber name: String, slot: SenderSlot)
        -> Attempt
    {
        guard let subscriber = config.webhooks.first(where: { $0.name == name }) else {
            return Attempt(result: .failed("webhook subscriber '\(name)' is no longer configured"), skipped: true)
        }
        do {
            let signer = try WebhookSigner(secret: subscriber.secret)
            let body = Self.webhookBody(message, values: values)
            let headers = signer.headers(id: message.id, timestamp: Int(Date().timeIntervalSince1970), body: body)
            return Attempt(result: try slot.webhook().post(
                url: subscriber.url, headers: headers, body: body, timeoutSeconds: config.webhookTimeoutSeconds))
        } catch {
            return Attempt(result: .failed("\(error)"))
        }
    }
}

extension DispatchReport {
    mutating func add(_ other: DispatchReport) {
        fannedOut += other.fannedOut
        claimed += other.claimed
        sent += other.sent
        retrying += other.retrying
        failed += other.failed
        dead += other.dead
        skipped += other.skipped
        lostLeases += other.lostLeases
    }
}

/// One sending thread's transports, made on first use and reused (with their connections) for the life of the
/// dispatcher. Only one thread uses a slot at a time.
final class SenderSlot: @unchecked Sendable {
    private let makeMail: @Sendable () throws -> any MailTransport
    private let makeWebhook: @Sendable () throws -> any WebhookTransport
    private var mailTransport: (any MailTransport)?
    private var webhookTransport: (any WebhookTransport)?

    init(makeMail: @escaping @Sendable () throws -> any MailTransport, makeWebhook: @escaping @Sendable () throws -> any WebhookTransport) {
        self.makeMail = makeMail
        self.makeWebhook = makeWebhook
    }

    func mail() throws -> any MailTransport {
        if let mailTransport { return mailTransport }
        let made = try makeMail()
        mailTransport = made
        return made
    }

    func webhook() throws -> any WebhookTransport {
        if let webhookTransport { return webhookTransport }
        let made = try makeWebhook()
        webhookTransport = made
        return made
    }
}

/// Hands out a batch's indexes to sending threads and collects their outcomes.
final class Batch: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var slots: [OutboxDispatcher.Attempt?]

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
    }

    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < slots.count else { return nil }
        next += 1
        return next - 1
    }

    func put(_ index: Int, _ attempt: OutboxDispatcher.Attempt) {
        lock.lock()
        slots[index] = attempt
        lock.unlock()
    }

    var results: [OutboxDispatcher.Attempt] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0 ?? OutboxDispatcher.Attempt(result: .retry("not attempted", after: nil)) }
    }
}
