import Foundation
import StorageCore
import StorageSQLite
import XCTest

/// Commands and exit codes no other test checks: 4, 5 and 74, `--expect-version`, `validate`, `sync run|show|list|
/// reject|due` output, `timers fire`, `templates check|preview`.
extension CLITests {
    func testExitCodesForStaleConflictAndStorageErrors() throws {
        let id = try scheduledIntegration()
        let version = try XCTUnwrap(try rosterflow("integrations", "show", id, "--json").json()["rowVersion"] as? Int)
        let stale = try rosterflow("integrations", "advance", id, "hold", "--as", "vendor-admin", "--expect-version",
                                   "\(version - 1)", "--json", expect: 4)
        XCTAssertEqual(try stale.json()["code"] as? String, "stale-instance")
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["state"] as? String, "scheduled",
                       "nothing was applied")
        try rosterflow("integrations", "advance", id, "hold", "--as", "vendor-admin", "--expect-version", "\(version)")
        try rosterflow("integrations", "advance", id, "resume", "--as", "vendor-admin")

        try rosterflow("courses", "add", "--integration", id, "--sourced-id", "crs-1", "--title", "Algebra I")
        let duplicate = try rosterflow("courses", "add", "--integration", id, "--sourced-id", "crs-1", "--title", "Algebra I",
                                       expect: 5)
        XCTAssertTrue(duplicate.stderr.contains("course crs-1 already has a shell"), duplicate.stderr)

        let notADatabase = folder + "/notes.sqlite"
        try "these are notes, not a database".write(toFile: notADatabase, atomically: true, encoding: .utf8)
        let storage = try rosterflow("integrations", "list", "--db", notADatabase, "--json", expect: 74)
        XCTAssertTrue(storage.stderr.contains("cannot open the database at \(notADatabase)"), storage.stderr)
        XCTAssertEqual(try storage.json()["code"] as? String, "storage")
        XCTAssertEqual(try String(contentsOfFile: notADatabase, encoding: .utf8), "these are notes, not a database",
                       "a file that is not a database is left alone")
    }

    func testValidateSyncCommandsTimersAndTemplatesSayWhatTheyDid() throws {
        let good = folder + "/good", bad = folder + "/bad"
        try rosterflow("sample-bundle", good, "--users", "100", "--classes", "5", "--enrollments", "300")
        try FileManager.default.copyItem(atPath: good, toPath: bad)
        let users = try String(contentsOfFile: bad + "/users.csv", encoding: .utf8).split(separator: "\n")
        try (users.prefix(users.count - 30).joined(separator: "\n") + "\n").write(toFile: bad + "/users.csv", atomically: true, encoding: .utf8)

        XCTAssertTrue(try rosterflow("validate", good).stdout.contains("0 errors"))
        let report = try rosterflow("validate", bad, "--json", expect: 65).json()
        XCTAssertGreaterThan(report["errorCount"] as? Int ?? (report["totals"] as? [String: Any])?["errors"] as? Int ?? 0, 0, "\(report.keys)")
        try rosterflow("validate", folder + "/missing", expect: 64)

        let id = try scheduledIntegration()
        let applied = try rosterflow("sync", "run", "--integration", id, "--bundle", good)
        XCTAssertTrue(applied.stdout.hasPrefix("sync run_"), applied.stdout)
        XCTAssertTrue(applied.stdout.contains(": APPLIED  (\(good))"), applied.stdout)
        XCTAssertTrue(applied.stdout.contains("→ shells_created"), applied.stdout)
        let runID = String(applied.stdout.dropFirst(5).prefix { $0 != " " })
        XCTAssertTrue(try rosterflow("sync", "show", runID).stdout.contains("APPLIED"))
        XCTAssertTrue(try rosterflow("sync", "list", "--integration", id).stdout.contains("\(runID)\t"))
        try rosterflow("sync", "show", "run_missing", expect: 66)
        try rosterflow("sync", "reject", runID, expect: 3)

        // A held run is rejected: nothing applied, the integration resumes.
        let held = try rosterflow("sync", "run", "--integration", id, "--bundle", bad, "--max-update-share", "1", "--json").json()
        XCTAssertEqual(held["decision"] as? String, "held")
        let heldID = try XCTUnwrap(held["id"] as? String)
        let rejected = try rosterflow("sync", "reject", heldID)
        XCTAssertTrue(rejected.stdout.contains("DROPPED"), rejected.stdout)
        XCTAssertTrue(rejected.stdout.contains("on_hold → shells_created"), rejected.stdout)

        // `sync due` runs the configured source once it is due, and moves the schedule on.
        XCTAssertEqual(try rosterflow("sync", "due").stdout, "no sync is due\n")
        try rosterflow("integrations", "source", id, "--bundle", good)
        try executeSQL("UPDATE integrations SET next_sync_at = \(Date().timeIntervalSince1970 - 60) WHERE id = '\(id)'")
        let due = try rosterflow("sync", "due", "--json")
        let outcomes = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(due.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(outcomes.count, 1)
        XCTAssertEqual(outcomes.first?["decision"] as? String, "unchanged")
        XCTAssertNil(outcomes.first?["alert"] as? String)
        XCTAssertEqual(try rosterflow("sync", "due").stdout, "no sync is due\n", "it ran once")

        XCTAssertEqual(try rosterflow("timers", "fire").stdout, "no timer is due\n")
        let environment = ["ROSTERFLOW_TEMPLATES": Self.workflows.replacingOccurrences(of: "/Workflows", with: "/Templates")]
        let check = try rosterflow(environment: environment, "templates", "check")
        let templates = try FileManager.default.contentsOfDirectory(atPath: environment["ROSTERFLOW_TEMPLATES"]!)
            .filter { $0.hasSuffix(".subject.mustache") }.count
        XCTAssertTrue(check.stdout.hasPrefix("ok: \(templates) templates"), check.stdout)
        let preview = try rosterflow(environment: environment, "templates", "preview", "sync-time-needed", "--integration", id)
        XCTAssertTrue(preview.stdout.contains("Springfield USD"), preview.stdout)
        try rosterflow(environment: environment, "templates", "preview", "no-such-template", "--integration", id, expect: 66)
    }
}
