import Foundation
import XCTest

/// The input limits' environment knobs through the real `rosterflow` binary.
final class InputLimitsCLITests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-cli-limits-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    func rosterflow(_ arguments: [String], env: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        var changes: [String: String?] = ["ROSTERFLOW_DB": folder + "/cli.sqlite", "TMPDIR": folder]
        for (key, value) in env { changes[key] = value }
        let result = try Binary.run(arguments, environment: changes, in: folder)
        return (result.status, result.stdout, result.stderr)
    }

    func testZipCapsAreSetFromTheEnvironmentAndBadValuesAreSaid() throws {
        let zip = folder + "/district.zip"
        XCTAssertEqual(try rosterflow(["sample-bundle", zip, "--users", "2000", "--classes", "40", "--enrollments", "40000"]).status, 0)
        XCTAssertEqual(try rosterflow(["validate", zip]).status, 0, "fits the defaults")
        let capped = try rosterflow(["validate", zip], env: ["ROSTERFLOW_MAX_ZIP_ENTRY_MB": "1"])
        XCTAssertEqual(capped.status, 64, capped.stderr)
        XCTAssertTrue(capped.stderr.contains("enrollments.csv declares more than 1 MiB uncompressed"), capped.stderr)
        XCTAssertTrue(capped.stderr.contains("ROSTERFLOW_MAX_ZIP_ENTRY_MB"), capped.stderr)
        let typo = try rosterflow(["validate", zip], env: ["ROSTERFLOW_MAX_ZIP_RATIO": "lots"])
        XCTAssertEqual(typo.status, 0, typo.stderr)
        XCTAssertTrue(typo.stderr.contains("warning: ROSTERFLOW_MAX_ZIP_RATIO is `lots`, which is not a positive whole number"), typo.stderr)
        // Nothing extracted is left behind in the temporary folder.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("rosterflow-bundle-") }, [])
    }

    func testInterruptedValidateRemovesItsExtractionFolder() throws {
        let zip = folder + "/district.zip"
        XCTAssertEqual(try rosterflow(["sample-bundle", zip, "--users", "10000", "--classes", "200", "--enrollments", "200000"]).status, 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLITests.binary)
        process.arguments = ["validate", zip]
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = folder
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        func extracted() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("rosterflow-bundle-") }
        }
        // Wait until its extraction folder holds enrollments.csv (the read is under way), then interrupt it.
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning, Date() < deadline,
              !(extracted().first.map { FileManager.default.fileExists(atPath: folder + "/" + $0 + "/bundle/enrollments.csv") } ?? false) {
            usleep(2_000)
        }
        XCTAssertTrue(process.isRunning, "validate ended before it could be interrupted; make the bundle bigger")
        XCTAssertEqual(extracted().count, 1)
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(process.terminationStatus, SIGINT)
        XCTAssertEqual(extracted(), [], "the interrupted read removed its folder")
    }
}
