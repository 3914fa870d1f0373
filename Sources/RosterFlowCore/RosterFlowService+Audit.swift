import Foundation
import StorageCore

/// One recorded change, as `rosterflow audit` shows it.
public struct AuditView: Sendable, Codable, Equatable {
    /// The entry's sequence number.
    public var id: Int64
    /// When (ISO 8601, UTC).
    public var at: String
    /// Who made the change.
    public var actor: String
    /// `integration-policy`, `integration-source`, `customer-import`, `sync-approve`, `sync-reject` or `outbox-retry`.
    public var action: String
    /// The integration the change concerns, when there is one.
    public var integrationID: String?
    /// The changed thing: an integration id, a tenant id, a sync run id or an outbox message (or delivery) id.
    public var subject: String
    /// The value before the change, as JSON text (nil when there was none).
    public var before: String?
    /// The value after the change, as JSON text.
    public var after: String?

    init(_ record: AuditRecord) {
        id = record.id
        at = Date(timeIntervalSince1970: record.at).ISO8601Format()
        actor = record.actor
        action = record.action
        integrationID = record.integrationID
        subject = record.subject
        before = record.before
        after = record.after
    }
}

extension RosterFlowService {
    /// The audit log, oldest first (the newest `limit` entries): who changed policies, sync sources, the customer
    /// registry, approved or rejected held syncs, and retried outbox messages, with the value before and after.
    ///
    /// - Throws: ``RosterFlowError/Code/notFound`` when `integrationID` names no integration.
    public func audit(integrationID: String? = nil, limit: Int = 10_000) throws -> [AuditView] {
        try read { tx in
            if let integrationID, try tx.integration(id: integrationID) == nil {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
            }
            return try tx.auditRecords(integrationID: integrationID, limit: limit).map(AuditView.init)
        }
    }

    /// Records a decision on a held sync run (approve or reject), in the transaction that makes it.
    static func auditSyncDecision(
        _ tx: any StoreTransaction, run: SyncRunRecord, approved: Bool, decision: SyncDecision, merge: Bool?, actor: String, now: Double
    ) throws {
        var after = ["decision": decision.rawValue]
        if let merge { after["merge"] = merge ? "merge" : "no-merge" }
        try tx.insertAudit(AuditRecord(
            at: now, actor: actor, action: approved ? "sync-approve" : "sync-reject", integrationID: run.integrationID,
            subject: run.id, before: json(["decision": run.decision.rawValue]), after: json(after)))
    }

    /// Sends an outbox message again: its failed, dead or skipped deliveries (or the one named, `msg_…/email`,
    /// `msg_…/webhook/NAME`) go back to pending, due now, with a fresh attempt budget; the retry is audited with each
    /// delivery's status before it.
    ///
    /// - Returns: how many deliveries will be sent again.
    /// - Throws: ``RosterFlowError/Code/notFound`` when there is no such message.
    public func retryOutbox(id: String, actor: String) async throws -> Int {
        let messageID = String(id.split(separator: "/").first ?? "")
        let deliveryID = id.contains("/") ? id : nil
        return try await write { tx, now in
            guard let message = try tx.outboxMessage(id: messageID) else {
                throw RosterFlowError(.notFound, "there is no outbox message \(messageID); `rosterflow outbox list` shows them")
            }
            let retryable: Set<DeliveryRecord.Status> = [.failed, .dead, .skipped]
            let before = try tx.deliveries(outboxID: messageID).filter {
                retryable.contains($0.status) && (deliveryID == nil || $0.id == deliveryID)
            }
            let count = try tx.retryOutbox(id: messageID, deliveryID: deliveryID, now: now)
            if count > 0 {
                let integrationID = try tx.course(id: message.instanceID)?.integrationID ?? message.instanceID
                try tx.insertAudit(AuditRecord(
                    at: now, actor: actor, action: "outbox-retry", integrationID: integrationID, subject: id,
                    before: Self.json(Dictionary(uniqueKeysWithValues: before.map { ($0.id, "\($0.status.rawValue) after \($0.attempts) attempt\($0.attempts == 1 ? "" : "s")") })),
                    after: Self.json(Dictionary(uniqueKeysWithValues: before.map { ($0.id, DeliveryRecord.Status.pending.rawValue) }))))
            }
            return count
        }
    }
}

extension RosterFlowService {
    /// Stores a sync policy (JSON) and records the change with the policy before it (the defaults when none was set).
    static func storeSyncPolicy(_ tx: any StoreTransaction, integrationID: String, json: String, actor: String, now: Double) throws {
        let before = try tx.syncPolicyJSON(integrationID: integrationID) ?? Self.json(SyncPolicy())
        try tx.setSyncPolicyJSON(integrationID: integrationID, json: json)
        guard before != json else { return }
        try tx.insertAudit(AuditRecord(
            at: now, actor: actor, action: "integration-policy", integrationID: integrationID, subject: integrationID,
            before: before, after: json))
    }

    /// Records a customer a registry import adds or changes (one that stays the same is not a change).
    static func auditCustomerImport(_ tx: any StoreTransaction, _ record: CustomerRecord, file: String, actor: String, now: Double) throws {
        let existing = try tx.customer(tenantID: record.tenantID)
        if let existing, existing.district == record.district, existing.contactEmail == record.contactEmail { return }
        try tx.insertAudit(AuditRecord(
            at: now, actor: actor, action: "customer-import", integrationID: nil, subject: record.tenantID,
            before: existing.map { Self.json(["district": $0.district, "contactEmail": $0.contactEmail]) },
            after: Self.json(["district": record.district, "contactEmail": record.contactEmail, "file": file])))
    }
}
