import Foundation
import XCTest

/// The CLI on a PostgreSQL database (`--db postgres://…`): the same commands as on SQLite, `migrate` with the same
/// migration names, and `migrate-store` moving a SQLite installation over. Each test uses a schema of its own on the
/// server `ROSTERFLOW_TEST_POSTGRES` names (CI starts one; without it these tests are skipped).
final class PostgresCLITests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-pg-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func newDatabaseURL() throws -> String {
        let value = ProcessInfo.processInfo.environment["ROSTERFLOW_TEST_POSTGRES"] ?? ""
        guard !value.isEmpty else {
            throw XCTSkip("no PostgreSQL server: run `eval \"$(bash scripts/start-test-postgres)\"` first")
        }
        return value + (value.contains("?") ? "&" : "?") + "schema=cli_" + UUID().uuidString.prefix(8).lowercased()
    }

    @discardableResult
    private func rosterflow(
        _ arguments: String..., db: String, expect: Int32? = 0, file: StaticString = #filePath, line: UInt = #line
    ) throws -> CLITests.Result {
        let result = try Binary.run(
            arguments, environment: ["ROSTERFLOW_DB": db, "ROSTERFLOW_WORKFLOWS": CLITests.workflows], in: folder)
        if let expect {
            XCTAssertEqual(result.status, expect, "rosterflow \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        }
        return result
    }

    func testMigrateNamesTheSameMigrationsOnBothEngines() throws {
        let url = try newDatabaseURL()
        let sqlite = try rosterflow("migrate", "--json", db: folder + "/m.sqlite").json()
        let postgres = try rosterflow("migrate", "--json", db: url).json()
        XCTAssertEqual(sqlite["engine"] as? String, "SQLite")
        XCTAssertEqual(postgres["engine"] as? String, "PostgreSQL")
        let names = try XCTUnwrap(sqlite["migrations"] as? [String])
        XCTAssertGreaterThan(names.count, 20)
        XCTAssertEqual(postgres["migrations"] as? [String], names)
        // Running it again changes nothing.
        XCTAssertEqual(try rosterflow("migrate", "--json", db: url).json()["migrations"] as? [String], names)
    }

    func testTheDemoRunsOnPostgresAndTheURLIsPrintedWithoutItsPassword() throws {
        let url = try newDatabaseURL().replacingOccurrences(of: "postgres://rosterflow@", with: "postgres://rosterflow:hunter2@")
        let demo = try rosterflow("demo", db: url)
        XCTAssertTrue(demo.stdout.contains("locked"), demo.stdout)
        XCTAssertTrue(demo.stdout.contains("rosterflow:***@"), demo.stdout)
        XCTAssertFalse(demo.stdout.contains("hunter2") || demo.stderr.contains("hunter2"))
        let listed = try rosterflow("integrations", "list", "--json", db: url)
        XCTAssertTrue(listed.stdout.contains("demo-springfield"), listed.stdout)
    }

    func testMigrateStoreMovesAnInstallationVerifiedAndRefusesAFilledDatabase() throws {
        let sqlite = folder + "/demo.sqlite"
        try rosterflow("demo", db: sqlite)
        let url = try newDatabaseURL()
        let moved = try rosterflow("migrate-store", "--from", "sqlite:" + sqlite, "--to", url, "--json", db: sqlite).json()
        let tables = try XCTUnwrap(moved["tables"] as? [[String: Any]])
        let rows = Dictionary(uniqueKeysWithValues: tables.map { ($0["name"] as? String ?? "", $0["rows"] as? Int ?? -1) })
        XCTAssertGreaterThan(rows["transitions"] ?? 0, 5)
        XCTAssertGreaterThan(rows["outbox"] ?? 0, 0)
        XCTAssertEqual(rows["integrations"], 3)

        // What RosterFlow shows from the moved database is what it showed from the file.
        for command in [["integrations", "list", "--json"], ["tasks", "--json"], ["outbox", "list", "--json"]] {
            let before = try Binary.run(command, environment: ["ROSTERFLOW_DB": sqlite, "ROSTERFLOW_WORKFLOWS": CLITests.workflows], in: folder)
            let after = try Binary.run(command, environment: ["ROSTERFLOW_DB": url, "ROSTERFLOW_WORKFLOWS": CLITests.workflows], in: folder)
            XCTAssertEqual(after.status, 0, after.stderr)
            XCTAssertEqual(after.stdout, before.stdout, command.joined(separator: " "))
        }
        // New history continues after the copied rows: the demo's second walk appends transitions and audit rows,
        // which would collide with copied ones had the identity sequences not moved on.
        try rosterflow("demo", db: url)

        let again = try rosterflow("migrate-store", "--from", sqlite, "--to", url, db: sqlite, expect: nil)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already holds RosterFlow data"), again.stderr)
    }

    /// A rollover approved on SQLite (its enrollments' deletes applied as a range of held records: told by a row of
    /// `roster_history_sets`, which carries their adds, and read as a history row each) and a held run (its change
    /// set in blocks) read the same after `migrate-store` as before.
    func testMigrateStoreCarriesChangeSetBlocksAndHistoryWrittenAsSets() throws {
        let url = try newDatabaseURL()
        let sqlite = folder + "/rollover.sqlite"
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow("customers", "import", registry, db: sqlite)
        let id = try XCTUnwrap(try rosterflow(
            "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "full",
            "--contact", "it@springfield.example", "--json", db: sqlite).json()["id"] as? String)
        try rosterflow("integrations", "authenticate", id, db: sqlite)
        try rosterflow("integrations", "schedule", id, "--time", "02:00", "--timezone", "UTC", db: sqlite)
        let y2025 = folder + "/y2025", y2026 = folder + "/y2026"
        try rosterflow("sample-bundle", y2025, "--users", "120", "--classes", "16", "--enrollments", "400", "--seed", "5", db: sqlite)
        try rosterflow("sample-bundle", y2026, "--users", "120", "--classes", "16", "--enrollments", "400", "--seed", "5",
                       "--school-year", "2026", db: sqlite)
        try rosterflow("sync", "run", "--integration", id, "--bundle", y2025, db: sqlite)
        let rollover = try XCTUnwrap(try rosterflow("sync", "run", "--integration", id, "--bundle", y2026, "--json", db: sqlite)
            .json()["id"] as? String)
        try rosterflow("sync", "approve", rollover, db: sqlite)
        // Back to last year's export: held again, its change set kept for review.
        let held = try rosterflow("sync", "run", "--integration", id, "--bundle", y2025, "--json", db: sqlite).json()
        XCTAssertEqual(held["decision"] as? String, "held")
        let heldID = try XCTUnwrap(held["id"] as? String)
        // An enrollment of 2025 (added by the first sync, deleted by the rollover) and one of 2026.
        let enrollments = try String(contentsOfFile: y2025 + "/enrollments.csv", encoding: .utf8).split(separator: "\n")
        let ended = try XCTUnwrap(enrollments.dropFirst().first?.split(separator: ",").first.map(String.init))
        let commands = [
            ["roster", "history", ended, "--integration", id, "--json"],
            ["sync", "show", rollover, "--changes", "--limit", "10000", "--json"],
            ["sync", "show", heldID, "--changes", "--op", "delete", "--offset", "300", "--limit", "40", "--json"],
        ]
        let before = try commands.map { try run($0, db: sqlite).stdout }
        let history = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(before[0].utf8)) as? [[String: Any]])
        XCTAssertEqual(history.compactMap { $0["operation"] as? String }, ["add", "delete"], before[0])
        XCTAssertTrue(before[1].contains(ended), "the rollover's change set lists \(ended)")

        try rosterflow("migrate-store", "--from", sqlite, "--to", url, db: sqlite)
        for (command, expected) in zip(commands, before) {
            XCTAssertEqual(try run(command, db: url).stdout, expected, command.joined(separator: " "))
        }
    }

    private func run(_ arguments: [String], db: String) throws -> CLITests.Result {
        let result = try Binary.run(arguments, environment: ["ROSTERFLOW_DB": db, "ROSTERFLOW_WORKFLOWS": CLITests.workflows], in: folder)
        XCTAssertEqual(result.status, 0, "rosterflow \(arguments.joined(separator: " ")): \(result.stderr)")
        return result
    }
}
