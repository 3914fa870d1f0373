import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// The binary runs from any folder (the shipped workflows and templates are built in), and `rosterflow serve --demo`
/// seeds the demo, prints a working token per role, and stops cleanly.
extension CLITests {
    /// No Workflows/, Templates/, configuration or database variables: only what the binary carries.
    static let bareEnvironment: [String: String?] = [
        "ROSTERFLOW_DB": nil, "ROSTERFLOW_WORKFLOWS": nil, "ROSTERFLOW_TEMPLATES": nil, "ROSTERFLOW_CONFIG": nil,
    ]

    func testDemoRunsFromAnEmptyFolderWithTheBuiltInWorkflowsAndTemplates() throws {
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
        let demo = try Binary.run(["demo"], environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(demo.status, 0, demo.stderr)
        XCTAssertTrue(demo.stdout.contains("content_mapped → live"), demo.stdout)
        XCTAssertTrue(demo.stdout.contains("→ locked"), demo.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/rosterflow.sqlite"))
        let check = try Binary.run(["templates", "check"], environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.contains("integration: integration-requested"), check.stdout)
        let workflows = try Binary.run(["workflows", "graph", "integration", "--format", "mermaid"], environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(workflows.status, 66, "workflows validate/graph read a folder, and there is none here")

        // A folder overrides the built-ins file by file: a changed subject in ./Templates is what preview renders.
        try FileManager.default.createDirectory(atPath: folder + "/Templates", withIntermediateDirectories: true)
        try "Overridden {{district}}\n".write(toFile: folder + "/Templates/integration-live.subject.mustache", atomically: true, encoding: .utf8)
        let list = try Binary.run(["integrations", "list", "--json"], environment: Self.bareEnvironment, in: folder)
        let id = try XCTUnwrap(list.stdout.components(separatedBy: "\"").first { $0.hasPrefix("int_") })
        let preview = try Binary.run(
            ["templates", "preview", "integration-live", "--integration", id], environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(preview.status, 0, preview.stderr)
        XCTAssertTrue(preview.stdout.hasPrefix("Subject: Overridden "), preview.stdout)
        let other = try Binary.run(
            ["templates", "preview", "integration-requested", "--integration", id], environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(other.status, 0, "the templates the folder does not have stay built in: \(other.stderr)")
        let missing = try Binary.run(
            ["templates", "check", "--templates", folder + "/nowhere"], environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(missing.status, 66, "a template folder that was named must exist: \(missing.stderr)")
    }

    /// A running `serve --demo` started in `folder` with nothing but the binary, and what it printed until its
    /// closing `stop:` line.
    struct DemoServer {
        let process: Process
        let base: String
        let printed: [String]
        /// Each role's printed token.
        let tokens: [String: String]
        /// The one-time dashboard sign-in link printed for each role.
        let links: [String: String]
        let output: FileHandle

        /// `environment` is added to the bare one (e.g. `ROSTERFLOW_SMTP_URL`: the worker then e-mails through it).
        static func start(in folder: String, extra: [String] = [], environment added: [String: String] = [:]) throws -> DemoServer {
            let server = Process()
            server.executableURL = URL(fileURLWithPath: CLITests.binary)
            server.arguments = ["serve", "--demo", "--port", "0"] + extra
            var environment = ProcessInfo.processInfo.environment
            for (key, value) in CLITests.bareEnvironment { environment[key] = value }
            environment.merge(added) { _, new in new }
            server.environment = environment
            server.currentDirectoryURL = URL(fileURLWithPath: folder)
            let output = Pipe()
            server.standardOutput = output
            server.standardError = FileHandle.nullDevice
            try server.run()
            var lines: [String] = []
            var buffer = Data()
            let deadline = Date().addingTimeInterval(120)
            while lines.last?.hasPrefix("stop:") != true, Date() < deadline {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer = Data(buffer[(newline + 1)...])
                }
            }
            guard let first = lines.first, first.hasPrefix("listening on http://127.0.0.1:") else {
                kill(server.processIdentifier, SIGKILL)
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "serve --demo printed \(lines)"])
            }
            var tokens: [String: String] = [:], links: [String: String] = [:]
            var role = ""
            for line in lines {
                if !line.hasPrefix(" "), line.contains(": ") { role = String(line.prefix { $0 != ":" }) }
                if line.hasPrefix("  token: ") { tokens[role] = String(line.dropFirst("  token: ".count)) }
                if line.hasPrefix("  dashboard: ") { links[role] = String(line.dropFirst("  dashboard: ".count).prefix { $0 != " " }) }
            }
            return DemoServer(
                process: server, base: String(first.dropFirst("listening on ".count).prefix { $0 != " " }), printed: lines,
                tokens: tokens, links: links, output: output.fileHandleForReading)
        }

        func get(_ path: String, token: String?) async throws -> (status: Int, json: [String: Any]) {
            var request = URLRequest(url: URL(string: base + path)!)
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
        }

        /// Sends `signal` and waits up to `bound` seconds for the process to end; returns its exit status.
        func stop(_ signal: Int32, within bound: Double) async throws -> Int32? {
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(bound)
            while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                return nil
            }
            return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
        }
    }

    func testServeDemoSeedsOnceAndPrintsAWorkingTokenPerRoleAndStopsOnSIGINT() async throws {
        let server = try DemoServer.start(in: folder)
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(server.printed.contains { $0.hasPrefix("demo: seeded the demo districts") }, "\(server.printed)")
        XCTAssertEqual(Set(server.tokens.keys), ["vendor_admin", "dsp", "school_admin"], "\(server.printed)")
        // Each person also gets a one-time dashboard link to this server; opening it shows the confirm page.
        XCTAssertEqual(Set(server.links.keys), ["vendor_admin", "dsp", "school_admin"], "\(server.printed)")
        for (role, link) in server.links {
            XCTAssertTrue(link.hasPrefix(server.base + "/sign-in/"), "\(role): \(link)")
            let (data, response) = try await URLSession.shared.data(from: URL(string: link)!)
            XCTAssertEqual((response as? HTTPURLResponse)?.statusCode, 200, role)
            XCTAssertTrue(String(decoding: data, as: UTF8.self).contains("<form"), "\(role): no confirm form")
        }

        // Each token works over /api/v1 in its own role and sees only its districts.
        let expected: [String: (email: String, tenants: Set<String>)] = [
            "vendor_admin": ("admin@vendor.example", ["demo-springfield", "demo-unknown"]),
            "dsp": ("dsp@vendor.example", ["demo-springfield", "demo-unknown"]),
            "school_admin": ("school@springfield.example", ["demo-springfield"]),
        ]
        for (role, want) in expected {
            let token = try XCTUnwrap(server.tokens[role])
            XCTAssertTrue(token.hasPrefix("rf_"), token)
            let me = try await server.get("/api/v1/me", token: token)
            XCTAssertEqual(me.status, 200)
            XCTAssertEqual(me.json["role"] as? String, role)
            XCTAssertEqual(me.json["email"] as? String, want.email)
            let list = try await server.get("/api/v1/integrations?limit=200", token: token)
            XCTAssertEqual(list.status, 200)
            let tenants = Set((list.json["items"] as? [[String: Any]] ?? []).compactMap { $0["tenantID"] as? String })
            XCTAssertEqual(tenants, want.tenants, role)
        }
        let firstVendorToken = try XCTUnwrap(server.tokens["vendor_admin"])
        let anonymous = try await server.get("/api/v1/integrations", token: nil)
        XCTAssertEqual(anonymous.status, 401)

        let status = try await server.stop(SIGINT, within: 15)
        XCTAssertEqual(status, 0, "serve --demo exits 0 within 15 s of SIGINT")

        // A second start on the same database seeds nothing again and adds no account; earlier demo tokens stop working.
        let integrations = try rosterflowBare("integrations", "list", "--json").stdout
        let again = try DemoServer.start(in: folder)
        defer { if again.process.isRunning { kill(again.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(again.printed.contains { $0.hasPrefix("demo: the demo districts were seeded before") }, "\(again.printed)")
        XCTAssertEqual(Set(again.tokens.keys), ["vendor_admin", "dsp", "school_admin"])
        XCTAssertNotEqual(again.tokens["vendor_admin"], firstVendorToken, "fresh tokens at each start")
        let schoolMe = try await again.get("/api/v1/me", token: again.tokens["school_admin"])
        XCTAssertEqual(schoolMe.status, 200)
        let revokedMe = try await again.get("/api/v1/me", token: firstVendorToken)
        XCTAssertEqual(revokedMe.status, 401, "the first start's token is revoked")
        let stoppedAgain = try await again.stop(SIGINT, within: 15)
        XCTAssertEqual(stoppedAgain, 0)
        let accounts = try rosterflowBare("accounts", "list", "--json").stdout
        XCTAssertEqual(accounts.components(separatedBy: "\"acct_").count - 1, 3, accounts)
        XCTAssertEqual(try rosterflowBare("integrations", "list", "--json").stdout, integrations, "nothing seeded twice")
    }

    func testServeDrainsARequestInFlightOnSIGTERM() async throws {
        let server = try DemoServer.start(in: folder)
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let token = try XCTUnwrap(server.tokens["vendor_admin"])
        let rejected = try await server.get("/api/v1/integrations?state=rejected", token: token)
        let id = try XCTUnwrap((rejected.json["items"] as? [[String: Any]])?.first?["id"] as? String)

        // The request is in flight when SIGTERM arrives: its head and half its body are sent, the rest comes after.
        let port = try XCTUnwrap(Int(server.base.split(separator: ":").last ?? ""))
        let connection = try LoopbackConnection(port: port)
        let body = #"{"event":"reconsider","reason":"the district asked again"}"#
        let head = "POST /api/v1/integrations/\(id)/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        try connection.send(head + body.prefix(10))
        try await Task.sleep(for: .milliseconds(300))
        kill(server.process.processIdentifier, SIGTERM)
        try await Task.sleep(for: .seconds(1))
        XCTAssertTrue(server.process.isRunning, "serve waits for the request in flight")
        try connection.send(String(body.dropFirst(10)))
        let answer = try connection.readAll(timeout: 15)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), "the request in flight is answered, not dropped: \(answer)")
        XCTAssertTrue(answer.contains("\"to\":\"requested\"") || answer.contains("\"requested\""), answer)
        let deadline = Date().addingTimeInterval(15)
        while server.process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertFalse(server.process.isRunning, "serve stops once the request in flight is answered")
        XCTAssertEqual(server.process.terminationStatus, 0)
        let after = try rosterflowBare("integrations", "show", id, "--json").json()
        XCTAssertEqual(after["state"] as? String, "requested", "the drained request was applied and committed")
    }

    /// `rosterflow` in `folder` with nothing but the binary's built-ins.
    @discardableResult
    func rosterflowBare(_ arguments: String..., expect: Int32 = 0, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let result = try Binary.run(arguments, environment: Self.bareEnvironment, in: folder)
        XCTAssertEqual(result.status, expect, "rosterflow \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        return result
    }
}

/// A plain TCP connection to a loopback port, to send a request in pieces.
final class LoopbackConnection {
    let socket: Int32

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.EBADF) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(socket); throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(socket) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            sent += n
        }
    }

    /// Everything the peer sends until it closes, waiting at most `timeout` seconds.
    func readAll(timeout: Double) throws -> String {
        var received = Data()
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let n = recv(socket, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: received, as: UTF8.self)
    }
}
