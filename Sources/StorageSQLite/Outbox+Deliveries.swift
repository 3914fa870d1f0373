import StorageCore
import GRDB

extension SQLiteTransaction {
    // MARK: Fan-out

    /// Turns up to `limit` new outbox messages into deliveries, one per (channel, destination) that `destinations`
    /// names for each, and marks the messages `queued`. Safe to run from several processes at once: the first
    /// statement takes the write lock, so each message is fanned out exactly once.
    ///
    /// - Returns: the number of messages fanned out.
    @discardableResult
    public func fanOutOutbox(
        limit: Int, now: Double, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)]
    ) throws -> Int {
        try fanOutOutbox(limit: limit, now: now, claim: nil, destinations: destinations).fannedOut
    }

    /// ``fanOutOutbox(limit:now:destinations:)`` that also claims, for `claim.worker`, up to `claim.limit` of the
    /// deliveries it creates that are due now: they are inserted already holding the lease, exactly as if
    /// ``claimDeliveries(worker:now:leaseSeconds:limit:)`` had claimed them in the same transaction.
    public func fanOutOutbox(
        limit: Int, now: Double, claim: FanOutClaim?, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)]
    ) throws -> (fannedOut: Int, claimed: [ClaimedDelivery]) {
        guard limit > 0 else { return (0, []) }
        var messages: [OutboxRecord] = []
        try db.fastEach("""
            UPDATE outbox SET status = \(OutboxStatus.queued.sql)
            WHERE id IN (SELECT id FROM outbox WHERE status = \(OutboxStatus.pending.sql) ORDER BY created_at, rowid LIMIT ?)
            RETURNING \(Self.outboxColumns)
            """, [limit]) { row in messages.append(Self.outboxRecord(row)) }
        var claimed: [ClaimedDelivery] = []
        for message in messages {
            let targets = destinations(message)
            let due = max(message.nextAttemptAt, 0)
            for target in targets {
                let id = target.channel == .email
                    ? "\(message.id)/\(OutboxChannel.email.rawValue)"
                    : "\(message.id)/\(target.channel.rawValue)/\(target.destination)"
                if let claim, due <= now, claimed.count < claim.limit {
                    let lease = now + claim.leaseSeconds
                    let inserted = try db.fastExecute("""
                        INSERT OR IGNORE INTO outbox_deliveries (id, outbox_id, channel, destination, status, attempts,
                            next_attempt_at, claimed_by, lease_until, created_at)
                        VALUES (?, ?, ?, ?, \(DeliveryRecord.Status.pending.sql), 0, ?, ?, ?, ?)
                        """, [.text(id), .text(message.id), .text(target.channel.rawValue), .text(target.destination), .double(due),
                              .text(claim.worker), .double(lease), .double(now)])
                    if inserted == 1 {
                        claimed.append(ClaimedDelivery(
                            delivery: DeliveryRecord(
                                id: id, outboxID: message.id, channel: target.channel, destination: target.destination,
                                nextAttemptAt: due, claimedBy: claim.worker, leaseUntil: lease, createdAt: now),
                            message: message))
                    }
                } else {
                    try db.fastExecute("""
                        INSERT OR IGNORE INTO outbox_deliveries (id, outbox_id, channel, destination, status, attempts,
                            next_attempt_at, created_at)
                        VALUES (?, ?, ?, ?, \(DeliveryRecord.Status.pending.sql), 0, ?, ?)
                        """, [.text(id), .text(message.id), .text(target.channel.rawValue), .text(target.destination),
                              .double(due), .double(now)])
                }
            }
            if targets.isEmpty {
                try db.fastExecute("UPDATE outbox SET status = \(OutboxStatus.skipped.sql), last_error = ? WHERE id = ?",
                                   [.text("no channel delivers this message"), .text(message.id)])
            }
        }
        return (messages.count, claimed)
    }

    // MARK: Claims

    /// Claims up to `limit` due deliveries for `worker` until `now + leaseSeconds`. A delivery whose previous holder's
    /// lease ran out (it crashed between send and mark) is claimed again and re-sent under the same message id.
    public func claimDeliveries(worker: String, now: Double, leaseSeconds: Double, limit: Int) throws -> [ClaimedDelivery] {
        var ids: [String] = []
        try db.fastEach("""
            UPDATE outbox_deliveries SET claimed_by = ?, lease_until = ?
            WHERE id IN (
                SELECT id FROM outbox_deliveries
                WHERE status = \(DeliveryRecord.Status.pending.sql) AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
                ORDER BY next_attempt_at, id LIMIT ?)
            RETURNING id
            """, [worker, now + leaseSeconds, now, now, limit]) { row in ids.append(row.string(0)) }
        guard !ids.isEmpty else { return [] }
        var claimed: [ClaimedDelivery] = []
        claimed.reserveCapacity(ids.count)
        // The ids go in as one JSON array, so the statement stays the same (and cached) whatever their number.
        try db.fastEach("""
            SELECT \(Self.deliveryColumns("d")), \(Self.outboxColumns("o"))
            FROM outbox_deliveries d JOIN outbox o ON o.id = d.outbox_id
            WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_at, d.id
            """, [JSONText.array(ids)]) { row in
            var outbox = row
            outbox.offset = Self.deliveryColumnCount
            claimed.append(ClaimedDelivery(delivery: Self.delivery(row), message: Self.outboxRecord(outbox)))
        }
        return claimed
    }

    /// Records the outcome of one attempt, if `worker` still holds the delivery; returns false when it does not
    /// (its lease ran out and another dispatcher took it over: that one's outcome counts).
    ///
    /// - Parameters:
    ///   - status: `.pending` to retry at `nextAttemptAt`; any other status is final.
    @discardableResult
    public func completeDelivery(
        id: String, worker: String, status: DeliveryRecord.Status, error: String?, nextAttemptAt: Double?, now: Double
    ) throws -> Bool {
        guard try recordOutcome(id: id, worker: worker, status: status, error: error, nextAttemptAt: nextAttemptAt, now: now)
        else { return false }
        try summarise(outboxID: DeliveryRecord.outboxID(ofDelivery: id))
        return true
    }

    /// Records many attempts' outcomes in this one transaction, as ``completeDelivery(id:worker:status:error:nextAttemptAt:now:)``
    /// does each; every message concerned is summarised once. Returns the ids `worker` no longer held (not recorded).
    public func completeDeliveries(_ outcomes: [DeliveryOutcomeRecord], worker: String, now: Double) throws -> [String] {
        guard !outcomes.isEmpty else { return [] }
        // One statement per group of alike outcomes, with the same conditions as recordOutcome's.
        let (messages, lost) = try DeliveryOutcomeBatch.record(outcomes) { group in
            var updated: [String] = []
            try db.fastEach("""
                UPDATE outbox_deliveries
                SET status = ?, attempts = attempts + 1, last_error = ?, last_attempt_at = ?,
                    next_attempt_at = COALESCE(?, next_attempt_at), delivered_at = ?, claimed_by = NULL, lease_until = NULL
                WHERE id IN (SELECT value FROM json_each(?)) AND claimed_by = ? AND status = \(DeliveryRecord.Status.pending.sql)
                RETURNING id
                """, [group.status.rawValue, group.error, now, group.nextAttemptAt, group.status == .sent ? now : nil,
                      JSONText.array(group.ids), worker]) { row in updated.append(row.string(0)) }
            return updated
        }
        try summarise(outboxIDs: messages)
        return lost
    }

    private func recordOutcome(
        id: String, worker: String, status: DeliveryRecord.Status, error: String?, nextAttemptAt: Double?, now: Double
    ) throws -> Bool {
        try db.fastExecute("""
            UPDATE outbox_deliveries
            SET status = ?, attempts = attempts + 1, last_error = ?, last_attempt_at = ?,
                next_attempt_at = COALESCE(?, next_attempt_at), delivered_at = ?, claimed_by = NULL, lease_until = NULL
            WHERE id = ? AND claimed_by = ? AND status = \(DeliveryRecord.Status.pending.sql)
            """, [.text(status.rawValue), FastValue(error), .double(now), FastValue(nextAttemptAt),
                  status == .sent ? .double(now) : .null, .text(id), .text(worker)]) == 1
    }

    /// The condition for the deliveries of the message whose id is `message` (an SQL expression): a range of the
    /// primary key (every delivery id is `<outbox id>/...`; '0' follows '/'), then the outbox id itself.
    static func deliveriesOfMessage(_ message: String, table: String? = nil) -> String {
        let column = table.map { "\($0)." } ?? ""
        return "\(column)id > \(message) || '/' AND \(column)id < \(message) || '0' AND \(column)outbox_id = \(message)"
    }

    /// Gives back every delivery `worker` holds, unsent, so another dispatcher may take it at once (graceful stop).
    public func releaseClaims(worker: String) throws {
        try db.execute(
            sql: "UPDATE outbox_deliveries SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ? AND status = "
                + DeliveryRecord.Status.pending.sql,
            arguments: [worker])
    }

    /// Gives back deliveries of `ids` that `worker` still holds, unsent, under the lease that ends at `leasedUntil`.
    public func releaseClaims(worker: String, ids: [String], leasedUntil: Double) throws {
        guard !ids.isEmpty else { return }
        try db.execute(
            sql: """
                UPDATE outbox_deliveries SET claimed_by = NULL, lease_until = NULL
                WHERE id IN (SELECT value FROM json_each(?)) AND claimed_by = ? AND lease_until = ?
                    AND status = \(DeliveryRecord.Status.pending.sql)
                """,
            arguments: [JSONText.array(ids), worker, leasedUntil])
    }

    /// Sets a message's status from its deliveries: `queued` while any is pending, else `dead`, `failed`, `sent`
    /// or `skipped`, in that order of precedence; its attempts are the sum of theirs.
    private func summarise(outboxID: String) throws {
        try summarise(outboxIDs: [outboxID])
    }

    /// ``summarise(outboxID:)`` for many messages, in one statement.
    private func summarise(outboxIDs: [String]) throws {
        guard !outboxIDs.isEmpty else { return }
        try db.fastExecute("""
            UPDATE outbox SET (status, attempts, last_error) = (
                SELECT CASE
                    WHEN SUM(d.status = \(DeliveryRecord.Status.pending.sql)) > 0 THEN \(OutboxStatus.queued.sql)
                    WHEN SUM(d.status = \(DeliveryRecord.Status.dead.sql)) > 0 THEN \(OutboxStatus.dead.sql)
                    WHEN SUM(d.status = \(DeliveryRecord.Status.failed.sql)) > 0 THEN \(OutboxStatus.failed.sql)
                    WHEN SUM(d.status = \(DeliveryRecord.Status.sent.sql)) > 0 THEN \(OutboxStatus.sent.sql)
                    ELSE \(OutboxStatus.skipped.sql) END,
                    COALESCE(SUM(d.attempts), 0),
                    (SELECT e.last_error FROM outbox_deliveries e
                     WHERE \(Self.deliveriesOfMessage("outbox.id", table: "e")) AND e.last_error IS NOT NULL
                     ORDER BY e.last_attempt_at DESC LIMIT 1)
                FROM outbox_deliveries d WHERE \(Self.deliveriesOfMessage("outbox.id", table: "d")))
            WHERE id IN (SELECT value FROM json_each(?))
            """, [.text(JSONText.array(outboxIDs))])
    }

    // MARK: Inspection and retry

    /// Outbox messages, newest first, optionally only those with `status`.
    public func outboxMessages(status: OutboxStatus? = nil, limit: Int = 200) throws -> [OutboxRecord] {
        let filter = status == nil ? "" : " WHERE status = ?"
        var arguments: StatementArguments = []
        if let status { arguments += [status.rawValue] }
        arguments += [limit]
        return try all("SELECT \(Self.outboxColumns) FROM outbox\(filter) ORDER BY created_at DESC, rowid DESC LIMIT ?",
                       arguments, Self.outboxRecord)
    }

    /// One outbox message, or nil.
    public func outboxMessage(id: String) throws -> OutboxRecord? {
        try first("SELECT \(Self.outboxColumns) FROM outbox WHERE id = ?", [id], Self.outboxRecord)
    }

    /// A message's deliveries, e-mail first.
    public func deliveries(outboxID: String) throws -> [DeliveryRecord] {
        try all("""
            SELECT \(Self.deliveryColumns("d")) FROM outbox_deliveries d
            WHERE \(Self.deliveriesOfMessage("?1", table: "d")) ORDER BY d.channel, d.destination
            """, [outboxID], Self.delivery)
    }

    /// Deliveries with `status` (all when nil), oldest first.
    public func deliveries(status: DeliveryRecord.Status?, limit: Int = 100_000) throws -> [DeliveryRecord] {
        let filter = status == nil ? "" : " WHERE status = ?"
        var arguments: StatementArguments = []
        if let status { arguments += [status.rawValue] }
        arguments += [limit]
        return try all("SELECT \(Self.deliveryColumns("d")) FROM outbox_deliveries d\(filter) ORDER BY d.created_at, d.id LIMIT ?",
                       arguments, Self.delivery)
    }

    /// Sends a message again: every delivery of it that failed, died or was skipped (or just `deliveryID`) goes back
    /// to `pending` with a fresh attempt count, due now. A message not yet fanned out is left as it is.
    ///
    /// - Returns: how many deliveries were reset.
    @discardableResult
    public func retryOutbox(id: String, deliveryID: String? = nil, now: Double) throws -> Int {
        var sql = """
            UPDATE outbox_deliveries SET status = \(DeliveryRecord.Status.pending.sql), attempts = 0, next_attempt_at = ?1, claimed_by = NULL,
                lease_until = NULL
            WHERE \(Self.deliveriesOfMessage("?2")) AND status IN (\(DeliveryRecord.Status.failed.sql), \(DeliveryRecord.Status.dead.sql), \(DeliveryRecord.Status.skipped.sql))
            """
        var arguments: StatementArguments = [now, id]
        if let deliveryID {
            sql += " AND id = ?3"
            arguments += [deliveryID]
        }
        try db.execute(sql: sql, arguments: arguments)
        let changed = db.changesCount
        if changed > 0 { try summarise(outboxID: id) }
        return changed
    }

    /// The outbox columns in the order ``outboxRecord(_:)`` reads them, optionally qualified by `table`.
    static func outboxColumns(_ table: String? = nil) -> String {
        ["id", "instance_id", "transition_seq", "channel", "recipient", "template", "payload", "status", "attempts",
         "next_attempt_at", "created_at", "last_error"].map { column in table.map { "\($0).\(column)" } ?? column }.joined(separator: ", ")
    }

    static var outboxColumns: String { outboxColumns() }

    static func outboxRecord(_ row: FastRow) -> OutboxRecord {
        OutboxRecord(
            id: row.string(0), instanceID: row.string(1),
            transitionSeq: row.optionalInt(2).map(Int64.init),
            channel: OutboxChannel(rawValue: row.string(3)) ?? .email, recipient: row.string(4), template: row.string(5),
            payload: row.string(6), status: OutboxStatus(rawValue: row.string(7)) ?? .pending, attempts: row.int(8), nextAttemptAt: row.double(9), createdAt: row.double(10),
            lastError: row.optionalString(11))
    }

    /// The delivery columns in the order ``delivery(_:)`` reads them, qualified by `table`.
    static func deliveryColumns(_ table: String) -> String {
        ["id", "outbox_id", "channel", "destination", "status", "attempts", "next_attempt_at", "claimed_by", "lease_until",
         "last_error", "last_attempt_at", "delivered_at", "created_at"].map { "\(table).\($0)" }.joined(separator: ", ")
    }

    static let deliveryColumnCount: Int32 = 13

    static func delivery(_ row: FastRow) -> DeliveryRecord {
        DeliveryRecord(
            id: row.string(0), outboxID: row.string(1), channel: OutboxChannel(rawValue: row.string(2)) ?? .email,
            destination: row.string(3),
            status: DeliveryRecord.Status(rawValue: row.string(4)) ?? .pending, attempts: row.int(5),
            nextAttemptAt: row.double(6), claimedBy: row.optionalString(7), leaseUntil: row.optionalDouble(8),
            lastError: row.optionalString(9), lastAttemptAt: row.optionalDouble(10), deliveredAt: row.optionalDouble(11),
            createdAt: row.double(12))
    }
}
