import Foundation
import StorageCore

// The transactional outbox on PostgreSQL. Several `serve`/`worker` processes dispatch from one database at READ
// COMMITTED, with no single-writer lock as SQLite has, so every step that hands out work is race-safe by itself:
// - the fan-out picks its messages `FOR UPDATE SKIP LOCKED`: two fan-outs at once take disjoint messages, and a message
//   another one fanned out meanwhile is re-checked (no longer `pending`) and left out;
// - a claim picks its deliveries `FOR UPDATE SKIP LOCKED`: two workers never get the same delivery;
// - a completion is a conditional UPDATE (`claimed_by = worker AND status = 'pending'`): a worker whose lease another
//   took over changes nothing;
// - a message's summary is written under a row lock taken by a statement of its own, so it is computed from every
//   completion committed before it (see `summarise`).

extension PGTransaction {
    func insertOutbox(_ message: OutboxRecord) throws {
        wakesWorkers = true
        try execute(
            """
            INSERT INTO outbox (id, instance_id, transition_seq, channel, recipient, template, payload, status,
                                attempts, next_attempt_at, created_at, last_error)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            message.id, message.instanceID, message.transitionSeq, message.channel.rawValue, message.recipient,
            message.template, message.payload, message.status.rawValue, message.attempts, message.nextAttemptAt,
            message.createdAt, message.lastError)
    }

    func outbox(instanceID: String?) throws -> [OutboxRecord] {
        // SQLite's tie-breaker is rowid (insertion order); PostgreSQL has none, the primary key stands in.
        let rows: PGRows
        if let instanceID {
            rows = try query(
                "SELECT \(Self.outboxColumns()) FROM outbox WHERE instance_id = $1 ORDER BY created_at, message_order", instanceID)
        } else {
            rows = try query("SELECT \(Self.outboxColumns()) FROM outbox ORDER BY created_at, message_order")
        }
        return (0..<rows.count).map { Self.outboxRecord(rows, $0) }
    }

    // MARK: Fan-out

    @discardableResult
    func fanOutOutbox(
        limit: Int, now: Double, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)]
    ) throws -> Int {
        try fanOutOutbox(limit: limit, now: now, claim: nil, destinations: destinations).fannedOut
    }

    func fanOutOutbox(
        limit: Int, now: Double, claim: FanOutClaim?, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)]
    ) throws -> (fannedOut: Int, claimed: [ClaimedDelivery]) {
        guard limit > 0 else { return (0, []) }
        // Race-safe across processes: the pending messages are locked `FOR UPDATE SKIP LOCKED` before they are marked
        // `queued`, so a message another fan-out holds is skipped, and one it fanned out and committed meanwhile is
        // re-checked and left out: each message is fanned out by exactly one transaction.
        let rows = try query(
            """
            WITH picked AS MATERIALIZED (
                SELECT id FROM outbox WHERE status = 'pending' ORDER BY created_at, message_order LIMIT $1 FOR UPDATE SKIP LOCKED),
            queued AS (
                UPDATE outbox o SET status = 'queued' FROM picked WHERE o.id = picked.id
                RETURNING \(Self.outboxColumns("o")), o.message_order)
            SELECT * FROM queued ORDER BY created_at, message_order
            """, limit)
        let messages = (0..<rows.count).map { Self.outboxRecord(rows, $0) }
        guard !messages.isEmpty else { return (0, []) }

        // Every delivery to create, in the order SQLite inserts them one by one (its INSERT OR IGNORE keeps the first
        // of two with the same id).
        struct Planned {
            var id: String
            var message: Int
            var channel: OutboxChannel
            var destination: String
            var due: Double
        }
        var planned: [Planned] = []
        var plannedIDs = Set<String>()
        var untargeted: [String] = []
        for (index, message) in messages.enumerated() {
            let targets = destinations(message)
            if targets.isEmpty { untargeted.append(message.id) }
            let due = max(message.nextAttemptAt, 0)
            for target in targets {
                let id = target.channel == .email
                    ? "\(message.id)/\(OutboxChannel.email.rawValue)"
                    : "\(message.id)/\(target.channel.rawValue)/\(target.destination)"
                guard plannedIDs.insert(id).inserted else { continue }
                planned.append(Planned(id: id, message: index, channel: target.channel, destination: target.destination, due: due))
            }
        }

        var claimed: [ClaimedDelivery] = []
        if !planned.isEmpty {
            // A delivery that exists already is not inserted again (nor claimed). Nobody else can be inserting these
            // ids now: they belong to messages this transaction holds locked.
            var existing = Set<String>()
            if let claim, claim.limit > 0 {
                let found = try query(
                    "SELECT id FROM outbox_deliveries WHERE id = ANY($1::text[])", Self.textArray(planned.map(\.id)))
                for row in 0..<found.count { existing.insert(found.text(row, 0)) }
            }
            var ids: [String] = [], outboxIDs: [String] = [], channels: [String] = [], targets: [String] = []
            var dues: [Double] = [], held: [Bool] = []
            let lease = claim.map { now + $0.leaseSeconds }
            for delivery in planned {
                var holds = false
                if let claim, delivery.due <= now, claimed.count < claim.limit, !existing.contains(delivery.id) {
                    holds = true
                    claimed.append(ClaimedDelivery(
                        delivery: DeliveryRecord(
                            id: delivery.id, outboxID: messages[delivery.message].id, channel: delivery.channel,
                            destination: delivery.destination, nextAttemptAt: delivery.due, claimedBy: claim.worker,
                            leaseUntil: lease, createdAt: now),
                        message: messages[delivery.message]))
                }
                ids.append(delivery.id)
                outboxIDs.append(messages[delivery.message].id)
                channels.append(delivery.channel.rawValue)
                targets.append(delivery.destination)
                dues.append(delivery.due)
                held.append(holds)
            }
            // All of them in one statement, whatever their number.
            let inserted = try query(
                """
                INSERT INTO outbox_deliveries (id, outbox_id, channel, destination, status, attempts, next_attempt_at,
                    claimed_by, lease_until, created_at)
                SELECT n.id, n.outbox_id, n.channel, n.destination, 'pending', 0, n.due,
                    CASE WHEN n.held THEN $7::text END, CASE WHEN n.held THEN $8::float8 END, $9::float8
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::boolean[])
                    AS n (id, outbox_id, channel, destination, due, held)
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """,
                list: [
                    Self.textArray(ids), Self.textArray(outboxIDs), Self.textArray(channels), Self.textArray(targets),
                    Self.floatArray(dues), Self.boolArray(held), (claim?.worker).pgParam, lease.pgParam, now.pgParam,
                ])
            if !claimed.isEmpty {
                var insertedIDs = Set<String>()
                for row in 0..<inserted.count { insertedIDs.insert(inserted.text(row, 0)) }
                claimed.removeAll { !insertedIDs.contains($0.delivery.id) }
            }
        }
        if !untargeted.isEmpty {
            try execute(
                "UPDATE outbox SET status = 'skipped', last_error = $1 WHERE id = ANY($2::text[])",
                "no channel delivers this message", Self.textArray(untargeted))
        }
        return (messages.count, claimed)
    }

    // MARK: Claims

    func claimDeliveries(worker: String, now: Double, leaseSeconds: Double, limit: Int) throws -> [ClaimedDelivery] {
        // Race-safe across processes: the due deliveries are locked `FOR UPDATE SKIP LOCKED` before they are leased, so
        // a delivery another worker is claiming (or completing) right now is skipped, and one it claimed and committed
        // meanwhile is re-checked (its lease is no longer over) and left out: no delivery goes to two workers.
        let rows = try query(
            """
            WITH picked AS MATERIALIZED (
                SELECT id FROM outbox_deliveries
                WHERE status = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED),
            leased AS (
                UPDATE outbox_deliveries d SET claimed_by = $1, lease_until = $2 FROM picked WHERE d.id = picked.id
                RETURNING \(Self.deliveryColumns("d")))
            SELECT leased.*, \(Self.outboxColumns("o"))
            FROM leased JOIN outbox o ON o.id = leased.outbox_id
            ORDER BY leased.next_attempt_at, leased.id
            """, worker, now + leaseSeconds, now, Self.limit(limit))
        return (0..<rows.count).map { row in
            ClaimedDelivery(
                delivery: Self.delivery(rows, row),
                message: Self.outboxRecord(rows, row, offset: Self.deliveryColumnCount))
        }
    }

    @discardableResult
    func completeDelivery(
        id: String, worker: String, status: DeliveryRecord.Status, error: String?, nextAttemptAt: Double?, now: Double
    ) throws -> Bool {
        // A conditional UPDATE: it changes the row only while `worker` holds it; a worker that took it over and
        // committed first makes this one change nothing (PostgreSQL re-checks the condition on the newest row).
        let changed = try execute(
            """
            UPDATE outbox_deliveries
            SET status = $1, attempts = attempts + 1, last_error = $2, last_attempt_at = $3::float8,
                next_attempt_at = COALESCE($4::float8, next_attempt_at), delivered_at = $5::float8, claimed_by = NULL,
                lease_until = NULL
            WHERE id = $6 AND claimed_by = $7 AND status = 'pending'
            """,
            status.rawValue, error, now, nextAttemptAt, status == .sent ? now : nil as Double?, id, worker)
        guard changed == 1 else { return false }
        try summarise(outboxIDs: [DeliveryRecord.outboxID(ofDelivery: id)])
        return true
    }

    func completeDeliveries(_ outcomes: [DeliveryOutcomeRecord], worker: String, now: Double) throws -> [String] {
        guard !outcomes.isEmpty else { return [] }
        // One conditional statement per group of alike outcomes, as completeDelivery records one.
        let (messages, lost) = try DeliveryOutcomeBatch.record(outcomes) { group in
            let rows = try query(
                """
                UPDATE outbox_deliveries
                SET status = $1, attempts = attempts + 1, last_error = $2, last_attempt_at = $3::float8,
                    next_attempt_at = COALESCE($4::float8, next_attempt_at), delivered_at = $5::float8, claimed_by = NULL,
                    lease_until = NULL
                WHERE id = ANY($6::text[]) AND claimed_by = $7 AND status = 'pending'
                RETURNING id
                """,
                group.status.rawValue, group.error, now, group.nextAttemptAt, group.status == .sent ? now : nil as Double?,
                Self.textArray(group.ids), worker)
            return (0..<rows.count).map { rows.text($0, 0) }
        }
        try summarise(outboxIDs: messages)
        return lost
    }

    func releaseClaims(worker: String) throws {
        try execute(
            "UPDATE outbox_deliveries SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = $1 AND status = 'pending'",
            worker)
    }

    func releaseClaims(worker: String, ids: [String], leasedUntil: Double) throws {
        guard !ids.isEmpty else { return }
        try execute(
            """
            UPDATE outbox_deliveries SET claimed_by = NULL, lease_until = NULL
            WHERE id = ANY($1::text[]) AND claimed_by = $2 AND lease_until = $3::float8 AND status = 'pending'
            """, Self.textArray(ids), worker, leasedUntil)
    }

    /// Sets each message's status from its deliveries: `queued` while any is pending, else `dead`, `failed`, `sent` or
    /// `skipped`, in that order of precedence; its attempts are the sum of theirs; its last error the latest one.
    ///
    /// Race-safe across processes: two workers completing deliveries of one message at once would each compute the
    /// summary from a snapshot without the other's change, and the later write would win (a message left `queued`
    /// with all its deliveries done). So the messages are first locked by a statement of their own (in id order, so
    /// two batches never wait on each other in a cycle), and the summary is computed by the next statement, whose
    /// snapshot (READ COMMITTED: one per statement) sees every completion committed before the lock was granted.
    private func summarise(outboxIDs: [String]) throws {
        guard !outboxIDs.isEmpty else { return }
        let ids = Self.textArray(outboxIDs)
        try execute("SELECT id FROM outbox WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", ids)
        try execute(
            """
            UPDATE outbox SET (status, attempts, last_error) = (
                SELECT CASE
                    WHEN COUNT(*) FILTER (WHERE d.status = 'pending') > 0 THEN 'queued'
                    WHEN COUNT(*) FILTER (WHERE d.status = 'dead') > 0 THEN 'dead'
                    WHEN COUNT(*) FILTER (WHERE d.status = 'failed') > 0 THEN 'failed'
                    WHEN COUNT(*) FILTER (WHERE d.status = 'sent') > 0 THEN 'sent'
                    ELSE 'skipped' END,
                    COALESCE(SUM(d.attempts), 0)::bigint,
                    (SELECT e.last_error FROM outbox_deliveries e
                     WHERE \(Self.deliveriesOfMessage("outbox.id", table: "e")) AND e.last_error IS NOT NULL
                     ORDER BY e.last_attempt_at DESC NULLS LAST, e.id LIMIT 1)
                FROM outbox_deliveries d WHERE \(Self.deliveriesOfMessage("outbox.id", table: "d")))
            WHERE id = ANY($1::text[])
            """, ids)
    }

    // MARK: Inspection and retry

    func outboxMessages(status: OutboxStatus?, limit: Int) throws -> [OutboxRecord] {
        let rows: PGRows
        if let status {
            rows = try query(
                """
                SELECT \(Self.outboxColumns()) FROM outbox WHERE status = $1
                ORDER BY created_at DESC, message_order DESC LIMIT $2
                """, status.rawValue, Self.limit(limit))
        } else {
            rows = try query(
                "SELECT \(Self.outboxColumns()) FROM outbox ORDER BY created_at DESC, message_order DESC LIMIT $1", Self.limit(limit))
        }
        return (0..<rows.count).map { Self.outboxRecord(rows, $0) }
    }

    func outboxMessage(id: String) throws -> OutboxRecord? {
        let rows = try query("SELECT \(Self.outboxColumns()) FROM outbox WHERE id = $1", id)
        return rows.count == 0 ? nil : Self.outboxRecord(rows, 0)
    }

    func deliveries(outboxID: String) throws -> [DeliveryRecord] {
        let rows = try query(
            """
            SELECT \(Self.deliveryColumns("d")) FROM outbox_deliveries d
            WHERE \(Self.deliveriesOfMessage("$1::text", table: "d")) ORDER BY d.channel, d.destination, d.id
            """, outboxID)
        return (0..<rows.count).map { Self.delivery(rows, $0) }
    }

    func deliveries(status: DeliveryRecord.Status?, limit: Int) throws -> [DeliveryRecord] {
        let rows: PGRows
        if let status {
            rows = try query(
                """
                SELECT \(Self.deliveryColumns("d")) FROM outbox_deliveries d WHERE d.status = $1
                ORDER BY d.created_at, d.id LIMIT $2
                """, status.rawValue, Self.limit(limit))
        } else {
            rows = try query(
                "SELECT \(Self.deliveryColumns("d")) FROM outbox_deliveries d ORDER BY d.created_at, d.id LIMIT $1",
                Self.limit(limit))
        }
        return (0..<rows.count).map { Self.delivery(rows, $0) }
    }

    @discardableResult
    func retryOutbox(id: String, deliveryID: String?, now: Double) throws -> Int {
        // A conditional UPDATE: only deliveries that are final when it runs go back to pending (one a worker is sending
        // is pending, and is left to it).
        var sql = """
            UPDATE outbox_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1::float8, claimed_by = NULL,
                lease_until = NULL
            WHERE \(Self.deliveriesOfMessage("$2::text")) AND status IN ('failed', 'dead', 'skipped')
            """
        var params: [PGParam] = [now.pgParam, id.pgParam]
        if let deliveryID {
            sql += " AND id = $3"
            params.append(deliveryID.pgParam)
        }
        let changed = try execute(sql, list: params)
        if changed > 0 { try summarise(outboxIDs: [id]) }
        return changed
    }
}

// MARK: Columns, decoders and parameters

extension PGTransaction {
    /// The outbox columns in the order ``outboxRecord(_:_:offset:)`` reads them, optionally qualified by `table`.
    static func outboxColumns(_ table: String? = nil) -> String {
        ["id", "instance_id", "transition_seq", "channel", "recipient", "template", "payload", "status", "attempts",
         "next_attempt_at", "created_at", "last_error"].map { column in table.map { "\($0).\(column)" } ?? column }
            .joined(separator: ", ")
    }

    /// The outbox message in `row`, its columns from `offset` on as ``outboxColumns(_:)`` lists them.
    static func outboxRecord(_ rows: PGRows, _ row: Int, offset: Int = 0) -> OutboxRecord {
        OutboxRecord(
            id: rows.text(row, offset), instanceID: rows.text(row, offset + 1),
            transitionSeq: rows.int64(row, offset + 2),
            channel: OutboxChannel(rawValue: rows.text(row, offset + 3)) ?? .email, recipient: rows.text(row, offset + 4),
            template: rows.text(row, offset + 5), payload: rows.text(row, offset + 6),
            status: OutboxStatus(rawValue: rows.text(row, offset + 7)) ?? .pending, attempts: rows.int(row, offset + 8) ?? 0,
            nextAttemptAt: rows.double(row, offset + 9) ?? 0, createdAt: rows.double(row, offset + 10) ?? 0,
            lastError: rows.string(row, offset + 11))
    }

    /// The delivery columns in the order ``delivery(_:_:)`` reads them, qualified by `table`.
    static func deliveryColumns(_ table: String) -> String {
        ["id", "outbox_id", "channel", "destination", "status", "attempts", "next_attempt_at", "claimed_by", "lease_until",
         "last_error", "last_attempt_at", "delivered_at", "created_at"].map { "\(table).\($0)" }.joined(separator: ", ")
    }

    static let deliveryColumnCount = 13

    /// The delivery in `row`, its columns as ``deliveryColumns(_:)`` lists them.
    static func delivery(_ rows: PGRows, _ row: Int) -> DeliveryRecord {
        DeliveryRecord(
            id: rows.text(row, 0), outboxID: rows.text(row, 1), channel: OutboxChannel(rawValue: rows.text(row, 2)) ?? .email,
            destination: rows.text(row, 3),
            status: DeliveryRecord.Status(rawValue: rows.text(row, 4)) ?? .pending, attempts: rows.int(row, 5) ?? 0,
            nextAttemptAt: rows.double(row, 6) ?? 0, claimedBy: rows.string(row, 7), leaseUntil: rows.double(row, 8),
            lastError: rows.string(row, 9), lastAttemptAt: rows.double(row, 10), deliveredAt: rows.double(row, 11),
            createdAt: rows.double(row, 12) ?? 0)
    }

    /// The condition for the deliveries of the message whose id is `message` (an SQL expression): a range of the
    /// primary key (every delivery id is `<outbox id>/...`; '0' follows '/' bytewise), then the outbox id itself.
    static func deliveriesOfMessage(_ message: String, table: String? = nil) -> String {
        let column = table.map { "\($0)." } ?? ""
        return "\(column)id > \(message) || '/' AND \(column)id < \(message) || '0' AND \(column)outbox_id = \(message)"
    }

    /// A `LIMIT` as SQLite reads it: a negative one means no limit (`LIMIT NULL` in PostgreSQL, which refuses negatives).
    static func limit(_ limit: Int) -> Int? {
        limit < 0 ? nil : limit
    }

    /// A `float8[]` parameter.
    static func floatArray(_ values: [Double]) -> PGParam {
        var literal = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { literal += "," }
            if case .text(let text) = value.pgParam { literal += text }
        }
        return .text(literal + "}")
    }

    /// A `boolean[]` parameter.
    static func boolArray(_ values: [Bool]) -> PGParam {
        .text("{" + values.map { $0 ? "t" : "f" }.joined(separator: ",") + "}")
    }
}
