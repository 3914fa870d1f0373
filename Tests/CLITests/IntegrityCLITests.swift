import Foundation
import XCTest

/// Per-integration records, the registry check on authentication, and the smaller CLI defects of issue 9, end to end.
extension CLITests {
    /// Runs the binary like `rosterflow(...)`, with `environment` changes (nil removes a variable).
    @discardableResult
    func rosterflow(environment changes: [String: String?], _ arguments: String..., expect: Int32,
                    file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        var environment: [String: String?] = ["ROSTERFLOW_DB": database, "ROSTERFLOW_WORKFLOWS": Self.workflows]
        for (key, value) in changes { environment[key] = value }
        let result = try Binary.run(arguments, environment: environment, in: folder)
        XCTAssertEqual(result.status, expect, "rosterflow \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        return result
    }

    func importRegistry(_ rows: String) throws {
        let registry = folder + "/customers-\(UUID().uuidString).csv"
        try ("tenant_id,district,contact_email\n" + rows).write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow("customers", "import", registry)
    }

    func requestIntegration(tenant: String, district: String, contact: String) throws -> String {
        try XCTUnwrap(try rosterflow(
            "integrations", "request", "--tenant", tenant, "--district", district, "--permission", "full", "--contact", contact,
            "--json").json()["id"] as? String)
    }

    func testWorkflowCommandsReadROSTERFLOWWORKFLOWSAndAMissingFolderIsNotFound() throws {
        // The test's working folder has no ./Workflows: only the environment says where they are.
        XCTAssertTrue(try rosterflow("workflows", "validate").stdout.hasPrefix("ok: class-import@2 (5 states), course-mapping@3"))
        XCTAssertTrue(try rosterflow("workflows", "graph", "integration").stdout.contains("needs_review"))
        let missing = try rosterflow(environment: ["ROSTERFLOW_WORKFLOWS": folder + "/nowhere"], "workflows", "validate", expect: 66)
        XCTAssertTrue(missing.stderr.contains("there are no workflow definitions at \(folder!)/nowhere (from ROSTERFLOW_WORKFLOWS)"),
                      missing.stderr)
        let json = try rosterflow("workflows", "validate", folder + "/nowhere", "--json", expect: 66).json()
        XCTAssertEqual(json["code"] as? String, "not-found")
        try rosterflow("workflows", "graph", "integration", "--workflows", folder + "/nowhere", expect: 66)
        try rosterflow(environment: ["ROSTERFLOW_WORKFLOWS": nil], "workflows", "validate", expect: 66)
        // Commands that open the database say the same of a missing folder.
        try rosterflow(environment: ["ROSTERFLOW_WORKFLOWS": folder + "/nowhere"], "integrations", "list", expect: 66)
    }

    func testUnknownIdsAreNotFound() throws {
        for arguments in [["integrations", "policy", "int_nope"], ["courses", "list", "--integration", "int_nope"],
                          ["tasks", "--integration", "int_nope"], ["roster", "history", "stu-nobody"],
                          ["sync", "parked", "--integration", "int_nope"]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = arguments + ["--db", database, "--workflows", Self.workflows]
            process.standardOutput = FileHandle.nullDevice
            let err = Pipe()
            process.standardError = err
            try process.run()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 66, "\(arguments.joined(separator: " ")): \(stderr)")
            XCTAssertTrue(stderr.hasPrefix("error: "), stderr)
        }
    }

