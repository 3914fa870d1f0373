import Foundation
import XCTest

/// Tolerant reading, root causes, strict policies and the summer pause through the `rosterflow` binary.
extension CLITests {
    /// A sample bundle whose school's `dateLastModified` is written with a space and whose first class says `Scheduled`.
    func tolerableBundle() throws -> String {
        let bundle = folder + "/tolerable"
        try rosterflow("sample-bundle", bundle, "--users", "60", "--classes", "4", "--enrollments", "120")
        let classes = bundle + "/classes.csv"
        var lines = try String(contentsOfFile: classes, encoding: .utf8).components(separatedBy: "\n")
        lines[1] = lines[1].replacingOccurrences(of: ",scheduled,", with: ",Scheduled,")
        try lines.joined(separator: "\n").write(toFile: classes, atomically: true, encoding: .utf8)
        return bundle
    }

    func testValidateExitsZeroWithWarningsOnlyAndStrictMakesThemErrors() throws {
        let bundle = try tolerableBundle()
        let ok = try rosterflow("validate", bundle)
        XCTAssertTrue(ok.stdout.contains("[enum-letter-case]"), ok.stdout)
        XCTAssertTrue(ok.stdout.contains("0 errors, 1 warning"), ok.stdout)

        let strict = try rosterflow("validate", bundle, "--strict", "enum-letter-case", expect: 65)
        XCTAssertTrue(strict.stdout.hasPrefix("Root causes (1), by rows they cost:"), strict.stdout)
        XCTAssertTrue(strict.stdout.contains("rows not loaded only because of a root cause above (`--all` lists them)"), strict.stdout)
        let all = try rosterflow("validate", bundle, "--strict", "enum-letter-case", "--all", expect: 65)
        XCTAssertGreaterThan(all.stdout.components(separatedBy: "[dangling-reference]").count, 1, all.stdout)
        let json = try rosterflow("validate", bundle, "--strict", "enum-letter-case", "--json", expect: 65).json()
        let roots = try XCTUnwrap(json["rootCauses"] as? [[String: Any]])
        XCTAssertEqual(roots.first?["id"] as? String, "classes.csv:2")

        let bad = try rosterflow("validate", bundle, "--strict", "no-such-tolerance", expect: 64)
        XCTAssertTrue(bad.stderr.contains("enum-letter-case"), bad.stderr)
    }

    func testAnIntegrationsStrictPolicyQuarantinesWhatIsOtherwiseTolerated() throws {
        let id = try scheduledIntegration()
        let bundle = try tolerableBundle()
        let shown = try rosterflow("integrations", "policy", id, "--strict", "enum-letter-case", "non-iso-timestamp")
        XCTAssertTrue(shown.stdout.contains("reading tolerances treated as errors: enum-letter-case, non-iso-timestamp"), shown.stdout)
        let run = try rosterflow("sync", "run", "--integration", id, "--bundle", bundle, "--dry-run", "--json").json()
        XCTAssertGreaterThan(run["errorCount"] as? Int ?? 0, 0)
        try rosterflow("integrations", "policy", id, "--strict", "none")
        let tolerant = try rosterflow("sync", "run", "--integration", id, "--bundle", bundle, "--dry-run", "--json").json()
        XCTAssertEqual(tolerant["errorCount"] as? Int, 0)
        XCTAssertEqual(tolerant["warningCount"] as? Int, 1)
        try rosterflow("integrations", "policy", id, "--strict", "bad-date", expect: 64)
    }

