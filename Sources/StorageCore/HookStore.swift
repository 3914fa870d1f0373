import Foundation

/// Inbound hook senders and the hooks they delivered (for de-duplication by `webhook-id`).
public protocol HookStore {
    /// Adds a sender; the caller checks first that the name is free.
    func insertHookSender(_ record: HookSenderRecord) throws

    /// The sender with this name, or nil.
    func hookSender(name: String) throws -> HookSenderRecord?

    /// Every sender, oldest first.
    func hookSenders() throws -> [HookSenderRecord]

    /// Replaces the stored sender of `record.name` (its secrets, districts and status).
    func updateHookSender(_ record: HookSenderRecord) throws

    /// The delivery a sender made under a `webhook-id`, or nil.
    func hookDelivery(sender: String, webhookID: String) throws -> HookDeliveryRecord?

    /// Records an applied delivery; the caller checks first that its id is new.
    func insertHookDelivery(_ record: HookDeliveryRecord) throws

    /// Forgets deliveries received before `before` (past the retention); returns how many.
    @discardableResult
    func deleteHookDeliveries(receivedBefore before: Double) throws -> Int
}
