import Foundation
import StorageCore

/// What one dispatcher pass did.
public struct DispatchReport: Sendable, Equatable, Codable {
    /// New outbox messages turned into deliveries.
    public var fannedOut = 0
    /// Deliveries claimed: each attempted, or given back unattempted (``released``).
    public var claimed = 0
    public var sent = 0
    public var retrying = 0
    public var failed = 0
    public var dead = 0
    public var skipped = 0
    /// Outcomes not recorded because another dispatcher had taken the delivery over (its lease had run out).
    public var lostLeases = 0
    /// Deliveries claimed but not started, because their lease would have run out before the send could finish
    /// (the batch ahead of them took too long); given back unattempted, for the next pass.
    public var released = 0

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
    let store: any RosterFlowStore
    public let config: NotificationConfig
    public let templates: TemplateCatalog
    /// Names this dispatcher in `claimed_by`.
    public let workerID: String
    let clock: @Sendable () -> Double
    let slots: [SenderSlot]
    /// Each configured subscriber with its signer (or why its secret is unusable), by name.
    let subscribers: [String: (subscriber: WebhookSubscriber, signer: Result<WebhookSigner, NotificationError>)]
    let queue = DispatchQueue(label: "rosterflow.outbox-dispatcher")
    /// Where ``drain(limit:maxPasses:)`` sends a batch while it records the previous one and claims the next.
    let sendQueue = DispatchQueue(label: "rosterflow.outbox-sender")

    /// - Parameters:
    ///   - spoolFolder: where mail goes when `config` names no SMTP server and no spool folder.
    ///   - mailTransport: makes one mail transport per sending thread; nil picks SMTP or the spool from `config`.
    ///   - webhookTransport: makes one webhook transport per sending thread; nil uses libcurl.
    public init(
        store: any RosterFlowStore, config: NotificationConfig, templates: TemplateCatalog, workerID: String,
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

    private func claim(in tx: any StoreTransaction, limit: Int, now: Double) throws -> (DispatchReport, [ClaimedDelivery]) {
        var report = DispatchReport()
        let subscribers = config.webhooks.map(\.name)
        let email = config.emailEnabled
        var claimed = try tx.claimDeliveries(worker: workerID, now: now, leaseSeconds: config.leaseSeconds, limit: limit)
        let room = limit - claimed.count
        let fanned = try tx.fanOutOutbox(
            limit: room, now: now, claim: .init(worker: workerID, leaseSeconds: config.leaseSeconds, limit: room)
        ) { message in
            (email ? [(channel: OutboxChannel.email, destination: message.recipient)] : [])
                + (PayloadKeys.emailOnlyTemplates.contains(message.template)
                    ? [] : subscribers.map { (channel: OutboxChannel.webhook, destination: $0) })
        }
        report.fannedOut = fanned.fannedOut
        claimed += fanned.claimed
        report.claimed = claimed.count
        return (report, claimed)
    }

    /// A sent batch's outcomes as they are to be recorded: the last step of a pass.
    private struct Outcomes {
        var report = DispatchReport()
        var records: [DeliveryOutcomeRecord] = []
        /// Deliveries not started, to give back unattempted, by the end of the lease they were claimed under.
        var released: [Double: [String]] = [:]
        var finished: Double = 0
    }

    private func outcomes(_ claimed: [ClaimedDelivery], _ attempts: [Attempt]) -> Outcomes {
        var result = Outcomes(finished: clock())
        let policy = config.retry
        result.records.reserveCapacity(claimed.count)
        for (item, attempt) in zip(claimed, attempts) {
            if case .notStarted = attempt.result, let leaseUntil = item.delivery.leaseUntil {
                result.released[leaseUntil, default: []].append(item.delivery.id)
                result.report.released += 1
                continue
            }
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
    private func record(_ outcomes: Outcomes, in tx: any StoreTransaction) throws -> DispatchReport {
        var report = outcomes.report
        for (leaseUntil, ids) in outcomes.released {
            try tx.releaseClaims(worker: workerID, ids: ids, leasedUntil: leaseUntil)
        }
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
                // Claims the next batch while one is sent; and again after a batch that gave deliveries back (their
                // lease would have run out before their turn), so that they are sent in this drain too.
                let gaveBack = (done?.report.released ?? 0) > 0
                let claiming = (inFlight != nil || gaveBack) && passes < maxPasses
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
        released += other.released
    }
}