    func testPauseAndResumeAreWorkflowEventsAndResumeHoldsItsSync() throws {
        let id = try scheduledIntegration()
        let bundle = folder + "/district"
        try rosterflow("sample-bundle", bundle, "--users", "60", "--classes", "4", "--enrollments", "120")
        try rosterflow("integrations", "source", id, "--bundle", bundle)
        try rosterflow("sync", "run", "--integration", id)
        let paused = try rosterflow("integrations", "pause", id, "--until", "2099-08-16", "--reason", "summer break")
        XCTAssertTrue(paused.stdout.contains("→ paused"), paused.stdout)
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["state"] as? String, "paused")
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["pausedUntil"] as? String, "2099-08-16")
        let shown = try rosterflow("integrations", "show", id).stdout
        XCTAssertTrue(shown.contains("paused until 2099-08-16 (summer break): nightly syncs are skipped"), shown)
        try rosterflow("integrations", "pause", id, "--until", "2000-01-01", expect: 64)
        try rosterflow("integrations", "pause", id, "--until", "2099-09-01", expect: 3)

        // One changed name: a nightly sync would apply it at once.
        let users = bundle + "/users.csv"
        var lines = try String(contentsOfFile: users, encoding: .utf8).components(separatedBy: "\n")
        var fields = lines[3].components(separatedBy: ",")
        fields[6] = "Renamed"
        lines[3] = fields.joined(separator: ",")
        try lines.joined(separator: "\n").write(toFile: users, atomically: true, encoding: .utf8)
        let resumed = try rosterflow("integrations", "resume", id, "--json").json()
        let run = try XCTUnwrap(resumed["run"] as? [String: Any])
        XCTAssertEqual(run["decision"] as? String, "held")
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["state"] as? String, "on_hold")
        XCTAssertNil(try rosterflow("integrations", "show", id, "--json").json()["pausedUntil"])
        let history = try XCTUnwrap(try rosterflow("integrations", "show", id, "--json").json()["history"] as? [[String: Any]])
        XCTAssertEqual(history.compactMap { $0["event"] as? String }.filter { ["pause", "resume", "hold"].contains($0) },
                       ["pause", "resume", "hold"])
        try rosterflow("integrations", "resume", id, expect: 3)
    }
}

extension CLITests {
    func testARolloverIsHeldReviewedAndCarriedForward() throws {
        let id = try scheduledIntegration()
        let y2025 = folder + "/y2025", y2026 = folder + "/y2026"
        try rosterflow("sample-bundle", y2025, "--users", "120", "--classes", "16", "--enrollments", "400", "--seed", "5")
        let wrote = try rosterflow("sample-bundle", y2026, "--users", "120", "--classes", "16", "--enrollments", "400", "--seed", "5",
                                   "--school-year", "2026")
        XCTAssertTrue(wrote.stdout.contains("school year 2025–26"), wrote.stdout)
        try rosterflow("sync", "run", "--integration", id, "--bundle", y2025)
        let listed = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try rosterflow("courses", "list", "--integration", id, "--json").stdout.utf8)) as? [[String: Any]])
        for course in listed {
            let courseID = try XCTUnwrap(course["id"] as? String), sourced = try XCTUnwrap(course["sourcedID"] as? String)
            try rosterflow("courses", "map", courseID, "--catalog", "Catalog \(sourced)", "--base-id", "BASE-\(sourced)")
        }

        let run = try rosterflow("sync", "run", "--integration", id, "--bundle", y2026)
        XCTAssertTrue(run.stdout.contains("HELD"), run.stdout)
        XCTAssertTrue(run.stdout.contains("! school-year rollover from 2024–25 to 2025–26: 16 classes ending, 16 classes starting;"), run.stdout)
        XCTAssertTrue(run.stdout.contains("crs-2026-1 ") && run.stdout.contains("← crs-1 "), run.stdout)
        let runID = try XCTUnwrap(run.stdout.split(separator: " ").dropFirst().first.map(String.init))
        // The last line, where the operator chooses, names both approvals and what each does to the new courses.
        let last = try XCTUnwrap(run.stdout.split(separator: "\n").last { $0.contains("held for review:") })
        let matches = run.stdout.split(separator: "\n").filter { $0.hasPrefix("    crs-2026-") && $0.contains(" ← ") }.count
        XCTAssertGreaterThan(matches, 1)
        XCTAssertTrue(last.contains("`rosterflow sync approve \(runID) --carry-forward` to start the \(matches) matching new courses from last year's mappings"), String(last))
        XCTAssertTrue(last.contains("or `rosterflow sync approve \(runID)` to map every new course anew"), String(last))
        XCTAssertEqual(try rosterflow("sync", "show", runID).stdout.split(separator: "\n").last { $0.contains("held for review:") }, last,
                       "`sync show` ends the same way")
        let approved = try rosterflow("sync", "approve", runID, "--carry-forward")
        XCTAssertTrue(approved.stdout.contains("APPROVED"), approved.stdout)
        let after = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(try rosterflow("courses", "list", "--integration", id, "--json").stdout.utf8)) as? [[String: Any]])
        let carried = try XCTUnwrap(after.first { $0["sourcedID"] as? String == "crs-2026-1" })
        XCTAssertEqual(carried["state"] as? String, "mapped")
        XCTAssertEqual(carried["baseID"] as? String, "BASE-crs-1")
    }
}
