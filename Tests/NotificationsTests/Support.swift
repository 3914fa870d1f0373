import RosterFlowApp
import Foundation
import TestPeers
@testable import Notifications
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Paths shared by the notification tests.
enum Paths {
    /// The repository root, derived from this file's place in it.
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var templates: String { repositoryRoot + "/Templates" }
    static var workflows: String { repositoryRoot + "/Workflows" }

    /// The test venv's python; fails the test (it does not skip) when `scripts/install-test-peers` has not run.
    static func python(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = repositoryRoot + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run scripts/install-test-peers (it installs aiosmtpd and standardwebhooks)", file: file, line: line)
            throw XCTSkip("unreachable: failed above")
        }
        return path
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "rosterflow-notify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A Python peer (SMTP server or webhook receiver) on loopback, stopped when the test ends.
final class Peer {
    let process = Process()
    let port: Int
    /// JSON lines the peer wrote, one per received message or request.
    let out: String

    init(script: String, arguments: [String], folder: String) throws {
        out = folder + "/peer-\(UUID().uuidString).jsonl"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Paths.python())
        process.arguments = [Paths.repositoryRoot + "/scripts/peers/" + script] + arguments + ["--out", out]
        do {
            port = try ReadyPeer.start(process)
        } catch let failed as ReadyPeer.DidNotStart {
            throw NotificationError(.transport, "\(script) did not start: '\(failed.line)'")
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The records received so far.
    func records() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: out, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }
}

/// A loopback port nothing listens on.
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    close(fd)
    return Int(UInt16(bigEndian: address.sin_port))
}

let testSecret = "whsec_" + Data("rosterflow-test-secret-0123456789".utf8).base64EncodedString()

enum Fixture {
    static let registry = """
        tenant_id,district,contact_email
        t-spring,Springfield USD,it@springfield.example
        t-obrien,"O'Brien & <Sons> ISD",admin@obrien.example
        """

    /// A service on a new database with the customer registry imported.
    static func service(folder: String) async throws -> RosterFlowService {
        let service = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: Paths.workflows)
        _ = try await service.importCustomers(csv: registry, file: "customers.csv")
        return service
    }

    /// A configuration with test addresses, quick retries and no SMTP (spool).
    static func config() -> NotificationConfig {
        var config = NotificationConfig()
        config.from = "RosterFlow Tests <notify@rosterflow.test>"
        config.recipients = ["vendor_admins": ["ana@vendor.test", "bo@vendor.test"], "dsp": ["kim@dsp.test"]]
        config.retry = RetryPolicy(baseSeconds: 0.05, maxSeconds: 2, maxAttempts: 4)
        config.concurrency = 4
        config.webhookTimeoutSeconds = 2
        return config
    }

    static func dispatcher(
        _ service: RosterFlowService, config: NotificationConfig, folder: String, worker: String = "test-worker",
        mail: (@Sendable () throws -> any MailTransport)? = nil, webhook: (@Sendable () throws -> any WebhookTransport)? = nil,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws -> OutboxDispatcher {
        OutboxDispatcher(
            store: service.store, config: config, templates: try TemplateCatalog(folder: Paths.templates), workerID: worker,
            spoolFolder: folder + "/spool", clock: clock, mailTransport: mail, webhookTransport: webhook)
    }

    /// Requests `count` integrations (districts `t-0`, `t-1`, …): one `integration-requested` message each.
    static func requestIntegrations(_ service: RosterFlowService, count: Int) async throws {
        for index in 0..<count {
            _ = try await service.requestIntegration(
                tenantID: "t-\(index)", district: "District \(index)", permission: "full", contactEmail: "c\(index)@d.example",
                sender: .system)
        }
    }

    /// Requests an integration for the O'Brien district (an existing customer): one `integration-requested` message.
    static func requestObrien(_ service: RosterFlowService) async throws -> String {
        try await service.requestIntegration(
            tenantID: "t-obrien", district: "O'Brien & <Sons> ISD", permission: "full", contactEmail: "admin@obrien.example",
            sender: .system
        ).id
    }
}

/// Runs dispatcher passes until `done` holds or `timeout` passes.
func pump(_ dispatcher: OutboxDispatcher, timeout: Double = 20, until done: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        _ = try dispatcher.runOnce()
        if try done() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    XCTFail("the outbox did not settle within \(timeout)s")
}

/// Records what it is asked to send, in order; thread-safe.
final class RecordingMail: MailTransport, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var sent: [(messageID: String, recipients: [String], message: String)] = []
    let delay: Double

    init(delay: Double = 0) {
        self.delay = delay
    }

    func send(message: String, messageID: String, sender: String, recipients: [String]) -> DeliveryOutcome {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        lock.lock()
        sent.append((messageID, recipients, message))
        lock.unlock()
        return .delivered("recorded")
    }

    var messageIDs: [String] {
        lock.lock()
        defer { lock.unlock() }
        return sent.map(\.messageID)
    }
}
