import RosterFlowApp
import Foundation
@testable import Notifications
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
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
        let messages = try service.store.readNow { try $0.outbox(instanceID: id) }
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
        let pending = try XCTUnwrap(try service.store.readNow { try $0.deliveries(status: .pending) }.first)
        XCTAssertTrue(pending.lastError?.contains("451") == true, pending.lastError ?? "")
        try pump(dispatcher) { try service.store.readNow { try $0.deliveries(status: .sent) }.count == 1 }
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
        let message = try XCTUnwrap(try service.store.readNow { try $0.outboxMessages() }.first)
        XCTAssertEqual(message.status, .failed)
        XCTAssertTrue(message.lastError?.contains("550 5.7.1 Recipient refused by policy") == true, message.lastError ?? "")
    }

    func testARefusedConnectionIsRetriedThenDeadLettered() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let dispatcher = try Fixture.dispatcher(service, config: config(port: closedPort()), folder: folder)
        try pump(dispatcher) { try service.store.readNow { try $0.deliveries(status: .dead) }.count == 1 }
        let dead = try XCTUnwrap(try service.store.readNow { try $0.deliveries(status: .dead) }.first)
        XCTAssertEqual(dead.attempts, 4)
        XCTAssertTrue(dead.lastError?.contains("gave up after 4 attempts") == true, dead.lastError ?? "")
    }
}

/// SMTP over TLS against aiosmtpd with a self-signed certificate made for the test: STARTTLS and implicit TLS
/// (`smtps://`), the certificate verified through `caFile`, never by turning verification off.
final class SMTPTLSTests: XCTestCase {
    /// A self-signed certificate for 127.0.0.1 (its own CA) and its key, in `folder`.
    func certificate(folder: String) throws -> (cert: String, key: String) {
        let cert = folder + "/cert.pem", key = folder + "/key.pem"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        openssl.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        XCTAssertEqual(openssl.terminationStatus, 0, "openssl could not make a test certificate")
        return (cert, key)
    }

    func send(url: String, startTLS: Bool, caFile: String?, server: Peer, folder: String) async throws -> DispatchReport {
        var config = Fixture.config()
        config.smtp = SMTPSettings(url: url, startTLS: startTLS)
        config.smtp?.caFile = caFile
        config.smtp?.timeoutSeconds = 5
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        return try Fixture.dispatcher(service, config: config, folder: folder).runOnce()
    }

    func testSTARTTLSVerifiesTheServerWithTheConfiguredCAFile() async throws {
        let folder = try Paths.folder()
        let (cert, key) = try certificate(folder: folder)
        let server = try Peer(script: "smtp_peer.py", arguments: ["--starttls", "--tls-cert", cert, "--tls-key", key], folder: folder)
        let report = try await send(url: "smtp://127.0.0.1:\(server.port)", startTLS: true, caFile: cert, server: server, folder: folder)
        XCTAssertEqual(report.sent, 1)
        let records = try server.records()
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(records.first?["tls"] as? Bool, true)
    }

    func testImplicitTLSVerifiesTheServerWithTheConfiguredCAFile() async throws {
        let folder = try Paths.folder()
        let (cert, key) = try certificate(folder: folder)
        let server = try Peer(script: "smtp_peer.py", arguments: ["--implicit-tls", "--tls-cert", cert, "--tls-key", key], folder: folder)
        let report = try await send(url: "smtps://127.0.0.1:\(server.port)", startTLS: false, caFile: cert, server: server, folder: folder)
        XCTAssertEqual(report.sent, 1)
        XCTAssertEqual(try server.records().first?["tls"] as? Bool, true)
    }

    func testAnUntrustedCertificateIsRetriedNotSentInTheClear() async throws {
        let folder = try Paths.folder()
        let (cert, key) = try certificate(folder: folder)
        let server = try Peer(script: "smtp_peer.py", arguments: ["--starttls", "--tls-cert", cert, "--tls-key", key], folder: folder)
        let report = try await send(url: "smtp://127.0.0.1:\(server.port)", startTLS: true, caFile: nil, server: server, folder: folder)
        XCTAssertEqual(report.sent, 0)
        XCTAssertEqual(report.retrying, 1)
        XCTAssertTrue(try server.records().isEmpty)
    }

    func testTheCAFileComesFromTheConfigFileAndTheEnvironment() throws {
        let folder = try Paths.folder()
        let file = folder + "/rosterflow.json"
        try #"{"smtp": {"url": "smtps://mail.example:465", "ca_file": "/etc/a.pem"}}"#.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try NotificationConfig.load(file: file, environment: [:]).smtp?.caFile, "/etc/a.pem")
        XCTAssertEqual(try NotificationConfig.load(file: file, environment: ["ROSTERFLOW_SMTP_CA_FILE": "/etc/b.pem"]).smtp?.caFile, "/etc/b.pem")
    }
}
