import Foundation
import XCTest

/// `rosterflow-bench`, the tooling that left the product: each benchmark runs small and reports its figures, and the
/// `rosterflow` binary no longer has `bench` or `load`.
extension CLITests {
    /// Runs `rosterflow-bench` in the test's folder; returns its exit status, stdout and stderr.
    func rosterflowBench(_ arguments: String..., environment extra: [String: String] = [:]) throws -> Result {
        try Binary.run(arguments, environment: extra, in: folder, executable: Self.benchBinary)
    }

    func testTheProductHasNoBenchmarksOrLoadGenerator() throws {
        for result in [try rosterflow("bench", "engine", expect: 64), try rosterflow("load", expect: 64)] {
            XCTAssertTrue(result.stderr.lowercased().contains("unexpected argument"), result.stderr)
        }
        XCTAssertFalse(try rosterflow("--help").stdout.contains("bench"))
    }

    func testEngineBenchmarkMeasuresTheFloorAndTheEngine() throws {
        let result = try rosterflowBench(
            "engine", "--instances", "100", "--per-event-instances", "10", "--concurrency", "8", "--workflows", Self.workflows,
            "--dir", folder + "/engine", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try result.json()
        for key in ["fsyncPerSecond", "rawFloorTransitionsPerSecond", "perEventTransitionsPerSecond",
                    "groupCommitFullTransitionsPerSecond", "groupCommitTransitionsPerSecond"] {
            XCTAssertGreaterThan(report[key] as? Double ?? 0, 0, key)
        }
    }

    func testSyncBenchmarkSyncsAGeneratedDistrictThreeWays() throws {
        let result = try rosterflowBench(
            "sync", "--users", "300", "--classes", "10", "--enrollments", "900", "--workflows", Self.workflows,
            "--dir", folder + "/sync", "--json", environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try result.json()
        XCTAssertEqual(report["firstDecision"] as? String, "applied")
        XCTAssertEqual(report["secondDecision"] as? String, "unchanged")
        XCTAssertEqual(report["rolloverDecision"] as? String, "held", "the next school year is held for review")
        XCTAssertEqual(report["rolloverApproveDecision"] as? String, "approved")
        XCTAssertGreaterThan(report["carriedForward"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(report["importFloorSeconds"] as? Double ?? 0, 0)
        XCTAssertTrue(result.stderr.contains("sync: read + validate + diff"), "the phases are logged at debug: \(result.stderr)")
    }

    func testCSVComparisonReadsTheSameRowsWithBothParsers() throws {
        let result = try rosterflowBench(
            "csv", "--users", "1000", "--classes", "40", "--enrollments", "3000", "--dir", folder + "/csv", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try result.json()
        let ours = try XCTUnwrap(report["ours"] as? [String: Any]), peer = try XCTUnwrap(report["yaslab"] as? [String: Any])
        // The generated district's enrollments file, kept in the folder given: every data row, read by both.
        let rows = try String(contentsOfFile: folder + "/csv/district/enrollments.csv", encoding: .utf8)
            .split(separator: "\n").count - 1
        XCTAssertGreaterThan(rows, 1000)
        XCTAssertEqual(ours["rows"] as? Int, rows)
        XCTAssertEqual(peer["rows"] as? Int, rows)
        XCTAssertGreaterThan(ours["seconds"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(peer["seconds"] as? Double ?? 0, 0)
    }

    func testSignComparisonChecksTheWaysAgreeAndTimesEach() throws {
        let result = try rosterflowBench("sign", "--count", "2000", "--repetitions", "1", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try result.json()
        XCTAssertEqual(report["count"] as? Int, 2000)
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 2)
        for row in rows { XCTAssertGreaterThan(row["signaturesPerSecond"] as? Double ?? 0, 0, "\(row)") }
    }

    func testTheLogLevelComesFromTheEnvironment() throws {
        let id = try scheduledIntegration()
        let bundle = folder + "/district"
        try rosterflow("sample-bundle", bundle, "--users", "50", "--classes", "4", "--enrollments", "100")
        let quiet = try rosterflow("sync", "run", "--integration", id, "--bundle", bundle)
        XCTAssertFalse(quiet.stderr.contains("sync: "), "phases are debug messages: \(quiet.stderr)")
        let traced = try rosterflow(environment: ["ROSTERFLOW_LOG_LEVEL": "DEBUG"], "sync", "run", "--integration", id, "--bundle", bundle)
        XCTAssertTrue(traced.stderr.contains("rosterflow.sync"), traced.stderr)
        XCTAssertTrue(traced.stderr.contains("sync: fingerprint"), traced.stderr)

        let bad = try rosterflow(environment: ["ROSTERFLOW_LOG_LEVEL": "loud"], "customers", "list", "--json", expect: 64)
        XCTAssertTrue(bad.stderr.contains("ROSTERFLOW_LOG_LEVEL is 'loud': use one of trace, debug, info"), bad.stderr)
        XCTAssertEqual(try bad.json()["code"] as? String, "invalid-input")
    }
}
