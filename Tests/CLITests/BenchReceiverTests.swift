import Foundation
import TestPeers
import XCTest

/// `rosterflow-bench receiver`, the webhook receiver `rosterflow-bench notify` measures against: the worker's signed webhooks
/// verify there, a forged one does not, and the sample it keeps verifies again with Python's standardwebhooks.
final class BenchReceiverTests: WorkerHarness {
    let secret = "whsec_" + Data("rosterflow-cli-receiver-secret-0123".utf8).base64EncodedString()

    var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func testWorkerWebhooksVerifyAtTheReceiverAndItsSampleVerifiesInPython() throws {
        let python = repositoryRoot + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return XCTFail("\(python) is missing: run scripts/install-test-peers")
        }
        let sample = folder! + "/sample.jsonl"

        let receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: CLITests.benchBinary)
        receiver.arguments = ["receiver", "--secret", secret, "--sample", "10", "--sample-out", sample]
        let port = try ReadyPeer.start(receiver)
        defer {
            kill(receiver.processIdentifier, SIGKILL)
            receiver.waitUntilExit()
        }

        // Two messages through the worker, signed with the subscriber's secret; one forged request.
        _ = try requestOne()
        try run("integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission",
                            "full", "--contact", "it@springfield.example")
        let worker = process(["worker", "--once"], environment: [
            "ROSTERFLOW_WEBHOOK_URL": "http://127.0.0.1:\(port)/hooks", "ROSTERFLOW_WEBHOOK_SECRET": secret])
        try worker.run()
        worker.waitUntilExit()
        XCTAssertEqual(worker.terminationStatus, 0)
        let forged = try httpExchange(port: port, """
            POST /hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nwebhook-id: msg_forged\r\n\
            webhook-timestamp: \(Int(Date().timeIntervalSince1970))\r\nwebhook-signature: v1,AAAA\r\nContent-Length: 2\r\n\
            Connection: close\r\n\r\n{}
            """)
        XCTAssertTrue(forged.hasPrefix("HTTP/1.1 401"), forged)

        let stats = try httpExchange(port: port, "GET /_stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let body = try XCTUnwrap(stats.components(separatedBy: "\r\n\r\n").last)
        let counts = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Int])
        XCTAssertEqual(counts["received"], 3)
        XCTAssertEqual(counts["verified"], 2)
        XCTAssertEqual(counts["rejected"], 1)
        XCTAssertEqual(counts["sampled"], 3)
        XCTAssertTrue(try run("outbox", "list", "--status", "sent").split(separator: "\n").count == 2)

        // The independent check: the two genuine requests verify in Python, the forged one does not.
        let check = Process()
        check.executableURL = URL(fileURLWithPath: python)
        check.arguments = [repositoryRoot + "/scripts/peers/verify_sample.py", sample, "--secret", secret]
        let checkOut = Pipe()
        check.standardOutput = checkOut
        check.standardError = FileHandle.nullDevice
        try check.run()
        let said = String(decoding: checkOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        XCTAssertEqual(said.trimmingCharacters(in: .whitespacesAndNewlines), "VERIFIED 2 3")
        XCTAssertEqual(check.terminationStatus, 1)
    }

    /// The benchmark itself, small: every e-mail reaches aiosmtpd, every webhook verifies at a receiver of its own,
    /// the sample verifies in Python, and the report carries the rates and the CPU each webhook cost RosterFlow.
    func testBenchNotifyMeasuresEveryChannelAgainstRealPeers() throws {
        let python = repositoryRoot + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return XCTFail("\(python) is missing: run scripts/install-test-peers")
        }
        let bench = Process()
        bench.executableURL = URL(fileURLWithPath: CLITests.benchBinary)
        // In a folder of its own: nothing is written into the checkout.
        let work = NSTemporaryDirectory() + "rosterflow-bench-notify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        bench.currentDirectoryURL = URL(fileURLWithPath: work)
        bench.arguments = ["notify", "--messages", "300", "--sample", "20", "--json", "--python", python,
                           "--peers", repositoryRoot + "/scripts/peers", "--templates", repositoryRoot + "/Templates"]
        let out = Pipe()
        bench.standardOutput = out
        bench.standardError = FileHandle.nullDevice
        try bench.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        bench.waitUntilExit()
        XCTAssertEqual(bench.terminationStatus, 0, String(decoding: data, as: UTF8.self))
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], String(decoding: data, as: UTF8.self))
        XCTAssertEqual(report["receiverVerified"] as? Int, 300)
        XCTAssertEqual(report["receiverCounted"] as? Int, 300)
        XCTAssertEqual(report["sampledSignatures"] as? Int, 20)
        XCTAssertEqual(report["sampledVerifiedIndependently"] as? Int, 20)
        for key in ["emailPerSecond", "pythonEmailPerSecond", "webhooksPerSecond", "pythonWebhooksPerSecond",
                    "webhookTransportFloorPerSecond", "webhookCPUMicroseconds"] {
            XCTAssertGreaterThan(report[key] as? Double ?? 0, 0, key)
        }
    }

    /// Sends `request` on a new loopback connection and returns everything the server answered before closing.
    func httpExchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: response, as: UTF8.self)
    }
}
