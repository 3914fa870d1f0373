import Foundation
import StorageCore

extension PGTransaction {
    func insertHookSender(_ record: HookSenderRecord) throws {
        throw PGTransaction.unported("HookStore.insertHookSender")
    }

    func hookSender(name: String) throws -> HookSenderRecord? {
        throw PGTransaction.unported("HookStore.hookSender")
    }

    func hookSenders() throws -> [HookSenderRecord] {
        throw PGTransaction.unported("HookStore.hookSenders")
    }

    func updateHookSender(_ record: HookSenderRecord) throws {
        throw PGTransaction.unported("HookStore.updateHookSender")
    }

    func hookDelivery(sender: String, webhookID: String) throws -> HookDeliveryRecord? {
        throw PGTransaction.unported("HookStore.hookDelivery")
    }

    func insertHookDelivery(_ record: HookDeliveryRecord) throws {
        throw PGTransaction.unported("HookStore.insertHookDelivery")
    }

    @discardableResult
    func deleteHookDeliveries(receivedBefore before: Double) throws -> Int {
        throw PGTransaction.unported("HookStore.deleteHookDeliveries")
    }
}
