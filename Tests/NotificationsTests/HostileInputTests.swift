import Foundation
@testable import Notifications
import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Credentials only over TLS, private spool files, and hostile values in mail and webhooks.
final class SMTPCredentialTests: XCTestCase {
    func testAUsernameOverPlainSMTPIsRefusedWithTheFixFromTheFileAndTheEnvironment() throws {
        let folder = try Paths.folder()
        let file = folder + "/rosterflow.json"
        try #"{"smtp": {"url": "smtp://mail.example:587", "username": "rf", "password": "pw"}}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NotificationConfig.load(file: file, environment: [:])) { error in
            let message = "\(error)"
            XCTAssertEqual((error as? NotificationError)?.code, .configuration)
            for fix in ["smtps://", "\"starttls\": true", "ROSTERFLOW_SMTP_STARTTLS=1", "\"allow_plaintext_auth\": true",
                        "ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH=1"] {
                XCTAssertTrue(message.contains(fix), "the message does not name \(fix): \(message)")
            }
            XCTAssertFalse(message.contains("pw\""), message)
        }
        let env = ["ROSTERFLOW_SMTP_URL": "smtp://mail.example:25", "ROSTERFLOW_SMTP_USER": "rf", "ROSTERFLOW_SMTP_PASSWORD": "pw"]
        XCTAssertThrowsError(try NotificationConfig.load(file: nil, environment: env))
        // Each way out loads: STARTTLS (file or environment), smtps://, or the explicit opt-in.
        XCTAssertNoThrow(try NotificationConfig.load(file: file, environment: ["ROSTERFLOW_SMTP_STARTTLS": "1"]))
        XCTAssertNoThrow(try NotificationConfig.load(file: nil, environment: env.merging(["ROSTERFLOW_SMTP_URL": "smtps://mail.example"]) { $1 }))
        let allowed = try NotificationConfig.load(file: nil, environment: env.merging(["ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH": "true"]) { $1 })
        XCTAssertEqual(allowed.smtp?.allowPlaintextAuth, true)
        XCTAssertEqual(allowed.smtp?.sendsCredentialsInClear, true)
        try #"{"smtp": {"url": "smtp://127.0.0.1:25", "username": "rf", "password": "pw", "allow_plaintext_auth": true}}"#
            .write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try NotificationConfig.load(file: file, environment: [:]).smtp?.allowPlaintextAuth, true)
        // No username: nothing secret to protect.
        XCTAssertNoThrow(try NotificationConfig.load(file: nil, environment: ["ROSTERFLOW_SMTP_URL": "smtp://127.0.0.1:25"]))
    }

    func send(_ settings: SMTPSettings, folder: String) async throws -> DispatchReport {
        var config = Fixture.config()
        config.smtp = settings
        config.smtp?.timeoutSeconds = 5
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        return try Fixture.dispatcher(service, config: config, folder: folder).runOnce()
    }

    func testSTARTTLSWithAUTHSendsTheCredentialsInsideTLS() async throws {
        let folder = try Paths.folder()
        let (cert, key) = try selfSignedCertificate(folder: folder)
        let server = try Peer(
            script: "smtp_peer.py", arguments: ["--starttls", "--tls-cert", cert, "--tls-key", key, "--auth", "rf:s3cret"],
            folder: folder)
        var settings = SMTPSettings(url: "smtp://127.0.0.1:\(server.port)", username: "rf", password: Secret("s3cret"), startTLS: true)
        settings.caFile = cert
        XCTAssertFalse(settings.sendsCredentialsInClear)
        let report = try await send(settings, folder: folder)
        XCTAssertEqual(report.sent, 1)
        let record = try XCTUnwrap(try server.records().first)
        XCTAssertEqual(record["tls"] as? Bool, true)
        XCTAssertEqual(record["login"] as? String, "rf")
    }

    func testPlaintextAUTHIsSentOnlyWhenExplicitlyAllowed() async throws {
        let folder = try Paths.folder()
        let server = try Peer(script: "smtp_peer.py", arguments: ["--auth", "rf:s3cret", "--auth-without-tls"], folder: folder)
        var settings = SMTPSettings(url: "smtp://127.0.0.1:\(server.port)", username: "rf", password: Secret("s3cret"))
        // Settings built in code skip the configuration check: the transport itself refuses, and nothing reaches the server.
        let refused = try await send(settings, folder: folder + "/refused")
        XCTAssertEqual(refused.sent, 0)
        XCTAssertEqual(refused.failed, 1)
        XCTAssertTrue(try server.records().isEmpty)

        settings.allowPlaintextAuth = true
        let report = try await send(settings, folder: folder + "/allowed")
        XCTAssertEqual(report.sent, 1)
        let record = try XCTUnwrap(try server.records().first)
        XCTAssertEqual(record["tls"] as? Bool, false)
        XCTAssertEqual(record["login"] as? String, "rf")
    }
}

