import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Hook senders

    private static let senderColumns =
        "name, secret, previous_secret, previous_valid_until, districts, status, created_at, rotated_at, disabled_at"

    /// Adds a sender; the caller checks first that the name is free, and the later of two adds of one name at once
    /// becomes `busy` (its body runs again and finds the sender), as ``insertUnlessTaken(_:_:taken:)`` says.
    func insertHookSender(_ record: HookSenderRecord) throws {
        try insertUnlessTaken("""
            INSERT INTO hook_senders (\(Self.senderColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, [record.name.pgParam, record.secret.pgParam, record.previousSecret.pgParam, record.previousValidUntil.pgParam,
                  Self.encodeHookDistricts(record.districts).pgParam, record.status.pgParam, record.createdAt.pgParam,
                  record.rotatedAt.pgParam, record.disabledAt.pgParam],
            taken: "a hook sender named \(record.name) was added")
    }

    func hookSender(name: String) throws -> HookSenderRecord? {
        let rows = try query("SELECT \(Self.senderColumns) FROM hook_senders WHERE name = $1", name)
        return rows.count == 0 ? nil : Self.hookSender(rows, 0)
    }

    func hookSenders() throws -> [HookSenderRecord] {
        let rows = try query("SELECT \(Self.senderColumns) FROM hook_senders ORDER BY created_at, name")
        return (0..<rows.count).map { Self.hookSender(rows, $0) }
    }

    func updateHookSender(_ record: HookSenderRecord) throws {
        try execute("""
            UPDATE hook_senders SET secret = $1, previous_secret = $2, previous_valid_until = $3, districts = $4, status = $5,
                rotated_at = $6, disabled_at = $7
            WHERE name = $8
            """, record.secret, record.previousSecret, record.previousValidUntil, Self.encodeHookDistricts(record.districts),
            record.status, record.rotatedAt, record.disabledAt, record.name)
    }

    // MARK: Hook deliveries

    /// In a write transaction, first takes an advisory lock on (sender, `webhook-id`), held to the end of the
    /// transaction: the caller looks the delivery up, applies the hook when it is new and records it, and a sender's
    /// retry arriving while the first delivery is still being applied (in another process) would find nothing at READ
    /// COMMITTED and apply the hook again. With the lock the retry waits, then finds the delivery and is answered as a
    /// replay.
    func hookDelivery(sender: String, webhookID: String) throws -> HookDeliveryRecord? {
        try lockForDecision("rosterflow.hook-delivery", sender + "\n" + webhookID)
        let rows = try query("""
            SELECT sender, webhook_id, fingerprint, status, body, received_at FROM hook_deliveries
            WHERE sender = $1 AND webhook_id = $2
            """, sender, webhookID)
        guard rows.count > 0 else { return nil }
        return HookDeliveryRecord(
            sender: rows.text(0, 0), webhookID: rows.text(0, 1), fingerprint: rows.text(0, 2), status: rows.int(0, 3) ?? 0,
            body: rows.data(0, 4) ?? Data(), receivedAt: rows.double(0, 5) ?? 0)
    }

    /// Records an applied delivery; a delivery of the same sender and id recorded meanwhile by a request that did not
    /// look it up first makes this `busy` (the body runs again and finds it), as ``insertUnlessTaken(_:_:taken:)`` says.
    func insertHookDelivery(_ record: HookDeliveryRecord) throws {
        try insertUnlessTaken("""
            INSERT INTO hook_deliveries (sender, webhook_id, fingerprint, status, body, received_at) VALUES ($1, $2, $3, $4, $5, $6)
            """, [record.sender.pgParam, record.webhookID.pgParam, record.fingerprint.pgParam, record.status.pgParam,
                  record.body.pgParam, record.receivedAt.pgParam],
            taken: "webhook-id \(record.webhookID) of \(record.sender) was recorded")
    }

    @discardableResult
    func deleteHookDeliveries(receivedBefore before: Double) throws -> Int {
        try execute("DELETE FROM hook_deliveries WHERE received_at < $1", before)
    }

    private static func encodeHookDistricts(_ districts: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(districts)) ?? Data("[]".utf8), as: UTF8.self)
    }

    private static func hookSender(_ rows: PGRows, _ row: Int) -> HookSenderRecord {
        let districts = (try? JSONDecoder().decode([String].self, from: Data(rows.text(row, 4).utf8))) ?? []
        return HookSenderRecord(
            name: rows.text(row, 0), secret: rows.text(row, 1), previousSecret: rows.string(row, 2),
            previousValidUntil: rows.double(row, 3), districts: districts, status: rows.text(row, 5),
            createdAt: rows.double(row, 6) ?? 0, rotatedAt: rows.double(row, 7), disabledAt: rows.double(row, 8))
    }
}
