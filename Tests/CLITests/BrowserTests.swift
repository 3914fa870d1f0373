import Foundation
import XCTest

/// The dashboard in a real browser: Debian's chromium, headless, driven through chromium-driver by selenium (both
/// installed by scripts/install-test-peers), against a live `rosterflow serve --demo`. The school admin and the vendor
/// admin each sign in through the one-time link the demo prints (the link the outbox e-mails), the school sets its
/// daily sync time with the form's time-zone picker, and a used link is refused. Screenshots of each page are kept in
/// `.build/test-artifacts/browser` (or `$ROSTERFLOW_TEST_ARTIFACTS/browser`).
extension CLITests {
    func testABrowserSignsInThroughTheEmailedLinksAndTheSchoolSetsItsSyncTime() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let python = root + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            return XCTFail("\(python) is missing: run scripts/install-test-peers")
        }
        let artifacts = (ProcessInfo.processInfo.environment["ROSTERFLOW_TEST_ARTIFACTS"] ?? root + "/.build/test-artifacts")
            + "/browser"
        try? FileManager.default.removeItem(atPath: artifacts)
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
}
