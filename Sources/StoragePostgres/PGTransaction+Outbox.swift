import Foundation
import StorageCore

extension PGTransaction {
    func insertOutbox(_ message: OutboxRecord) throws {
        throw PGTransaction.unported("OutboxStore.insertOutbox")
    }

    func outbox(instanceID: String?) throws -> [OutboxRecord] {
        throw PGTransaction.unported("OutboxStore.outbox")
    }

    @discardableResult
    func fanOutOutbox( limit: Int, now: Double, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)] ) throws -> Int {
        throw PGTransaction.unported("OutboxStore.fanOutOutbox")
    }

    func fanOutOutbox( limit: Int, now: Double, claim: FanOutClaim?, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)] ) throws -> (fannedOut: Int, claimed: [ClaimedDelivery]) {
        throw PGTransaction.unported("OutboxStore.fanOutOutbox")
    }

    func claimDeliveries(worker: String, now: Double, leaseSeconds: Double, limit: Int) throws -> [ClaimedDelivery] {
        throw PGTransaction.unported("OutboxStore.claimDeliveries")
    }

    @discardableResult
    func completeDelivery( id: String, worker: String, status: DeliveryRecord.Status, error: String?, nextAttemptAt: Double?, now: Double ) throws -> Bool {
        throw PGTransaction.unported("OutboxStore.completeDelivery")
    }

    func completeDeliveries(_ outcomes: [DeliveryOutcomeRecord], worker: String, now: Double) throws -> [String] {
        throw PGTransaction.unported("OutboxStore.completeDeliveries")
    }

    func releaseClaims(worker: String) throws {
        throw PGTransaction.unported("OutboxStore.releaseClaims")
    }

    func outboxMessages(status: OutboxStatus?, limit: Int) throws -> [OutboxRecord] {
        throw PGTransaction.unported("OutboxStore.outboxMessages")
    }

    func outboxMessage(id: String) throws -> OutboxRecord? {
        throw PGTransaction.unported("OutboxStore.outboxMessage")
    }

    func deliveries(outboxID: String) throws -> [DeliveryRecord] {
        throw PGTransaction.unported("OutboxStore.deliveries")
    }

    func deliveries(status: DeliveryRecord.Status?, limit: Int) throws -> [DeliveryRecord] {
        throw PGTransaction.unported("OutboxStore.deliveries")
    }

    @discardableResult
    func retryOutbox(id: String, deliveryID: String?, now: Double) throws -> Int {
        throw PGTransaction.unported("OutboxStore.retryOutbox")
    }
}
