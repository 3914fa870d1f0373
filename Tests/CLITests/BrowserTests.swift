import Foundation
import XCTest

/// The dashboard in a real browser: Debian's chromium, headless, driven through chromium-driver by selenium (both
/// installed by scripts/install-test-peers), against a live `rosterflow serve --demo`. The school admin and the vendor
/// admin each sign in through the one-time link the demo prints (the link the outbox e-mails), the school sets its
/// daily sync time with the form's time-zone picker, and a used link is refused. Screenshots of each page are kept in
/// `.build/test-artifacts/browser` (or `$ROSTERFLOW_TEST_ARTIFACTS/browser`).
extension CLITests {
    /// The repository, the test peers' Python and the browser screenshots' folder; nil (the test failed) when the peers
    /// are not installed.
    private func browserPaths(file: StaticString = #filePath, line: UInt = #line) -> (root: String, python: String, artifacts: String)? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let python = root + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            XCTFail("\(python) is missing: run scripts/install-test-peers", file: file, line: line)
            return nil
        }
        let artifacts = (ProcessInfo.processInfo.environment["ROSTERFLOW_TEST_ARTIFACTS"] ?? root + "/.build/test-artifacts")
            + "/browser"
        return (root, python, artifacts)
    }

    func testABrowserSignsInThroughTheEmailedLinksAndTheSchoolSetsItsSyncTime() async throws {
        guard let (root, python, artifacts) = browserPaths() else { return }
        for shot in ["school-confirm", "school-home", "school-sync-time", "vendor-confirm", "vendor-board", "failure"] {
            try? FileManager.default.removeItem(atPath: artifacts + "/\(shot).png")
        }
        let server = try DemoServer.start(in: folder)
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let school = try XCTUnwrap(server.links["school_admin"], "\(server.printed)")
        let vendor = try XCTUnwrap(server.links["vendor_admin"], "\(server.printed)")

        let (status, output) = try await runPeer(
            python, [root + "/Tests/CLITests/Browser/dashboard_walk.py", school, vendor, artifacts], log: "browser.log")
        XCTAssertEqual(status, 0, "the browser walk failed (screenshots in \(artifacts)):\n\(output.suffix(6_000))")
        XCTAssertTrue(output.hasSuffix("ok\n"), output.suffix(2_000).description)

        // What the browser did is in the database: the school's sync time, set by its account.
        let answer = try await server.get("/api/v1/integrations?limit=200", token: server.tokens["vendor_admin"])
        let springfield = (answer.json["items"] as? [[String: Any]] ?? []).filter { $0["tenantID"] as? String == "demo-springfield" }
        XCTAssertTrue(
            springfield.contains { $0["syncTime"] as? String == "03:15" && $0["timezone"] as? String == "America/New_York" },
            "\(springfield)")
        for shot in ["school-confirm.png", "school-sync-time.png", "vendor-board.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: artifacts + "/" + shot), "no screenshot \(shot)")
        }
        let stopped = try await server.stop(SIGTERM, within: 15)
        XCTAssertEqual(stopped, 0)
    }

    /// One district the demo has not seen, from ClassLink's signed app-enabled hook to a locked course and an approved
    /// held sync, each person in their own browser, signed in through the link e-mailed to them by the server's worker
    /// through a real SMTP server (`Browser/district_walk.py` says each step). Afterwards the database says who did
    /// what. Screenshots (`walk-NN-ROLE-STEP.png`) are kept beside the other browser test's.
    func testOneDistrictWalksFromEnablementToALockedCourseWithEachRoleSignedInThroughItsEmailedLink() async throws {
        guard let (root, python, artifacts) = browserPaths() else { return }
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        for old in try FileManager.default.contentsOfDirectory(atPath: artifacts) where old.hasPrefix("walk-") {
            try FileManager.default.removeItem(atPath: artifacts + "/" + old)
        }

        // The district is a customer; its DSP and school admin have accounts; ClassLink is a hook sender for it.
        let tenant = "walk-riverdale", district = "Riverdale USD"
        try "tenant_id,district,contact_email\n\(tenant),\(district),it@riverdale.example\n"
            .write(toFile: folder + "/customers.csv", atomically: true, encoding: .utf8)
        try rosterflowBare("customers", "import", "customers.csv")
        try rosterflowBare("accounts", "add", "--email", "dee@vendor.example", "--name", "Dee", "--role", "dsp", "--district", tenant)
        try rosterflowBare(
            "accounts", "add", "--email", "sam@riverdale.example", "--name", "Sam", "--role", "school_admin", "--district", tenant)
        let secret = String(try rosterflowBare("hooks", "senders", "add", "classlink", "--district", tenant).stdout.prefix { $0 != "\n" })
        try rosterflowBare("sample-bundle", "bundle-riverdale", "--users", "200", "--classes", "10", "--enrollments", "800")

        let smtp = try SMTPPeer(folder: folder, arguments: [])
        let server = try DemoServer.start(in: folder, environment: ["ROSTERFLOW_SMTP_URL": "smtp://127.0.0.1:\(smtp.port)"])
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let printed = server.links.values.map { String($0.split(separator: "/").last ?? "") }
        XCTAssertEqual(printed.count, 3, "\(server.printed)")

        let config: [String: Any] = [
            "base": server.base, "binary": Self.binary, "folder": folder as String, "smtp_out": smtp.out, "printed_tokens": printed,
            "sender": "classlink", "secret": secret, "tenant": tenant, "district": district, "contact": "it@riverdale.example",
            "vendor_email": "admin@vendor.example", "dsp_email": "dee@vendor.example", "school_email": "sam@riverdale.example",
            "bundle": folder + "/bundle-riverdale", "artifacts": artifacts, "results": folder + "/walk-results.json",
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: folder + "/walk.json"))
        let (status, output) = try await runPeer(
            python, [root + "/Tests/CLITests/Browser/district_walk.py", folder + "/walk.json"], log: "walk.log")
        XCTAssertEqual(status, 0, "the district walk failed (screenshots in \(artifacts)):\n\(output.suffix(6_000))")
        XCTAssertTrue(output.hasSuffix("ok\n"), output.suffix(2_000).description)
        let results = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/walk-results.json"))) as? [String: String])
        let integration = try XCTUnwrap(results["integration"]), course = try XCTUnwrap(results["course"])
        let run = try XCTUnwrap(results["heldRun"])

        // What the browsers did is in the database, each step by the person's own account.
        let shown = try rosterflowBare("integrations", "show", integration, "--json").json()
        XCTAssertEqual(shown["timezone"] as? String, "America/Chicago")
        let steps = (shown["history"] as? [[String: Any]] ?? []).map { "\($0["event"] ?? "")/\($0["actor"] ?? "")" }
        for step in ["authenticate/account:admin@vendor.example", "schedule/account:sam@riverdale.example"] {
            XCTAssertTrue(steps.contains(step), "\(step) in \(steps)")
        }
        XCTAssertTrue(steps.first?.hasSuffix("/hook:classlink") == true, "ClassLink's hook requested it: \(steps)")
        let mapped = try rosterflowBare("courses", "show", course, "--json").json()
        XCTAssertEqual(mapped["state"] as? String, "locked")
        XCTAssertEqual(mapped["baseID"] as? String, "RIV-101")
        XCTAssertNotNil(mapped["lockedAt"] ?? nil, "\(mapped)")
        let courseSteps = (mapped["history"] as? [[String: Any]] ?? []).map { "\($0["event"] ?? "")/\($0["actor"] ?? "")" }
        XCTAssertEqual(
            Array(courseSteps.suffix(4)),
            ["map/account:dee@vendor.example", "verify/account:sam@riverdale.example", "add_content/account:dee@vendor.example",
             "student_started/hook:classlink"])
        let decided = try rosterflowBare("sync", "show", run, "--json").json()
        XCTAssertEqual(decided["decision"] as? String, "approved", "\(decided)")
        let audit = try rosterflowBare("audit", "--integration", integration, "--json").stdout
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(audit.utf8)) as? [[String: Any]], audit)
        XCTAssertTrue(
            entries.contains {
                $0["action"] as? String == "sync-approve" && $0["subject"] as? String == run
                    && $0["actor"] as? String == "account:admin@vendor.example"
            }, audit)
        let resumed = try rosterflowBare("integrations", "show", integration, "--json").json()
        let after = (resumed["history"] as? [[String: Any]] ?? []).map { "\($0["event"] ?? "")/\($0["actor"] ?? "")" }
        XCTAssertEqual(after.last, "resume/account:admin@vendor.example", "approving resumes the integration: \(after)")

        let stopped = try await server.stop(SIGTERM, within: 15)
        XCTAssertEqual(stopped, 0)
    }
}
