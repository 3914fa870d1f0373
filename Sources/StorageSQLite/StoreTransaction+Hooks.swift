import Foundation
import GRDB
import StorageCore

extension SQLiteTransaction {
    // MARK: Hook senders

    /// Adds a sender; the caller checks first that the name is free.
    public func insertHookSender(_ record: HookSenderRecord) throws {
        try db.execute(sql: """
            INSERT INTO hook_senders (name, secret, previous_secret, previous_valid_until, districts, status, created_at,
                rotated_at, disabled_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [record.name, record.secret, record.previousSecret, record.previousValidUntil,
                             Self.encodeHookDistricts(record.districts), record.status, record.createdAt, record.rotatedAt,
                             record.disabledAt])
    }

    /// The sender with this name, or nil.
    public func hookSender(name: String) throws -> HookSenderRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM hook_senders WHERE name = ?", arguments: [name]).map(Self.hookSender)
    }

    /// Every sender, oldest first.
    public func hookSenders() throws -> [HookSenderRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM hook_senders ORDER BY created_at, name").map(Self.hookSender)
    }

    /// Replaces the stored sender of `record.name` (its secrets, districts and status).
    public func updateHookSender(_ record: HookSenderRecord) throws {
        try db.execute(sql: """
            UPDATE hook_senders SET secret = ?, previous_secret = ?, previous_valid_until = ?, districts = ?, status = ?,
                rotated_at = ?, disabled_at = ?
            WHERE name = ?
            """, arguments: [record.secret, record.previousSecret, record.previousValidUntil,
                             Self.encodeHookDistricts(record.districts), record.status, record.rotatedAt, record.disabledAt,
                             record.name])
    }

    // MARK: Hook deliveries

    /// The delivery a sender made under a `webhook-id`, or nil.
    public func hookDelivery(sender: String, webhookID: String) throws -> HookDeliveryRecord? {
        try Row.fetchOne(
            db, sql: "SELECT * FROM hook_deliveries WHERE sender = ? AND webhook_id = ?", arguments: [sender, webhookID]
        ).map { row in
            HookDeliveryRecord(
                sender: row["sender"], webhookID: row["webhook_id"], fingerprint: row["fingerprint"], status: row["status"],
                body: row["body"], receivedAt: row["received_at"])
        }
    }

    /// Records an applied delivery; the caller checks first that its id is new.
    public func insertHookDelivery(_ record: HookDeliveryRecord) throws {
        try db.execute(sql: """
            INSERT INTO hook_deliveries (sender, webhook_id, fingerprint, status, body, received_at) VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [record.sender, record.webhookID, record.fingerprint, record.status, record.body, record.receivedAt])
    }

    /// Forgets deliveries received before `before` (past the retention); returns how many.
    @discardableResult
    public func deleteHookDeliveries(receivedBefore before: Double) throws -> Int {
        try db.execute(sql: "DELETE FROM hook_deliveries WHERE received_at < ?", arguments: [before])
        return db.changesCount
    }

    private static func encodeHookDistricts(_ districts: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(districts)) ?? Data("[]".utf8), as: UTF8.self)
    }

    private static func hookSender(_ row: Row) -> HookSenderRecord {
        let districts = (try? JSONDecoder().decode([String].self, from: Data((row["districts"] as String).utf8))) ?? []
        return HookSenderRecord(
            name: row["name"], secret: row["secret"], previousSecret: row["previous_secret"],
            previousValidUntil: row["previous_valid_until"], districts: districts, status: row["status"],
            createdAt: row["created_at"], rotatedAt: row["rotated_at"], disabledAt: row["disabled_at"])
    }
}
