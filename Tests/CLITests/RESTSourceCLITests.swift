import Foundation
import TestPeers
import StorageCore
import StorageSQLite
import XCTest

/// `scripts/peers/oneroster_provider.py` on loopback for the CLI tests, killed when the test ends.
final class LoopbackProvider {
    let process = Process()
    let port: Int
    let log: String
    static let secret = "cli-s3cret&x"

    init(_ arguments: [String], folder: String) throws {
        log = folder + "/provider-\(UUID().uuidString).jsonl"
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let python = root + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            XCTFail("\(python) is missing: run scripts/install-test-peers")
            throw XCTSkip("unreachable: failed above")
        }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root + "/scripts/peers/oneroster_provider.py", "--out", log, "--secret", Self.secret,
                             "--client-id", "district-7"] + arguments
        do {
            port = try ReadyPeer.start(process)
        } catch let failed as ReadyPeer.DidNotStart {
            XCTFail("the provider did not start: '\(failed.line)'")
            throw XCTSkip("unreachable: failed above")
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func requests() throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }
}

/// REST sources end to end: `integrations source --rest`, `sync run` and `sync due` pulling from the configured
/// provider, `validate --rest`.
extension CLITests {
    func testARESTSourceSyncsLikeABundleAndTheSecretIsNeverStoredOrShown() throws {
        let provider = try LoopbackProvider(["--users", "50", "--classes", "6"], folder: folder)
        let id = try scheduledIntegration()
        let configured = try rosterflow(
            "integrations", "source", id, "--rest", provider.url, "--version", "1.1", "--client-id", "district-7",
            "--secret-env", "DISTRICT7_SECRET", "--page-size", "10")
        XCTAssertTrue(configured.stdout.contains("syncs nightly from OneRoster 1.1 REST \(provider.url)/ims/oneroster/v1p1 (client district-7, OAuth 1.0a)"),
                      configured.stdout)

        // Without the secret in the environment the run is recorded as rejected and says which variable to set.
        let unset = try rosterflow(environment: [:], "sync", "run", "--integration", id, "--json", expect: 65)
        let unsetRun = try unset.json()
        XCTAssertEqual(unsetRun["decision"] as? String, "rejected")
        XCTAssertTrue("\(unsetRun["reasons"] ?? "")".contains("DISTRICT7_SECRET"), unset.stdout)

        let environment = ["DISTRICT7_SECRET": LoopbackProvider.secret]
        let run = try rosterflow(environment: environment, "sync", "run", "--integration", id, "--json").json()
        XCTAssertEqual(run["decision"] as? String, "applied", "\(run)")
        XCTAssertEqual(run["errorCount"] as? Int, 0)
        XCTAssertEqual(run["bundle"] as? String, "OneRoster 1.1 REST \(provider.url)/ims/oneroster/v1p1 (client district-7, OAuth 1.0a)")
        let counts = try XCTUnwrap(run["counts"] as? [String: [String: Any]])
        XCTAssertEqual(counts["users"]?["adds"] as? Int, 50)
        XCTAssertEqual(counts["enrollments"]?["adds"] as? Int, 6 + 44 * 2)
        let shown = try rosterflow("integrations", "show", id, "--json").json()
        XCTAssertEqual(shown["state"] as? String, "shells_created", "the first applied sync creates course shells, as a bundle's does")
        let store = try SQLiteStore(path: database)
        let (shells, source, audit) = try store.readNow { tx in
            (try tx.courses(integrationID: id).count, try tx.syncSource(integrationID: id) ?? "",
             try tx.auditRecords(integrationID: id).map { "\($0.before ?? "") \($0.after ?? "")" }.joined())
        }
        XCTAssertEqual(shells, 1)
        XCTAssertTrue(source.contains("DISTRICT7_SECRET"))
        let users = try provider.requests().filter { ($0["path"] as? String)?.hasSuffix("/users") == true }
        XCTAssertEqual(users.count, 5, "50 users in pages of 10")
        XCTAssertTrue(try provider.requests().allSatisfy { ($0["auth"] as? String) == "ok" || ($0["auth"] as? String) == nil })

        // The secret is nowhere in the database, nor in any output.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: database))
        XCTAssertNil(bytes.range(of: Data(LoopbackProvider.secret.utf8)))
        XCTAssertFalse(source.contains(LoopbackProvider.secret) || audit.contains(LoopbackProvider.secret))
        let list = try rosterflow("sync", "list", "--integration", id)
        XCTAssertFalse(list.stdout.contains(LoopbackProvider.secret))

        // The nightly run pulls the same source; nothing changed, so nothing is applied.
        try executeSQL("UPDATE integrations SET next_sync_at = \(Date().timeIntervalSince1970 - 60) WHERE id = '\(id)'")
        let due = try rosterflow(environment: environment, "sync", "due", "--json")
        let outcomes = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(due.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(outcomes.first?["decision"] as? String, "unchanged", due.stdout)
        XCTAssertEqual(try provider.requests().filter { ($0["path"] as? String)?.hasSuffix("/users") == true }.count, 10)
    }

    func testADeltaSourceAsksOnlyForWhatChangedSinceTheLastGoodPull() throws {
        let provider = try LoopbackProvider(["--users", "30", "--classes", "4"], folder: folder)
        let id = try scheduledIntegration()
        try rosterflow("integrations", "source", id, "--rest", provider.url, "--version", "1.1", "--client-id", "district-7",
                       "--secret-env", "DISTRICT7_SECRET", "--delta", "--overlap", "120")
        let environment = ["DISTRICT7_SECRET": LoopbackProvider.secret]
        let first = try rosterflow(environment: environment, "sync", "run", "--integration", id, "--json").json()
        XCTAssertEqual(first["decision"] as? String, "applied")
        let before = try provider.requests().count
        XCTAssertTrue(try provider.requests().allSatisfy { ($0["query"] as? [String: String])?["filter"] == nil },
                      "no successful pull yet: a full pull")

        let touch = try Binary.run(
            ["-c", "import sys, urllib.request; urllib.request.urlopen(sys.argv[1])",
             provider.url + "/control/touch?entity=users&sourcedId=s-4&field=givenName&value=Renamed"],
            in: folder, executable: provider.process.executableURL!.path)
        XCTAssertEqual(touch.status, 0)
        let second = try rosterflow(environment: environment, "sync", "run", "--integration", id, "--json").json()
        XCTAssertEqual(second["decision"] as? String, "applied", "\(second)")
        let counts = try XCTUnwrap(second["counts"] as? [String: [String: Any]])
        XCTAssertEqual(counts["users"]?["updates"] as? Int, 1)
        XCTAssertEqual(counts["users"]?["deletes"] as? Int, 0, "a delta pull deletes nothing by omission")
        XCTAssertEqual(counts["enrollments"]?["deletes"] as? Int, 0)
        let later = try provider.requests().dropFirst(before).filter { $0["method"] as? String == "GET" }
        XCTAssertFalse(later.isEmpty)
        for request in later {
            let filter = (request["query"] as? [String: String])?["filter"] ?? ""
            XCTAssertTrue(filter.hasPrefix("dateLastModified>'"), filter)
        }
    }

    /// A pull that fails after some collections were read applies nothing, records the run as rejected with the
    /// provider's message, and leaves the integration where it was.
    func testAPullThatFailsPartWayAppliesNothingAndIsRecorded() throws {
        let provider = try LoopbackProvider(["--fault", "error@enrollments:1:0"], folder: folder)
        let id = try scheduledIntegration()
        let both = try rosterflow("integrations", "source", id, "--bundle", folder, "--rest", provider.url, expect: 64)
        XCTAssertTrue(both.stderr.contains("either --bundle or --rest"), both.stderr)
        try rosterflow("integrations", "source", id, "--rest", provider.url, "--version", "1.1", "--client-id", "district-7",
                       "--secret-env", "DISTRICT7_SECRET")
        let run = try rosterflow(environment: ["DISTRICT7_SECRET": LoopbackProvider.secret], "sync", "run", "--integration", id,
                                 "--json", expect: 65).json()
        XCTAssertEqual(run["decision"] as? String, "rejected")
        let reasons = "\(run["reasons"] ?? "")"
        XCTAssertTrue(reasons.contains("the source could not be read") && reasons.contains("enrollments (page 1)")
            && reasons.contains("invalid_filter_field"), reasons)
        XCTAssertTrue(try provider.requests().contains { ($0["path"] as? String)?.hasSuffix("/users") == true },
                      "users were pulled before enrollments failed")
        let store = try SQLiteStore(path: database)
        let (records, runs, state) = try store.readNow { tx in
            (try tx.rosterRecords(integrationID: id).count, try tx.syncRuns(integrationID: id).map(\.decision.rawValue),
             try tx.instance(id: id)!.state)
        }
        XCTAssertEqual(records, 0, "nothing of the partial pull was applied")
        XCTAssertEqual(runs, ["rejected"])
        XCTAssertEqual(state, "scheduled")
    }

    /// Enrollments are checked and diffed page by page while later pages are pulled; a page that fails after some
    /// were diffed still applies nothing (the run is rejected and recorded).
    func testAPullThatFailsInTheMiddleOfTheEnrollmentsAppliesNothing() throws {
        let provider = try LoopbackProvider(["--users", "60", "--classes", "6", "--fault", "error@enrollments:4:0"], folder: folder)
        let id = try scheduledIntegration()
        try rosterflow("integrations", "source", id, "--rest", provider.url, "--version", "1.1", "--client-id", "district-7",
                       "--secret-env", "DISTRICT7_SECRET", "--page-size", "10")
        let run = try rosterflow(environment: ["DISTRICT7_SECRET": LoopbackProvider.secret], "sync", "run", "--integration", id,
                                 "--json", expect: 65).json()
        XCTAssertEqual(run["decision"] as? String, "rejected")
        let reasons = "\(run["reasons"] ?? "")"
        XCTAssertTrue(reasons.contains("enrollments (page 4)") && reasons.contains("invalid_filter_field"), reasons)
        let pages = try provider.requests().filter { ($0["path"] as? String)?.hasSuffix("/enrollments") == true }
        XCTAssertEqual(pages.count, 4, "pages 1 to 3 were pulled (and checked) before page 4 failed")
        let store = try SQLiteStore(path: database)
        let (records, runs) = try store.readNow { tx in
            (try tx.rosterRecords(integrationID: id).count, try tx.syncRuns(integrationID: id).map(\.decision.rawValue))
        }
        XCTAssertEqual(records, 0, "nothing of the partial pull was applied, not even the users")
        XCTAssertEqual(runs, ["rejected"])
    }

    /// A later page that repeats an enrollment already diffed, modified since: the sync drops what it diffed, pulls
    /// again (holding enrollments back until their last page) and applies each enrollment once, the newer copy.
    func testAnEnrollmentThatComesAgainNewerIsAppliedOnce() throws {
        // 6 teachers + 54 students × 2 = 114 enrollments: the 12th page of 10 is the last.
        let provider = try LoopbackProvider(["--users", "60", "--classes", "6", "--fault", "repeat@enrollments:12:0"], folder: folder)
        let id = try scheduledIntegration()
        try rosterflow("integrations", "source", id, "--rest", provider.url, "--version", "1.1", "--client-id", "district-7",
                       "--secret-env", "DISTRICT7_SECRET", "--page-size", "10")
        let run = try rosterflow(environment: ["DISTRICT7_SECRET": LoopbackProvider.secret], "sync", "run", "--integration", id,
                                 "--json").json()
        XCTAssertEqual(run["decision"] as? String, "applied", "\(run)")
        XCTAssertEqual(run["errorCount"] as? Int, 0)
        let counts = try XCTUnwrap(run["counts"] as? [String: [String: Any]])
        XCTAssertEqual(counts["enrollments"]?["adds"] as? Int, 114)
        XCTAssertEqual(counts["enrollments"]?["incoming"] as? Int, 114)
        let pages = try provider.requests().filter { ($0["path"] as? String)?.hasSuffix("/enrollments") == true }
        XCTAssertEqual(pages.count, 24, "the enrollments were pulled twice")
        let store = try SQLiteStore(path: database)
        let enrollments = try store.readNow { tx in try tx.rosterRecords(integrationID: id, entity: "enrollments") }
        XCTAssertEqual(enrollments.count, 114)
        XCTAssertEqual(enrollments.filter { $0.sourcedID == "enr-t-1" }.count, 1)
    }

    func testValidateRESTChecksAProviderWithoutStoringAnything() throws {
        let provider = try LoopbackProvider(["--version", "1.2", "--auth", "oauth2", "--users", "40", "--quirks"], folder: folder)
        let environment = ["DISTRICT7_SECRET": LoopbackProvider.secret]
        let arguments = ["validate", "--rest", provider.url, "--version", "1.2", "--client-id", "district-7",
                         "--token-url", provider.url + "/token", "--secret-env", "DISTRICT7_SECRET", "--page-size", "15"]
        let checked = try Binary.run(arguments, environment: environment, in: folder)
        XCTAssertEqual(checked.status, 0, checked.stderr)
        XCTAssertTrue(checked.stdout.contains("0 errors"), checked.stdout)
        XCTAssertTrue(checked.stdout.contains("record t-1 of users, page 1"), checked.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: database), "nothing stored")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/rosterflow.sqlite"))

        let missing = try Binary.run(arguments + ["--json"], environment: ["DISTRICT7_SECRET": nil], in: folder)
        XCTAssertEqual(missing.status, 64, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("DISTRICT7_SECRET"), missing.stderr)

        let wrong = try Binary.run(arguments, environment: ["DISTRICT7_SECRET": "not-it"], in: folder)
        XCTAssertEqual(wrong.status, 69, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains("check the client id district-7") && !wrong.stderr.contains("not-it"), wrong.stderr)

        let noProvider = try Binary.run(
            ["validate", "--rest", "http://127.0.0.1:9", "--version", "1.1", "--client-id", "x", "--secret-env", "DISTRICT7_SECRET"],
            environment: environment, in: folder)
        XCTAssertEqual(noProvider.status, 69, noProvider.stderr)
        XCTAssertTrue(noProvider.stderr.contains("no answer from http://127.0.0.1:9/ims/oneroster/v1p1/orgs"), noProvider.stderr)
    }
}