    func testArgumentErrorsWithJSONPrintTheJSONErrorAndExit64() throws {
        let missing = try rosterflow("sync", "run", "--bundle", "b.zip", "--json", expect: 64)
        let json = try missing.json()
        XCTAssertEqual(json["code"] as? String, "invalid-input")
        XCTAssertEqual(json["cause"] as? String, "arguments")
        XCTAssertTrue((json["error"] as? String)?.contains("--integration") ?? false, missing.stdout)
        let unknown = try rosterflow("tasks", "--json", "--bogus", expect: 64).json()
        XCTAssertTrue((unknown["error"] as? String)?.contains("--bogus") ?? false, "\(unknown)")
        let validation = try rosterflow("integrations", "authenticate", "int_x", "--confirm-mismatch", "--json", expect: 64).json()
        XCTAssertTrue((validation["error"] as? String)?.contains("--reason") ?? false, "\(validation)")
        // Without --json, no JSON on stdout.
        XCTAssertEqual(try rosterflow("tasks", "--bogus", expect: 64).stdout, "")
    }

    func testACutOffZipIsSaidInPlainWords() throws {
        let zip = folder + "/district.zip"
        try rosterflow("sample-bundle", zip, "--users", "50", "--classes", "4", "--enrollments", "100")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: zip))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: zip))
        let result = try rosterflow("validate", zip, expect: 64)
        XCTAssertTrue(result.stderr.contains("the .zip is cut off or not a zip file"), result.stderr)
        XCTAssertTrue(result.stderr.contains("re-download"), result.stderr)
        XCTAssertFalse(result.stderr.contains("missingEndOfCentralDirectoryRecord"), result.stderr)
    }

    func testTheREADMEsOutboxStatusesAreTheOnesTheCLIAccepts() throws {
        let readme = try String(contentsOfFile: URL(fileURLWithPath: Self.workflows).deletingLastPathComponent().path + "/README.md",
                                encoding: .utf8)
        let line = try XCTUnwrap(readme.split(separator: "\n").first { $0.hasPrefix("rosterflow outbox list [--status ") })
        let listed = line.split(separator: "[--status ")[1].prefix { $0 != "]" }.split(separator: "|").map(String.init)
        XCTAssertEqual(Set(listed), ["pending", "queued", "sent", "failed", "dead", "skipped"])
        for status in listed { try rosterflow("outbox", "list", "--status", status) }
        let retrying = try rosterflow("outbox", "list", "--status", "retrying", expect: 64)
        XCTAssertTrue(retrying.stderr.contains("pending, queued, sent, failed, dead, skipped"), retrying.stderr)
        // The exit-code table lists 65, which `validate` and `sync run` use for a rejected bundle.
        XCTAssertTrue(readme.contains("| 65 |"))
    }

    func testAuthenticationHoldsAMismatchForTheVendorAdminWithBothRecords() throws {
        try importRegistry("t1,Springfield USD,it@springfield.example\n")
        let id = try requestIntegration(tenant: "t1", district: "Shelbyville USD", contact: "it@springfield.example")
        let held = try rosterflow("integrations", "authenticate", id)
        XCTAssertTrue(held.stdout.contains("requested → needs_review"), held.stdout)
        XCTAssertTrue(held.stdout.contains("Shelbyville USD") && held.stdout.contains("Springfield USD"), held.stdout)
        XCTAssertTrue(held.stdout.contains("--confirm-mismatch"), held.stdout)
        let shown = try rosterflow("integrations", "show", id).stdout
        XCTAssertTrue(shown.contains("customer registry check:"), shown)
        XCTAssertTrue(shown.contains("the district is 'Shelbyville USD' in the request but 'Springfield USD' in the registry"), shown)
        let shownJSON = try rosterflow("integrations", "show", id, "--json").json()
        let check = try XCTUnwrap(shownJSON["registryCheck"] as? [String: Any])
        XCTAssertEqual((check["registry"] as? [String: Any])?["district"] as? String, "Springfield USD")
        let tasks = try rosterflow("tasks", "--integration", id).stdout
        XCTAssertTrue(tasks.contains("Compare the request of Shelbyville USD"), tasks)
        XCTAssertTrue(tasks.contains("! the district is 'Shelbyville USD' in the request but 'Springfield USD' in the registry"), tasks)

        try rosterflow("integrations", "authenticate", id, "--confirm-mismatch", expect: 64)
        try rosterflow("integrations", "authenticate", id, expect: 3)  // still differs
        let confirmed = try rosterflow("integrations", "authenticate", id, "--confirm-mismatch", "--reason", "renamed district")
        XCTAssertTrue(confirmed.stdout.contains("needs_review → authenticated on 'confirm_customer'"), confirmed.stdout)
        XCTAssertTrue(confirmed.stdout.contains("renamed district"), confirmed.stdout)

        // The exact match goes straight through.
        try importRegistry("t2,Ogdenville ISD,it@ogdenville.example\n")
        let exact = try requestIntegration(tenant: "t2", district: "Ogdenville Independent School District", contact: "ops@ogdenville.example")
        XCTAssertTrue(try rosterflow("integrations", "authenticate", exact).stdout.contains("requested → authenticated"))
    }

    func testRosterHistoryNeedsTheIntegrationWhenSeveralHaveTheIdAndParkedDeletesShowAsParked() throws {
        try importRegistry("t1,Springfield USD,it@springfield.example\nt2,Shelbyville USD,it@shelbyville.example\n")
        var ids: [String] = []
        for (index, (tenant, district, contact)) in [("t1", "Springfield USD", "it@springfield.example"),
                                                     ("t2", "Shelbyville USD", "it@shelbyville.example")].enumerated() {
            let id = try requestIntegration(tenant: tenant, district: district, contact: contact)
            try rosterflow("integrations", "authenticate", id)
            try rosterflow("integrations", "schedule", id, "--time", "02:00", "--timezone", "UTC")
            let bundle = folder + "/b\(index)"
            try rosterflow("sample-bundle", bundle, "--users", "60", "--classes", "4", "--enrollments", "200", "--seed", "\(index + 3)")
            try rosterflow("sync", "run", "--integration", id, "--bundle", bundle)
            ids.append(id)
        }
        let ambiguous = try rosterflow("roster", "history", "stu-0000001", expect: 64)
        XCTAssertTrue(ambiguous.stderr.contains(ids[0]) && ambiguous.stderr.contains(ids[1]), ambiguous.stderr)
        XCTAssertTrue(ambiguous.stderr.contains("--integration"), ambiguous.stderr)
        let one = try rosterflow("roster", "history", "stu-0000001", "--integration", ids[1], "--json")
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.compactMap { $0["integrationID"] as? String }, [ids[1]])

        // Approved without its deletes, a run shows them parked, not applied.
        let cut = folder + "/cut"
        try FileManager.default.copyItem(atPath: folder + "/b1", toPath: cut)
        let enrollments = try String(contentsOfFile: cut + "/enrollments.csv", encoding: .utf8).split(separator: "\n")
        try (enrollments.prefix(1 + 100).joined(separator: "\n") + "\n").write(toFile: cut + "/enrollments.csv", atomically: true, encoding: .utf8)
        let held = try rosterflow("sync", "run", "--integration", ids[1], "--bundle", cut, "--json").json()
        XCTAssertEqual(held["decision"] as? String, "held")
        let run = try XCTUnwrap(held["id"] as? String)
        let approved = try rosterflow("sync", "approve", run, "--without-deletes").stdout
        XCTAssertTrue(approved.contains("parked deletes (records kept, not deleted): enrollments 100"), approved)
        XCTAssertFalse(approved.contains("     100\n"), "no 100 in the deletes column:\n\(approved)")
        XCTAssertTrue(try rosterflow("sync", "list", "--integration", ids[1]).stdout.contains("-0 (100 deletes parked)"))
        XCTAssertEqual(try rosterflow("sync", "parked", "--integration", ids[1]).stdout.split(separator: "\n").count, 100)
        let again = try rosterflow("sync", "run", "--integration", ids[1], "--bundle", cut, "--json").json()
        XCTAssertEqual(again["decision"] as? String, "unchanged", "the same export is not held again")
    }
}
