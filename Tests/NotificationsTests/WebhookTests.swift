import RosterFlowApp
import Foundation
@testable import Notifications
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Signed webhooks through libcurl against a Python receiver that verifies each signature with `standardwebhooks`.
final class WebhookTests: XCTestCase {
    func config(port: Int, timeout: Double = 2) -> NotificationConfig {
        var config = Fixture.config()
        config.webhooks = [WebhookSubscriber(name: "crm", url: "http://127.0.0.1:\(port)/hooks", secret: Secret(testSecret))]
        config.webhookTimeoutSeconds = timeout
        return config
    }

    func receiver(_ mode: String, folder: String, extra: [String] = []) throws -> Peer {
        try Peer(script: "webhook_peer.py", arguments: ["--secret", testSecret, "--mode", mode] + extra, folder: folder)
    }

    func testEachMessageIsOneSignedDeliveryPerSubscriber() async throws {
        let folder = try Paths.folder()
        let crm = try receiver("ok", folder: folder)
        let audit = try receiver("ok", folder: folder)
        var config = config(port: crm.port)
        config.webhooks.append(WebhookSubscriber(name: "audit", url: "http://127.0.0.1:\(audit.port)/in", secret: Secret(testSecret)))
        let service = try await Fixture.service(folder: folder)
        let id = try await Fixture.requestObrien(service)
        let report = try Fixture.dispatcher(service, config: config, folder: folder).drain()
        XCTAssertEqual(report.sent, 3, "one e-mail and two webhooks")
        let message = try XCTUnwrap(try service.store.readNow { try $0.outbox(instanceID: id) }.first)
        XCTAssertEqual(try service.store.readNow { try $0.deliveries(outboxID: message.id) }.map(\.id).sorted(),
                       ["\(message.id)/email", "\(message.id)/webhook/audit", "\(message.id)/webhook/crm"])
        for peer in [crm, audit] {
            let records = try peer.records()
            XCTAssertEqual(records.count, 1)
            XCTAssertEqual(records[0]["verified"] as? Bool, true)
            XCTAssertEqual(records[0]["id"] as? String, message.id)
            let body = try XCTUnwrap(records[0]["body"] as? [String: Any])
            XCTAssertEqual(body["type"] as? String, "rosterflow.notification.integration-requested")
            let data = try XCTUnwrap(body["data"] as? [String: Any])
            XCTAssertEqual((data["values"] as? [String: String])?["district"], "O'Brien & <Sons> ISD")
        }
    }

    func testA500IsRetriedAndThenDeliveredWithTheSameWebhookID() async throws {
        let folder = try Paths.folder()
        let peer = try receiver("500-then-200", folder: folder)
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let dispatcher = try Fixture.dispatcher(service, config: config(port: peer.port), folder: folder)
        try pump(dispatcher) { try service.store.readNow { try $0.deliveries(status: .sent) }.count == 2 }
        let records = try peer.records()
        XCTAssertEqual(records.map { $0["status"] as? Int }, [500, 200])
        XCTAssertEqual(Set(records.map { $0["id"] as? String }).count, 1)
        XCTAssertTrue(records.allSatisfy { $0["verified"] as? Bool == true })
    }

    func testA429HonoursRetryAfter() async throws {
        let folder = try Paths.folder()
        let peer = try receiver("429-then-200", folder: folder)
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let dispatcher = try Fixture.dispatcher(service, config: config(port: peer.port), folder: folder)
        let before = Date().timeIntervalSince1970
        _ = try dispatcher.runOnce()
        let pending = try XCTUnwrap(try service.store.readNow { try $0.deliveries(status: .pending) }.first)
        XCTAssertGreaterThanOrEqual(pending.nextAttemptAt - before, 1, "Retry-After: 1 was not honoured")
        try pump(dispatcher) { try service.store.readNow { try $0.deliveries(status: .sent) }.count == 2 }
    }

