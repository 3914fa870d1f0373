import Foundation
import XCTest

/// `rosterflow outbox retry`: a dead delivery goes back to pending with a fresh attempt budget.
final class OutboxRetryTests: WorkerHarness {
    /// A loopback port nothing listens on.
    func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func delivery(_ id: String) throws -> [String: Any] {
        let shown = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try run("outbox", "show", id, "--json").utf8)) as? [String: Any])
        let deliveries = try XCTUnwrap(shown["deliveries"] as? [[String: Any]])
        return try XCTUnwrap(deliveries.first { ($0["channel"] as? String) == "webhook" })
    }

    func testRetryResetsTheAttemptCountOfADeadDelivery() throws {
        let id = try requestOne()
        let secret = "whsec_" + Data("rosterflow-cli-retry-secret-0123456".utf8).base64EncodedString()
        let hook = ["ROSTERFLOW_WEBHOOK_URL": "http://127.0.0.1:\(closedPort())/hooks", "ROSTERFLOW_WEBHOOK_SECRET": secret]
        func workOnce() {
            let worker = process(["worker", "--once"], environment: hook)
            try? worker.run()
            worker.waitUntilExit()
        }
        // max_attempts is 3 and retries are 0.05 s apart: the webhook dies after three refused connections.
        XCTAssertTrue(waitFor(30) {
            workOnce()
            return (try? self.delivery(id)["status"] as? String) == "dead"
        }, "the webhook delivery never died")
        XCTAssertEqual(try delivery(id)["attempts"] as? Int, 3)

        XCTAssertTrue(try run("outbox", "retry", "\(id)/webhook/env").contains("1 delivery will be sent again"))
        let retried = try delivery(id)
        XCTAssertEqual(retried["status"] as? String, "pending")
        XCTAssertEqual(retried["attempts"] as? Int, 0, "retry did not reset the attempt count")
        // A fresh budget: one more refused attempt leaves it retrying, not dead again.
        workOnce()
        let after = try delivery(id)
        XCTAssertEqual(after["status"] as? String, "pending")
        XCTAssertEqual(after["attempts"] as? Int, 1)
    }
}
