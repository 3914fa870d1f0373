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

    /// An empty report: every count zero.
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
    /// Each configured subscriber with its signer (or why its secret is unusable), by name.
    private let subscribers: [String: (subscriber: WebhookSubscriber, signer: Result<WebhookSigner, NotificationError>)]
    private let queue = DispatchQueue(label: "rosterflow.outbox-dispatcher")
    /// Where ``drain(limit:maxPasses:)`` sends a batch while it records the previous one and claims the next.
    private let sendQueue = DispatchQueue(label: "rosterflow.outbox-sender")

    /// - Parameters:
    ///   - spoolFolder: where mail goes when `config` names no SMTP server and no spool folder.
    ///   - mailTransport: makes one mail transport per sending thread; nil picks SMTP or the spool from `config`.
    ///   - webhookTransport: makes one webhook transport per sending thread; nil uses libcurl.
    public init(
        store: SQLiteStore, config: NotificationConfig, templates: TemplateCatalog, workerID: String,
        spoolFolder: String, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        mailTransport: (@Sendable () throws -> any MailTransport)? = nil,
        webhookTransport: (@Sendable () throws -> any WebhookTransport)? = nil
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
        var subscribers: [String: (subscriber: WebhookSubscriber, signer: Result<WebhookSigner, NotificationError>)] = [:]
        for subscriber in config.webhooks where subscribers[subscriber.name] == nil {
            let signer = Result { try WebhookSigner(secret: subscriber.secret) }
                .mapError { $0 as? NotificationError ?? NotificationError(.configuration, "\($0)") }
            subscribers[subscriber.name] = (subscriber, signer)
        }
        self.subscribers = subscribers
    }

    /// One pass: fan out new messages, claim up to `limit` due deliveries, send them, record the outcomes.
    /// Blocks while sending; call it from a thread that may block (``runOnceInBackground(limit:)`` does).
    public func runOnce(limit: Int = 256) throws -> DispatchReport {
        var (report, claimed) = try claimBatch(limit: limit)
        guard !claimed.isEmpty else { return report }
        report.add(try record(claimed, outcomes: sendAll(claimed)))
        return report
    }

    /// Claims up to `limit` due deliveries — first those already fanned out (retries, leftovers, expired leases),
    /// then, for the rest of the batch, new messages fanned out and claimed in the same transaction: the first step
    /// of a pass.
    private func claimBatch(limit: Int) throws -> (DispatchReport, [ClaimedDelivery]) {
        let now = clock()
        return try store.writeNow { tx in try claim(in: tx, limit: limit, now: now) }
    }

    private func claim(in tx: StoreTransaction, limit: Int, now: Double) throws -> (DispatchReport, [ClaimedDelivery]) {
        var report = DispatchReport()
        let subscribers = config.webhooks.map(\.name)
        let email = config.emailEnabled
        var claimed = try tx.claimDeliveries(worker: workerID, now: now, leaseSeconds: config.leaseSeconds, limit: limit)
        let room = limit - claimed.count
        let fanned = try tx.fanOutOutbox(
            limit: room, now: now, claim: .init(worker: workerID, leaseSeconds: config.leaseSeconds, limit: room)
        ) { message in
            (email ? [(channel: OutboxChannel.email, destination: message.recipient)] : [])
                + subscribers.map { (channel: OutboxChannel.webhook, destination: $0) }
        }
        report.fannedOut = fanned.fannedOut
        claimed += fanned.claimed
        report.claimed = claimed.count
        return (report, claimed)
    }

    /// A sent batch's outcomes as they are to be recorded: the last step of a pass.
    private struct Outcomes {
        var report = DispatchReport()
        var records: [StoreTransaction.DeliveryOutcomeRecord] = []
        var finished: Double = 0
    }

    private func outcomes(_ claimed: [ClaimedDelivery], _ attempts: [Attempt]) -> Outcomes {
        var result = Outcomes(finished: clock())
        let policy = config.retry
        result.records.reserveCapacity(claimed.count)
        for (item, attempt) in zip(claimed, attempts) {
            let (status, error, next) = Self.decide(attempt, attempts: item.delivery.attempts + 1, policy: policy, now: result.finished)
            result.records.append(.init(id: item.delivery.id, status: status, error: error, nextAttemptAt: next))
            switch status {
            case .sent: result.report.sent += 1
            case .failed: result.report.failed += 1
            case .skipped: result.report.skipped += 1
            case .dead: result.report.dead += 1
            case .pending: result.report.retrying += 1
            }
        }
        return result
    }

    /// Records a batch's outcomes in one transaction (``completeDeliveries``); returns its report.
    private func record(_ outcomes: Outcomes, in tx: StoreTransaction) throws -> DispatchReport {
        var report = outcomes.report
        report.lostLeases = try tx.completeDeliveries(outcomes.records, worker: workerID, now: outcomes.finished).count
        return report
    }

    private func record(_ claimed: [ClaimedDelivery], outcomes attempts: [Attempt]) throws -> DispatchReport {
        let prepared = outcomes(claimed, attempts)
        return try store.writeNow { tx in try record(prepared, in: tx) }
    }

    /// Passes until nothing is due now, or `maxPasses` batches were sent, pipelined: while one batch is being sent
    /// (on the dispatcher's sending thread), the previous batch's outcomes are recorded and the next batch is
    /// claimed, in one transaction. Each batch is still claimed under a lease before it is sent, and each outcome
    /// recorded after; only the database work and the network work overlap. Returns the summed report.
    public func drain(limit: Int = 256, maxPasses: Int = 1_000) throws -> DispatchReport {
        var total = DispatchReport()
        // The first batch is claimed, prepared and (last) recorded with nothing to overlap it, so batches start at
        // no more than 256 and double up to `limit`: the wire gets busy sooner.
        var batchLimit = min(limit, 256)
        func nextLimit() -> Int {
            defer { batchLimit = batchLimit < limit / 2 ? batchLimit * 2 : limit }
            return batchLimit
        }
        // Claims the next batch; a pass that only fanned out (nothing due yet) is followed by another.
        func claimNext() throws -> [ClaimedDelivery] {
            for _ in 0..<maxPasses {
                let (report, claimed) = try claimBatch(limit: nextLimit())
                total.add(report)
                if !claimed.isEmpty || report.fannedOut == 0 { return claimed }
            }
            return []
        }
        // Each batch is prepared (bodies built and signed) on this thread, while the previous one is being sent.
        var next = prepare(try claimNext())
        var sentBatch: (claimed: [ClaimedDelivery], outcomes: [Attempt])?
        var passes = 0
        while !next.claimed.isEmpty || sentBatch != nil {
            var inFlight: InFlight?
            if !next.claimed.isEmpty {
                passes += 1
                inFlight = InFlight(self, next)
            }
            // Whatever happens below, the batch in flight is waited for before this returns or throws.
            var following: [ClaimedDelivery] = []
            do {
                let done = sentBatch.map { outcomes($0.claimed, $0.outcomes) }
                sentBatch = nil
                let claiming = inFlight != nil && passes < maxPasses
                if done != nil || claiming {
                    let now = clock()
                    let (recorded, claimedReport, claimed) = try store.writeNow { tx in
                        let recorded = try done.map { try record($0, in: tx) }
                        let (report, claimed) = claiming ? try claim(in: tx, limit: nextLimit(), now: now) : (DispatchReport(), [])
                        return (recorded, report, claimed)
                    }
                    if let recorded { total.add(recorded) }
                    total.add(claimedReport)
                    following = claimed
                    if claiming && claimed.isEmpty && claimedReport.fannedOut > 0 { following = try claimNext() }
                }
            } catch {
                if let inFlight { _ = try? record(inFlight.claimed, outcomes: inFlight.wait()) }
                throw error
            }
            next = prepare(following)
            if let inFlight { sentBatch = (inFlight.claimed, inFlight.wait()) }
        }
        return total
    }

    /// A batch being sent on the sending queue.
    private final class InFlight: @unchecked Sendable {
        let claimed: [ClaimedDelivery]
        private var outcomes: [Attempt] = []
        private let done = DispatchSemaphore(value: 0)

        init(_ dispatcher: OutboxDispatcher, _ prepared: PreparedBatch) {
            self.claimed = prepared.claimed
            dispatcher.sendQueue.async { [self] in
                outcomes = dispatcher.send(prepared)
                done.signal()
            }
        }

        func wait() -> [Attempt] {
            done.wait()
            done.signal()
            return outcomes
        }
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

    /// ``drain(limit:maxPasses:)`` on the dispatcher's own thread, so async callers do not block the cooperative pool.
    public func drainInBackground(limit: Int = 256, maxPasses: Int) async throws -> DispatchReport {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.drain(limit: limit, maxPasses: maxPasses) }) }
        }
    }

    // MARK: Sending

    /// An attempt's outcome, or that there was nothing to send to.
    struct Attempt: Sendable, Error {
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

    /// A claimed batch made ready to send: each webhook's body built and signed, each e-mail's values parsed, and
    /// the outcome of each delivery there is nothing to send for.
    struct PreparedBatch: Sendable {
        var claimed: [ClaimedDelivery]
        var results: [Attempt?]
        var mail: [(index: Int, values: [String: String])] = []
        var hooks: [Int] = []
        var requests: [WebhookRequest] = []
    }

    /// Prepares a claimed batch for ``send(_:)``: cheap enough for the thread that claims (and records), so the
    /// sending thread only sends.
    func prepare(_ claimed: [ClaimedDelivery]) -> PreparedBatch {
        var batch = PreparedBatch(claimed: claimed, results: [Attempt?](repeating: nil, count: claimed.count))
        let timestamp = Int(Date().timeIntervalSince1970)
        var sessions: [String: WebhookSigner.Session] = [:]
        batch.hooks.reserveCapacity(claimed.count)
        batch.requests.reserveCapacity(claimed.count)
        for (index, item) in claimed.enumerated() {
            guard let values = Self.flatValues(item.message.payload) else {
                batch.results[index] = Attempt(result: .failed("the outbox payload is not a flat JSON object"))
                continue
            }
            switch item.delivery.channel {
            case .email:
                batch.mail.append((index, values))
            case .webhook:
                switch webhookRequest(
                    item.message, values: values, subscriber: item.delivery.destination, timestamp: timestamp, sessions: &sessions)
                {
                case .success(let request):
                    batch.hooks.append(index)
                    batch.requests.append(request)
                case .failure(let attempt):
                    batch.results[index] = attempt
                }
            }
        }
        return batch
    }

    /// Sends a claimed batch: e-mail on up to `concurrency` threads, each with its own reused connection, while
    /// this thread sends the webhooks through one transport, up to `concurrency` at once per host.
    fileprivate func sendAll(_ claimed: [ClaimedDelivery]) -> [Attempt] {
        send(prepare(claimed))
    }

    /// Sends a prepared batch (see ``sendAll(_:)``); returns each delivery's attempt, in the batch's order.
    fileprivate func send(_ prepared: PreparedBatch) -> [Attempt] {
        let claimed = prepared.claimed
        var results = prepared.results
        let mail = prepared.mail
        let hooks = prepared.hooks
        let requests = prepared.requests
        let batch = Batch(count: mail.count)
        let group = DispatchGroup()
        for index in 0..<min(slots.count, mail.count) {
            let slot = slots[index]
            group.enter()
            let thread = Thread { [self] in
                while let next = batch.take() {
                    let (position, values) = mail[next]
                    batch.put(next, sendMail(claimed[position].message, values: values, slot: slot))
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        if !requests.isEmpty {
            let outcomes: [DeliveryOutcome]
            do {
                outcomes = try slots[0].webhook().post(requests, concurrencyPerHost: max(1, config.concurrency))
            } catch {
                outcomes = Array(repeating: .failed("\(error)"), count: requests.count)
            }
            for (index, outcome) in zip(hooks, outcomes) { results[index] = Attempt(result: outcome) }
        }
        group.wait()
        for (position, attempt) in zip(mail.map(\.index), batch.results) { results[position] = attempt }
        return results.map { $0 ?? Attempt(result: .retry("not attempted", after: nil)) }
    }

    /// A payload's values: a flat JSON object of strings, else nil.
    static func flatValues(_ payload: String) -> [String: String]? {
        JSONText.flatStrings(payload) ?? (try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: String])
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

    /// The JSON body POSTed for an outbox message (keys sorted, so every attempt sends the same bytes).
    public static func webhookBody(_ message: OutboxRecord, values: [String: String]) -> Data {
        var json = JSONText()
        json.open()
        json.key("data")
        json.open()
        json.key("id"); json.string(message.id)
        json.key("instance_id"); json.string(message.instanceID)
        json.key("recipient"); json.string(message.recipient)
        json.key("template"); json.string(message.template)
        json.key("values")
        json.open()
        for key in values.keys.sorted() {
            json.key(key)
            json.string(values[key]!)
        }
        json.close()
        json.close()
        json.key("timestamp"); json.string(UTCTime(message.createdAt).iso8601)
        json.key("type"); json.string("rosterflow.notification.\(message.template)")
        json.close()
        return Data(json.bytes)
    }

    /// A signed request for one webhook delivery, or the attempt's outcome when there is nothing to send.
    private func webhookRequest(
        _ message: OutboxRecord, values: [String: String], subscriber name: String, timestamp: Int,
        sessions: inout [String: WebhookSigner.Session]
    ) -> Result<WebhookRequest, Attempt> {
        guard let (subscriber, signer) = subscribers[name] else {
            return .failure(Attempt(result: .failed("webhook subscriber '\(name)' is no longer configured"), skipped: true))
        }
        switch signer {
        case .failure(let error):
            return .failure(Attempt(result: .failed("\(error)")))
        case .success(let signer):
            let session = sessions[name] ?? signer.session()
            sessions[name] = session
            let body = Self.webhookBody(message, values: values)
            return .success(WebhookRequest(
                url: subscriber.url, headers: session.headers(id: message.id, timestamp: timestamp, body: body), body: body,
                timeoutSeconds: config.webhookTimeoutSeconds))
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
