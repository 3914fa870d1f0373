import Foundation
import XCTest

/// A temporary database and configuration for tests that run `rosterflow worker` as a process.
class WorkerHarness: XCTestCase {
    var folder: String!
    var database: String { folder + "/cli.sqlite" }
    var spool: String { folder + "/spool" }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-worker-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try """
            {"spool": "\(spool)", "from": "RosterFlow <notify@rosterflow.test>",
             "recipients": {"vendor_admins": ["ana@vendor.test"]}, "lease_seconds": 1,
             "retry": {"base_seconds": 0.05, "max_attempts": 3}}
            """.write(toFile: folder + "/rosterflow.json", atomically: true, encoding: .utf8)
    }

    func process(_ arguments: [String], environment extra: [String: String] = [:]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["ROSTERFLOW_DB"] = database
        environment["ROSTERFLOW_WORKFLOWS"] = CLITests.workflows
        environment["ROSTERFLOW_CONFIG"] = folder + "/rosterflow.json"
        environment["ROSTERFLOW_TEMPLATES"] = CLITests.workflows.replacingOccurrences(of: "/Workflows", with: "/Templates")
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        return process
    }

    @discardableResult
    func run(_ arguments: String...) throws -> String {
        let process = process(arguments)
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

/// `rosterflow worker` as a process: at-least-once delivery across a SIGKILL, and a graceful stop on SIGTERM.
final class WorkerTests: WorkerHarness {
    func testKilledBetweenSendAndMarkTheMessageIsResentWithTheSameID() throws {
        let id = try requestOne()
        let file = spool + "/\(id)_rosterflow.test.eml"
        let worker = process(["worker", "--poll-interval", "0.1"], environment: ["ROSTERFLOW_TEST_SLEEP_AFTER_SEND": "30"])
        try worker.run()
        XCTAssertTrue(waitFor(30) { FileManager.default.fileExists(atPath: file) }, "the worker did not send")
        kill(worker.processIdentifier, SIGKILL)
        worker.waitUntilExit()
        let first = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(first.contains("Message-ID: <\(id)@rosterflow.test>"))
        // The send was never recorded: the delivery is still pending under the dead worker's lease.
        let shown = try run("outbox", "show", id, "--json")
        XCTAssertTrue(shown.contains("\"status\" : \"pending\""), shown)
        try FileManager.default.removeItem(atPath: file)

        Thread.sleep(forTimeInterval: 1.2)
        XCTAssertTrue(try run("worker", "--once").contains("sent 1"))
        let second = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertEqual(second, first, "the re-sent message differs from the first")
        XCTAssertTrue(try run("outbox", "list", "--status", "sent").contains(id))
    }

    /// SIGTERM lands while a delivery is in flight (sent, its outcome not yet recorded: the worker pauses two seconds
    /// between the two): the worker must finish it and record it before it exits, not drop it as pending.
    func testSIGTERMDrainsAndStops() throws {
        let id = try requestOne()
        let worker = process(["worker", "--poll-interval", "0.1"], environment: ["ROSTERFLOW_TEST_SLEEP_AFTER_SEND": "2"])
        try worker.run()
        XCTAssertTrue(waitFor(30) { FileManager.default.fileExists(atPath: self.spool + "/\(id)_rosterflow.test.eml") })
        XCTAssertTrue(try run("outbox", "show", id, "--json").contains("\"status\" : \"pending\""), "already recorded: not in flight")
        kill(worker.processIdentifier, SIGTERM)
        XCTAssertTrue(waitFor(10) { !worker.isRunning }, "the worker did not stop on SIGTERM")
        if worker.isRunning { kill(worker.processIdentifier, SIGKILL) }
        worker.waitUntilExit()
        XCTAssertEqual(worker.terminationStatus, 0)
        XCTAssertTrue(try run("outbox", "list", "--status", "sent").contains(id))
    }
}