final class HostileValueTests: XCTestCase {
    func testSpooledMailIsPrivateWhateverTheUmask() throws {
        let folder = try Paths.folder() + "/spool"
        let previous = umask(0o022)
        defer { umask(previous) }
        let transport = SpoolMailTransport(folder: folder)
        guard case .delivered = transport.send(message: "Subject: x\r\n\r\nbody", messageID: "msg_1", sender: "a@b.example", recipients: []) else {
            return XCTFail("the spool write failed")
        }
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        }
        XCTAssertEqual(try mode(folder), 0o700)
        XCTAssertEqual(try mode(folder + "/msg_1.eml"), 0o600)
        XCTAssertEqual(try String(contentsOfFile: folder + "/msg_1.eml", encoding: .utf8), "Subject: x\r\n\r\nbody")
        // Written again (a re-send): replaced, still private, no temporary file left behind.
        _ = transport.send(message: "second", messageID: "msg_1", sender: "a@b.example", recipients: [])
        XCTAssertEqual(try mode(folder + "/msg_1.eml"), 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["msg_1.eml"])
    }

    func testCRLFInAValueCannotAddAHeaderToTheMailOrTheWebhook() async throws {
        let folder = try Paths.folder()
        let receiver = try Peer(script: "webhook_peer.py", arguments: ["--secret", testSecret, "--mode", "ok"], folder: folder)
        let service = try await Fixture.service(folder: folder)
        let district = "Evil USD\r\nBcc: victim@evil.example\r\n\r\n<script>alert(1)</script>"
        _ = try await service.requestIntegration(
            tenantID: "t-obrien", district: district, permission: "full", contactEmail: "admin@obrien.example", sender: .system)
        var config = Fixture.config()
        config.webhooks = [WebhookSubscriber(name: "crm", url: "http://127.0.0.1:\(receiver.port)/hooks", secret: Secret(testSecret))]
        let report = try Fixture.dispatcher(service, config: config, folder: folder).drain()
        XCTAssertEqual(report.sent, 2)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/spool")
        let eml = try String(contentsOfFile: folder + "/spool/" + XCTUnwrap(files.first), encoding: .utf8)
        let headers = try XCTUnwrap(eml.components(separatedBy: "\r\n\r\n").first)
        XCTAssertFalse(headers.components(separatedBy: "\r\n").contains { $0.lowercased().hasPrefix("bcc:") }, headers)
        let subject = try XCTUnwrap(headers.replacingOccurrences(of: "\r\n ", with: " ").components(separatedBy: "\r\n")
            .first { $0.hasPrefix("Subject: ") })
        XCTAssertTrue(subject.contains("Evil USD") && subject.contains("Bcc: victim@evil.example"), "the value stays in the subject: \(subject)")
        // The webhook carries the value exactly, inside its signed JSON body, not in a header.
        let record = try XCTUnwrap(try receiver.records().first)
        XCTAssertEqual(record["verified"] as? Bool, true)
        let body = try XCTUnwrap(record["body"] as? [String: Any])
        let values = try XCTUnwrap((body["data"] as? [String: Any])?["values"] as? [String: String])
        XCTAssertEqual(values["district"], district)
    }
}

/// A self-signed certificate for 127.0.0.1 (its own CA) and its key, in `folder`.
private func selfSignedCertificate(folder: String) throws -> (cert: String, key: String) {
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
