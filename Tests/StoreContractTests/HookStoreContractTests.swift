import Foundation
import StorageCore
import XCTest

/// The store contract for inbound hooks: senders with their secrets and districts, and applied deliveries by sender and
/// `webhook-id`, forgotten after the retention. Run against every backend in ``StoreConformers/all``.
final class HookStoreContractTests: StoreContractCase {
    func testSendersKeepTheirSecretsDistrictsAndRotation() throws {
        try forEachStore { store in
            let sender = HookSenderRecord(name: "classlink", secret: "whsec_a", districts: ["t-2", "t-1"], status: "active", createdAt: 5)
            try store.writeNow { tx in
                try tx.insertHookSender(sender)
                try tx.insertHookSender(HookSenderRecord(name: "platform", secret: "whsec_p", districts: [], status: "active", createdAt: 6))
            }
            XCTAssertEqual(try store.readNow { try $0.hookSender(name: "classlink") }, sender)
            XCTAssertNil(try store.readNow { try $0.hookSender(name: "ClassLink") }, "names are exact")
            XCTAssertEqual(try store.readNow { try $0.hookSenders() }.map(\.name), ["classlink", "platform"])
            var rotated = sender
            rotated.previousSecret = "whsec_a"
            rotated.previousValidUntil = 100
            rotated.secret = "whsec_b"
            rotated.rotatedAt = 10
            try store.writeNow { try $0.updateHookSender(rotated) }
            XCTAssertEqual(try store.readNow { try $0.hookSender(name: "classlink") }, rotated)
            var disabled = rotated
            disabled.status = "disabled"
            disabled.disabledAt = 20
            try store.writeNow { try $0.updateHookSender(disabled) }
            XCTAssertEqual(try store.readNow { try $0.hookSender(name: "classlink") }, disabled)
            XCTAssertEqual(try store.readNow { try $0.hookSender(name: "platform") }?.secret, "whsec_p", "another sender is untouched")
        }
    }

    func testDeliveriesAreKeptPerSenderAndIdAndForgottenAfterTheRetention() throws {
        try forEachStore { store in
            let first = HookDeliveryRecord(
                sender: "classlink", webhookID: "msg_1", fingerprint: "f1", status: 200, body: Data("{\"a\":1}".utf8), receivedAt: 10)
            try store.writeNow { tx in
                try tx.insertHookDelivery(first)
                try tx.insertHookDelivery(HookDeliveryRecord(
                    sender: "platform", webhookID: "msg_1", fingerprint: "f2", status: 200, body: Data(), receivedAt: 50))
            }
            XCTAssertEqual(try store.readNow { try $0.hookDelivery(sender: "classlink", webhookID: "msg_1") }, first)
            XCTAssertEqual(try store.readNow { try $0.hookDelivery(sender: "platform", webhookID: "msg_1") }?.fingerprint, "f2")
            XCTAssertNil(try store.readNow { try $0.hookDelivery(sender: "classlink", webhookID: "msg_2") })
            XCTAssertThrowsError(try store.writeNow { try $0.insertHookDelivery(first) }, "an id is recorded once per sender")
            XCTAssertEqual(try store.writeNow { try $0.deleteHookDeliveries(receivedBefore: 20) }, 1)
            XCTAssertNil(try store.readNow { try $0.hookDelivery(sender: "classlink", webhookID: "msg_1") })
            XCTAssertNotNil(try store.readNow { try $0.hookDelivery(sender: "platform", webhookID: "msg_1") })
        }
    }
}
