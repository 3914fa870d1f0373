import Foundation
import TestPeers
import XCTest

/// A temporary database and configuration for tests that run `rosterflow worker` as a process.
class WorkerHarness: XCTestCase {
    var folder: String!
    var database: String { folder + "/cli.sqlite" }
    var spool: String { folder + "/spool" }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-worker-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeConfiguration()
    }

    /// Writes the configuration: mail spooled, quick retries, the default lease; or, given `smtpPort`, mail to that
    /// server with a short lease (`leaseSeconds`), each send at most `sendSeconds` (the lease must hold one send).
    func writeConfiguration(smtpPort: Int? = nil, leaseSeconds: Double = 120, sendSeconds: Double = 60) throws {
        let smtp = smtpPort.map { #""smtp": {"url": "smtp://127.0.0.1:\#($0)", "timeout_seconds": \#(sendSeconds)},"# } ?? ""
        try """
            {\(smtp) "spool": "\(spool)", "from": "RosterFlow <notify@rosterflow.test>",
             "recipients": {"vendor_admins": ["ana@vendor.test"]}, "lease_seconds": \(leaseSeconds),
             "retry": {"base_seconds": 0.05, "max_attempts": 3}}
            """.write(toFile: folder + "/rosterflow.json", atomically: true, encoding: .utf8)
    }

    /// The environment a worker test's `rosterflow` runs with: its database, workflows, configuration and templates,
    /// then `extra`.
    func environment(_ extra: [String: String] = [:]) -> [String: String?] {
        var environment: [String: String?] = [
            "ROSTERFLOW_DB": database, "ROSTERFLOW_WORKFLOWS": CLITests.workflows, "ROSTERFLOW_CONFIG": folder + "/rosterflow.json",
            "ROSTERFLOW_TEMPLATES": CLITests.workflows.replacingOccurrences(of: "/Workflows", with: "/Templates"),
        ]
        for (key, value) in extra { environment[key] = value }
        return environment
    }

    func process(_ arguments: [String], environment extra: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in self.environment(extra) { environment[key] = value }
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return process
    }

    @discardableResult
    func run(_ arguments: String...) throws -> String {
        try run(arguments, environment: [:])
    }

    @discardableResult
    func run(_ arguments: [String], environment: [String: String]) throws -> String {
        let process = process(arguments, environment: environment)
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "rosterflow \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }

    func requestOne() throws -> String {
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try run("customers", "import", registry)
        try run("integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "full",
                "--contact", "it@springfield.example")
        let list = try run("outbox", "list", "--status", "pending")
        return try XCTUnwrap(list.split(separator: "\t").first.map(String.init))
    }

    func waitFor(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

}

/// A peer from the test venv (`scripts/peers/*.py`) on loopback that appends one JSON line per thing it received to
/// its output file; killed when the test ends.
class JSONLinesPeer {
    let process = Process()
    let port: Int
    /// One JSON line per message or request received (see the peer's script).
    let out: String

    /// - Parameter silent: drop what the peer writes on stderr.
    init(folder: String, script: String, arguments: [String], silent: Bool = false) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let python = root + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            XCTFail("\(python) is missing: run scripts/install-test-peers")
            throw XCTSkip("unreachable: failed above")
        }
        out = folder + "/\(script)-\(UUID().uuidString).jsonl"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root + "/scripts/peers/\(script)", "--out", out] + arguments
        if silent { process.standardError = FileHandle.nullDevice }
        do {
            port = try ReadyPeer.start(process)
        } catch let failed as ReadyPeer.DidNotStart {
            XCTFail("\(script) did not start: '\(failed.line)'")
            throw XCTSkip("unreachable: failed above")
        }
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// What was received so far, in the order it was recorded.
    func records() -> [[String: Any]] {
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// The test venv's SMTP server (`scripts/peers/smtp_peer.py`, aiosmtpd).
final class SMTPPeer: JSONLinesPeer {
    init(folder: String, arguments: [String]) throws {
        try super.init(folder: folder, script: "smtp_peer.py", arguments: arguments)
    }
}

/// `rosterflow worker` as a process: at-least-once delivery across a SIGKILL, and a graceful stop on SIGTERM. The SMTP
/// server records each first attempt as soon as the message has arrived and holds its reply, so the worker is caught
/// with the message sent and its outcome not yet known, let alone recorded.
final class WorkerTests: WorkerHarness {
    func testKilledBetweenSendAndMarkTheMessageIsResentWithTheSameID() throws {
        let id = try requestOne()
        let smtp = try SMTPPeer(folder: folder, arguments: ["--hold-first", "60"])
        // A short lease, so another worker may take the dead one's delivery over soon.
        try writeConfiguration(smtpPort: smtp.port, leaseSeconds: 3, sendSeconds: 2)
        let worker = process(["worker", "--poll-interval", "0.1"])
        try worker.run()
        XCTAssertTrue(waitFor(30) { smtp.records().count == 1 }, "the worker did not send")
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        let first = try XCTUnwrap(smtp.records().first)
        XCTAssertEqual(first["message_id"] as? String, "<\(id)@rosterflow.test>")
        // The send was never recorded: the delivery is still pending under the dead worker's lease.
        let shown = try run("outbox", "show", id, "--json")
        XCTAssertTrue(shown.contains("\"status\" : \"pending\""), shown)

        Thread.sleep(forTimeInterval: 3.2)
        XCTAssertTrue(try run("worker", "--once").contains("sent 1"))
        let records = smtp.records()
        XCTAssertEqual(records.count, 2)
        let second = try XCTUnwrap(records.last)
        XCTAssertEqual(second["attempt"] as? Int, 2, "re-sent under another Message-ID")
        XCTAssertEqual(second["sha256"] as? String, first["sha256"] as? String, "the re-sent message differs from the first")
        XCTAssertTrue(try run("outbox", "list", "--status", "sent").contains(id))
    }

    /// SIGTERM lands while a delivery is in flight (sent, the server's reply not yet back): the worker must finish it
    /// and record it before it exits, not drop it as pending.
    func testSIGTERMDrainsAndStops() throws {
        let id = try requestOne()
        let smtp = try SMTPPeer(folder: folder, arguments: ["--hold-first", "2"])
        let worker = process(["worker", "--poll-interval", "0.1"],
                             environment: ["ROSTERFLOW_SMTP_URL": "smtp://127.0.0.1:\(smtp.port)"])
        try worker.run()
        XCTAssertTrue(waitFor(30) { smtp.records().count == 1 }, "the worker did not send")
        XCTAssertTrue(try run("outbox", "show", id, "--json").contains("\"status\" : \"pending\""), "already recorded: not in flight")
        kill(worker.processIdentifier, SIGTERM)
        XCTAssertTrue(waitFor(10) { !worker.isRunning }, "the worker did not stop on SIGTERM")
        if worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
        worker.waitUntilExit()
        XCTAssertEqual(worker.terminationStatus, 0)
        XCTAssertTrue(try run("outbox", "list", "--status", "sent").contains(id))
        XCTAssertEqual(smtp.records().count, 1, "sent twice")
    }
}
