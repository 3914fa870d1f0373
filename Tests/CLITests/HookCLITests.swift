import Foundation
import XCTest

/// `rosterflow hooks senders …` and an inbound hook signed by the reference `standardwebhooks` Python package against
/// a live `rosterflow serve` on loopback; `rosterflow workflows diagram`.
extension CLITests {
    func testHookSendersAreAddedListedRotatedAndDisabledWithoutShowingTheirSecrets() throws {
        let added = try rosterflow("hooks", "senders", "add", "classlink", "--district", "t1")
        let secret = String(added.stdout.prefix { $0 != "\n" })
        XCTAssertTrue(secret.hasPrefix("whsec_"), added.stdout)
        XCTAssertEqual(Data(base64Encoded: String(secret.dropFirst(6)))?.count, 32)
        XCTAssertTrue(added.stdout.contains("?sender=classlink"), added.stdout)
        try rosterflow("hooks", "senders", "add", "classlink", expect: 5)
        try rosterflow("hooks", "senders", "add", "Class Link", expect: 64)
        let list = try rosterflow("hooks", "senders", "list").stdout
        XCTAssertTrue(list.contains("classlink\tt1\tactive"), list)
        XCTAssertFalse(list.contains(secret), "the secret is shown only once")

        let rotated = try rosterflow("hooks", "senders", "rotate", "classlink", "--grace", "2h", "--json").json()
        let newSecret = try XCTUnwrap(rotated["secret"] as? String)
        XCTAssertNotEqual(newSecret, secret)
        XCTAssertNotNil((rotated["sender"] as? [String: Any])?["previousSecretValidUntil"])
        try rosterflow("hooks", "senders", "rotate", "classlink", "--grace", "soon", expect: 64)
        try rosterflow("hooks", "senders", "rotate", "nobody", expect: 66)
        XCTAssertTrue(try rosterflow("hooks", "senders", "list").stdout.contains("old secret accepted until"))
        XCTAssertTrue(try rosterflow("hooks", "senders", "disable", "classlink").stdout.contains("\tdisabled"))
        try rosterflow("hooks", "senders", "rotate", "classlink", expect: 3)

        let audit = try rosterflow("audit").stdout
        for action in ["hook-sender-add", "hook-sender-rotate", "hook-sender-disable"] {
            XCTAssertTrue(audit.contains(action), "\(action) is audited: \(audit)")
        }
        XCTAssertFalse(audit.contains(secret) || audit.contains(newSecret), "the audit log never shows a secret")
    }

    func testAHookSignedByTheReferenceLibraryIsAppliedOnceByALiveServer() async throws {
        let python = URL(fileURLWithPath: Self.workflows).deletingLastPathComponent().path + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            XCTFail("\(python) is missing: run scripts/install-test-peers")
            return
        }
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow("customers", "import", registry)
        let secret = String(try rosterflow("hooks", "senders", "add", "classlink").stdout.prefix { $0 != "\n" })

        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.binary)
        server.arguments = ["serve", "--port", "0", "--no-worker"]
        var environment = ProcessInfo.processInfo.environment
        environment["ROSTERFLOW_DB"] = database
        environment["ROSTERFLOW_WORKFLOWS"] = Self.workflows
        environment["ROSTERFLOW_TEMPLATES"] = Self.workflows.replacingOccurrences(of: "/Workflows", with: "/Templates")
        server.environment = environment
        server.currentDirectoryURL = URL(fileURLWithPath: folder)
        let output = Pipe()
        let log = folder + "/serve.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        server.standardOutput = output
        server.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }
        let firstLine = try XCTUnwrap(
            Self.readLine(output.fileHandleForReading), "serve printed nothing: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let base = String(firstLine.dropFirst("listening on ".count).prefix { $0 != " " })

        // The reference library signs; urllib posts the exact bytes signed. Prints status, replay header and body.
        let script = """
            import sys, json, datetime, urllib.request, urllib.error
            from standardwebhooks.webhooks import Webhook
            base, secret, msg_id, body, tamper = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1"
            now = datetime.datetime.now(tz=datetime.timezone.utc)
            signature = Webhook(secret).sign(msg_id, now, body)
            sent = body.replace("Springfield", "Shelbyville") if tamper else body
            request = urllib.request.Request(base + "/hooks/v1/app-enabled?sender=classlink", data=sent.encode(), method="POST",
                headers={"content-type": "application/json", "webhook-id": msg_id,
                         "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature})
            try:
                with urllib.request.urlopen(request) as answer:
                    print(answer.status, answer.headers.get("Idempotent-Replayed", "-"), answer.read().decode())
            except urllib.error.HTTPError as error:
                print(error.code, error.headers.get("Content-Type"), error.read().decode())
            """
        let body = #"{"tenantId":"t1","district":{"sourcedId":"d-1","name":"Springfield USD"},"permissionType":"Legacy Custom","contact":{"name":"Ann","email":"it@springfield.example"}}"#
        func send(_ id: String, tamper: Bool = false) throws -> String {
            let result = try Binary.run(
                ["-c", script, base, secret, id, body, tamper ? "1" : "0"], environment: [:], in: folder, executable: python)
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let first = try send("msg_e2e_1")
        XCTAssertTrue(first.hasPrefix("200 - {"), first)
        let again = try send("msg_e2e_1")
        XCTAssertTrue(again.hasPrefix("200 true {"), again)
        XCTAssertEqual(again.dropFirst("200 true ".count), first.dropFirst("200 - ".count), "the first answer again")
        let tampered = try send("msg_e2e_2", tamper: true)
        XCTAssertTrue(tampered.hasPrefix("401 application/problem+json"), tampered)
        XCTAssertTrue(tampered.contains("bad-signature"), tampered)

        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        let integrations = try rosterflow("integrations", "list", "--json").stdout
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(integrations.utf8)) as? [[String: Any]])
        XCTAssertEqual(list.count, 1, "applied once: \(integrations)")
        XCTAssertEqual(list.first?["permission"] as? String, "legacy-custom")
        let id = try XCTUnwrap(list.first?["id"] as? String)
        XCTAssertTrue(try rosterflow("integrations", "show", id).stdout.contains("hook:classlink"))
        let logged = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(logged.contains("bad-signature"), "the refusal is logged: \(logged)")
        XCTAssertFalse(logged.contains("Shelbyville") || logged.contains("it@springfield.example"), "never the body: \(logged)")
    }

    func testWorkflowsDiagramPrintsTheSVGOfAStoredVersion() throws {
        let svg = try rosterflow("workflows", "diagram", "course-mapping").stdout
        XCTAssertTrue(svg.hasPrefix("<?xml"), svg)
        XCTAssertTrue(svg.contains("Workflow course-mapping, version 3"))
        XCTAssertTrue(svg.contains("student_started"))
        XCTAssertTrue(try rosterflow("workflows", "diagram", "integration", "--version", "7").stdout.contains("version 7"))
        try rosterflow("workflows", "diagram", "integration", "--version", "99", expect: 66)
        try rosterflow("workflows", "diagram", "nothing", expect: 66)
    }
}
