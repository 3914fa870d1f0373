import Foundation
import StorageCore

// Sending: a claimed batch prepared (bodies built and signed, values parsed) and sent, e-mail on the sender slots' threads and
// webhooks through one transport.
extension OutboxDispatcher {

    /// An attempt's outcome, or that there was nothing to send to.
    struct Attempt: Sendable, Error {
        var result: DeliveryOutcome
        var skipped = false
    }

    /// A claimed batch made ready to send: each webhook's body built and signed, each e-mail's values parsed, and
    /// the outcome of each delivery there is nothing to send for.
    struct PreparedBatch: Sendable {
        var claimed: [ClaimedDelivery]
        var results: [Attempt?]
        /// Each e-mail's delivery (its index in `claimed`), values, and the latest time it may start (``startDeadline(_:)``).
        var mail: [(index: Int, values: [String: String], startBy: Double)] = []
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
            let startBy = startDeadline(item.delivery)
            switch item.delivery.channel {
            case .email:
                batch.mail.append((index, values, startBy))
            case .webhook:
                switch webhookRequest(
                    item.message, values: values, subscriber: item.delivery.destination, timestamp: timestamp, startBy: startBy,
                    sessions: &sessions)
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

    /// The latest time (on the dispatcher's clock) a claimed delivery may start being sent: the end of its lease, less
    /// the longest its send may take and the time to record the outcome. A send started later could outlast the lease,
    /// and another worker that took the delivery over would send it again; so it is not started, and is given back.
    func startDeadline(_ delivery: DeliveryRecord) -> Double {
        guard let leaseUntil = delivery.leaseUntil else { return .infinity }
        return leaseUntil - config.longestSend(delivery.channel) - config.recordingAllowance
    }

    /// Sends a claimed batch: e-mail on up to `concurrency` threads, each with its own reused connection, while
    /// this thread sends the webhooks through one transport, up to `concurrency` at once per host.
    func sendAll(_ claimed: [ClaimedDelivery]) -> [Attempt] {
        send(prepare(claimed))
    }

    /// Sends a prepared batch (see ``sendAll(_:)``); returns each delivery's attempt, in the batch's order.
    func send(_ prepared: PreparedBatch) -> [Attempt] {
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
                    let (position, values, startBy) = mail[next]
                    guard clock() <= startBy else {
                        batch.put(next, Attempt(result: .leaseWouldRunOut))
                        continue
                    }
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

    /// A signed request for one webhook delivery, or the attempt's outcome when there is nothing to send.
    private func webhookRequest(
        _ message: OutboxRecord, values: [String: String], subscriber name: String, timestamp: Int, startBy: Double,
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
            let clock = clock
            return .success(WebhookRequest(
                url: subscriber.url, headers: session.headers(id: message.id, timestamp: timestamp, body: body), body: body,
                timeoutSeconds: config.webhookTimeoutSeconds, mayStart: { clock() <= startBy }))
        }
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