    func testARefusedConnectionIsRetriedThenDeadLettered() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let dispatcher = try Fixture.dispatcher(service, config: config(port: closedPort()), folder: folder)
        try pump(dispatcher) { try service.store.readNow { try $0.deliveries(status: .dead) }.count == 1 }
        let dead = try XCTUnwrap(try service.store.readNow { try $0.deliveries(status: .dead) }.first)
        XCTAssertEqual(dead.attempts, 4)
        XCTAssertEqual(try service.store.readNow { try $0.outboxMessages() }.first?.status, .dead)
    }

    func testAReceiverThatHangsPastTheTimeoutIsRetried() async throws {
        let folder = try Paths.folder()
        // The receiver hangs far longer than the timeout: a sender that ignored its timeout would wait it out.
        let peer = try receiver("hang", folder: folder, extra: ["--hang", "60"])
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let started = Date()
        let report = try Fixture.dispatcher(service, config: config(port: peer.port, timeout: 0.5), folder: folder).runOnce()
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "the 0.5 s timeout was not honoured")
        XCTAssertEqual(report.retrying, 1)
        let pending = try XCTUnwrap(try service.store.readNow { try $0.deliveries(status: .pending) }.first)
        XCTAssertTrue(pending.lastError?.lowercased().contains("timed out") == true, pending.lastError ?? "")
    }

    func testAWebhookWhoseLeaseWouldRunOutBeforeItsTurnIsNotStartedAndGoesBack() async throws {
        let folder = try Paths.folder()
        // Each answer takes 0.5 s, one at a time; a 2.5 s lease less the 0.8 s timeout and 0.25 s to record leaves
        // time to start about three of six.
        let peer = try receiver("hang", folder: folder, extra: ["--hang", "0.5"])
        let service = try await Fixture.service(folder: folder)
        try await Fixture.requestIntegrations(service, count: 6)
        var config = config(port: peer.port, timeout: 0.8)
        config.emailEnabled = false
        config.concurrency = 1
        config.leaseSeconds = 2.5
        let dispatcher = try Fixture.dispatcher(service, config: config, folder: folder)
        let first = try dispatcher.runOnce(limit: 6)
        XCTAssertEqual(first.claimed, 6)
        XCTAssertGreaterThan(first.sent, 0)
        XCTAssertGreaterThan(first.released, 0, "all six fit in the lease: the test proves nothing")
        XCTAssertEqual(first.sent + first.released, 6)
        XCTAssertEqual(try peer.records().count, first.sent, "a webhook given back reached the receiver")
        let back = try service.store.readNow { try $0.deliveries(status: .pending) }
        XCTAssertEqual(back.count, first.released)
        XCTAssertTrue(back.allSatisfy { $0.claimedBy == nil && $0.attempts == 0 && $0.lastError == nil })
        try pump(dispatcher) { try service.store.readNow { try $0.deliveries(status: .pending) }.isEmpty }
        let records = try peer.records()
        XCTAssertEqual(records.count, 6)
        XCTAssertEqual(Set(records.compactMap { $0["id"] as? String }).count, 6, "a webhook arrived twice")
        XCTAssertTrue(records.allSatisfy { $0["attempt"] as? Int == 1 && $0["verified"] as? Bool == true })
    }

    func testA400FailsWithoutRetry() async throws {
        let folder = try Paths.folder()
        let peer = try receiver("400", folder: folder)
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let report = try Fixture.dispatcher(service, config: config(port: peer.port), folder: folder).runOnce()
        XCTAssertEqual(report.failed, 1)
        let failed = try XCTUnwrap(try service.store.readNow { try $0.deliveries(status: .failed) }.first)
        XCTAssertTrue(failed.lastError?.hasPrefix("HTTP 400") == true, failed.lastError ?? "")
    }

    func testSignatureMatchesTheStandardWebhooksReference() throws {
        // The reference example from the Standard Webhooks specification.
        let signer = try WebhookSigner(secret: Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let body = Data(#"{"test": 2432232314}"#.utf8)
        XCTAssertEqual(signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: body),
                       "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }
}