extension CLITests {
    /// `rosterflow-bench rest` runs small: a pull from the loopback provider and the CSV sync of the same records agree.
    func testRESTBenchmarkSyncsThePulledDistrictAndItsBundle() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let result = try rosterflowBench(
            "rest", "--users", "300", "--classes", "10", "--enrollments-per-student", "2", "--page-size", "50", "--latencies", "0",
            "--provider", root + "/scripts/peers/oneroster_provider.py", "--workflows", Self.workflows, "--dir", folder + "/rest",
            "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let runs = try XCTUnwrap(try result.json()["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 2)
        XCTAssertEqual(runs.map { $0["decision"] as? String }, ["applied", "applied"])
        XCTAssertEqual(runs.map { $0["users"] as? Int }, [300, 300])
        XCTAssertEqual(runs.map { $0["enrollments"] as? Int }, [10 + 290 * 2, 10 + 290 * 2])
        XCTAssertEqual(runs.first?["requests"] as? Int, 4 + 6 + 12,
                       "one page each of orgs, sessions, courses and classes; 300 users in 6 pages, 590 enrollments in 12")
        XCTAssertGreaterThan(runs.first?["waitingSeconds"] as? Double ?? 0, 0)
        XCTAssertTrue(runs.allSatisfy { ($0["cpuSeconds"] as? Double ?? 0) > 0 }, "each run reports the CPU its sync took")
    }
}
