import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// `rosterflow serve` as a process: it prints the port it listens on, answers over loopback with tokens made by
/// `rosterflow tokens create`, and stops cleanly on SIGTERM.
extension CLITests {
    func testServeAnswersOverLoopbackAndStopsCleanlyOnSIGTERM() async throws {
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow("customers", "import", registry)
        let id = try XCTUnwrap(try rosterflow(
            "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "rule-based",
            "--contact", "it@springfield.example", "--json").json()["id"] as? String)
        let account = try rosterflow("accounts", "add", "--email", "ana@vendor.example", "--name", "Ana", "--role", "vendor_admin", "--json")
        XCTAssertEqual(try account.json()["scope"] as? String, "all")
        try rosterflow("accounts", "add", "--email", "sam@springfield.example", "--name", "Sam", "--role", "school_admin", expect: 64)
        let created = try rosterflow("tokens", "create", "--account", "ana@vendor.example", "--name", "test", "--expires", "1d")
        let token = String(created.stdout.prefix { $0 != "\n" })
        XCTAssertTrue(token.hasPrefix("rf_"), created.stdout)
        XCTAssertFalse(try rosterflow("tokens", "list").stdout.contains(token), "the token is shown only once")

        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.binary)
        server.arguments = ["serve", "--port", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["ROSTERFLOW_DB"] = database
        environment["ROSTERFLOW_WORKFLOWS"] = Self.workflows
        environment["ROSTERFLOW_TEMPLATES"] = Self.workflows.replacingOccurrences(of: "/Workflows", with: "/Templates")
        server.environment = environment
        server.currentDirectoryURL = URL(fileURLWithPath: folder)
        let output = Pipe()
        server.standardOutput = output
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let firstLine = try XCTUnwrap(Self.readLine(output.fileHandleForReading), "serve printed nothing")
        XCTAssertTrue(firstLine.hasPrefix("listening on http://127.0.0.1:"), firstLine)
        XCTAssertTrue(firstLine.hasSuffix("(with the worker)"), firstLine)
        let base = String(firstLine.dropFirst("listening on ".count).prefix { $0 != " " })
        XCTAssertNotEqual(base, "http://127.0.0.1:0")

        var request = URLRequest(url: URL(string: base + "/api/v1/integrations/\(id)")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200)
        let shown = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(shown["state"] as? String, "requested")

        let (problem, refused) = try await URLSession.shared.data(from: URL(string: base + "/api/v1/integrations")!)
        XCTAssertEqual((refused as? HTTPURLResponse)?.statusCode, 401)
        XCTAssertEqual((refused as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type"), "application/problem+json")
        XCTAssertTrue(String(decoding: problem, as: UTF8.self).contains("missing-credentials"))

        kill(server.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(15)
        while server.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertFalse(server.isRunning, "serve did not stop on SIGTERM")
        server.waitUntilExit()
        XCTAssertEqual(server.terminationReason, .exit)
        XCTAssertEqual(server.terminationStatus, 0)

        let tokenID = try XCTUnwrap(try rosterflow("tokens", "list", "--json").stdout
            .components(separatedBy: "\"").first { $0.hasPrefix("tok_") })
        XCTAssertTrue(try rosterflow("tokens", "revoke", tokenID).stdout.contains("\trevoked\t"))
        try rosterflow("tokens", "revoke", "tok_nothere", expect: 66)
        XCTAssertTrue(try rosterflow("accounts", "disable", "ana@vendor.example").stdout.contains("\tdisabled"))
        XCTAssertTrue(try rosterflow("accounts", "list").stdout.contains("ana@vendor.example\tAna\tvendor_admin\tall districts\tdisabled"))
        try rosterflow("tokens", "create", "--account", "ana@vendor.example", expect: 3)
        try rosterflow("tokens", "create", "--account", "nobody@vendor.example", expect: 66)
        try rosterflow("tokens", "create", "--account", "ana@vendor.example", "--expires", "soon", expect: 64)
        let audit = try rosterflow("audit").stdout
        for action in ["account-add", "token-create", "token-revoke", "account-disable"] {
            XCTAssertTrue(audit.contains(action), "\(action) is audited: \(audit)")
        }
        XCTAssertFalse(audit.contains(token), "the audit log never shows the token")
    }

    /// The first line a child prints, waiting up to `timeout` seconds.
    static func readLine(_ handle: FileHandle, timeout: Double = 60) -> String? {
        var buffer = Data()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: buffer[..<newline], as: UTF8.self)
            }
        }
        return nil
    }
}
