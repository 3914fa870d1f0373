import Foundation
@testable import Notifications
import RosterFlowCore
import Storage
import XCTest

/// SMTP through libcurl against a real aiosmtpd server on loopback.
final class SMTPTests: XCTestCase {
    func config(port: Int) -> NotificationConfig {
        var config = Fixture.config()
        config.smtp = SMTPSettings(url: "smtp://127.0.0.1:\(port)")
        config.smtp?.timeoutSeconds = 5
        return config
    }

    func testMessageArrivesWithHeadersBothPartsAndEscaping() async throws {
        let folder = try Paths.folder()
        let server = try Peer(script: "smtp_peer.py", arguments: ["--mode", "accept"], folder: folder)
        let service = try await Fixture.service(folder: folder)
        let id = try await Fixture.requestObrien(service)
        _ = try await service.authenticate(integrationID: id, actor: "vendor:ana")
        let dispatcher = try Fixture.dispatcher(service, config: config(port: server.port), folder: folder)
        XCTAssertEqual(try dispatcher.drain().sent, 2)

        let records = try server.records()
        XCTAssertEqual(records.count, 2)
        let requested = try XCTUnwrap(records.first { ($0["rcpt_tos"] as? [String]) == ["ana@vendor.test", "bo@vendor.test"] })
        XCTAssertEqual(requested["subject"] as? String, "New integration request: O'Brien & <Sons> ISD")
        XCTAssertEqual(requested["mail_from"] as? String, "notify@rosterflow.test")
        XCTAssertEqual(requested["content_type"] as? String, "multipart/alternative")
        XCTAssertEqual(requested["parts"] as? [String], ["text/plain", "text/html"])
        XCTAssertTrue((requested["text/plain"] as? String)?.contains("O'Brien & <Sons> ISD (ClassLink tenant t-obrien)") == true)
        let html = try XCTUnwrap(requested["text/html"] as? String)
        XCTAssertTrue(html.contains("<strong>O&#39;Brien &amp; &lt;Sons&gt; ISD</strong>"), html)
        let messages = try service.store.read { try $0.outbox(instanceID: id) }
        let messageID = try XCTUnwrap(requested["message_id"] as? String)
        XCTAssertTrue(messages.contains { messageID == "<\($0.id)@rosterflow.test>" }, messageID)
        XCTAssertFalse((requested["date"] as? String ?? "").isEmpty)

        let needed = try XCTUnwrap(records.first { ($0["rcpt_tos"] as? [String]) == ["admin@obrien.example"] })
        XCTAssertEqual(needed["subject"] as? String, "O'Brien & <Sons> ISD: choose your daily roster sync time")
        XCTAssertTrue((needed["text/plain"] as? String)?.contains("HH:MM") == true)
    }

    func testNonASCIISubjectTravelsRFC2047Encoded() async throws {
        let folder = try Paths.folder()
        let server = try Peer(script: "smtp_peer.py", arguments: ["--mode", "accept"], folder: folder)
        let service = try await Fixture.service(folder: folder)
        _ = try await service.requestIntegration(
            tenantID: "t-e", district: "École Saint-Étienne", permission: "full", contactEmail: "it@ecole.example", sender: .system)
        _ = try Fixture.dispatcher(service, config: config(port: server.port), folder: folder).drain()
        let record = try XCTUnwrap(try server.records().first)
        XCTAssertEqual(record["subject"] as? String, "New integration request: École Saint-Étienne")
        XCTAssertTrue((record["raw_subject"] as? String)?.hasPrefix("=?UTF-8?B?") == true)
    }

    func testA451IsRetriedAndThenDeliveredUnderTheSameMessageID() async throws {
        let folder = try Paths.folder()
        let server = try Peer(script: "smtp_peer.py", arguments: ["--mode", "451-then-250"], folder: folder)
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let dispatcher = try Fixture.dispatcher(service, config: config(port: server.port), folder: folder)
        let first = try dispatcher.runOnce()
        XCTAssertEqual(first.retrying, 1)
        let pending = try XCTUnwrap(try service.store.read { try $0.deliveries(status: .pending) }.first)
        XCTAssertTrue(pending.lastError?.contains("451") == true, pending.lastError ?? "")
        try pump(dispatcher) { try service.store.read { try $0.deliveries(status: .sent) }.count == 1 }
        let records = try server.records()
        XCTAssertEqual(records.map { $0["reply"] as? String }, ["451 4.3.0 Try again later", "250 OK queued"])
        XCTAssertEqual(Set(records.map { $0["message_id"] as? String }).count, 1)
    }

    func testA550FailsTheMessageAndKeepsTheServersReply() async throws {
        let folder = try Paths.folder()
        let server = try Peer(script: "smtp_peer.py", arguments: ["--mode", "550"], folder: folder)
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let report = try Fixture.dispatcher(service, config: config(port: server.port), folder: folder).runOnce()
        XCTAssertEqual(report.failed, 1)
        let message = try XCTUnwrap(try service.store.read { try $0.outboxMessages() }.first)
        XCTAssertEqual(message.status, "failed")
        XCTAssertTrue(message.lastError?.contains("550 5.7.1 Recipient refused by policy") == true, message.lastError ?? "")
    }

    func testARefusedConnectionIsRetriedThenDeadLettered() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let dispatcher = try Fixture.dispatcher(service, config: config(port: closedPort()), folder: folder)
        try pump(dispatcher) { try service.store.read { try $0.deliveries(status: .dead) }.count == 1 }
        let dead = try XCTUnwrap(try service.store.read { try $0.deliveries(status: .dead) }.first)
        XCTAssertEqual(dead.attempts, 4)
        XCTAssertTrue(dead.lastError?.contains("gave up after 4 attempts") == true, dead.lastError ?? "")
    }
}
