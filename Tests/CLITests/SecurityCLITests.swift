import Foundation
import XCTest

/// `rosterflow` against hostile values and careless setups: private files, doctor, the audit log, credentials in clear,
/// control characters on the terminal, secrets kept out of output and the database.
final class SecurityCLITests: WorkerHarness {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    func call(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        let result = try Binary.run(arguments, environment: self.environment(environment), in: folder)
        return Outcome(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    func mode(_ path: String) throws -> Int {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, path)
    }

    func testFilesThatTheCLICreatesArePrivateWhateverTheUmask() throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        _ = try requestOne()
        for file in [database, database + "-wal", database + "-shm"] where FileManager.default.fileExists(atPath: file) {
            XCTAssertEqual(try mode(file), 0o600, file)
        }
        // Anything else the process writes goes through its umask, which the CLI makes at least 077.
        try run("sample-bundle", folder + "/bundle", "--users", "10", "--classes", "2", "--enrollments", "20")
        XCTAssertEqual(try mode(folder + "/bundle"), 0o700)
        XCTAssertEqual(try mode(folder + "/bundle/users.csv"), 0o600)
        // The worker's spool: a private folder of private files.
        try run("worker", "--once")
        XCTAssertEqual(try mode(spool), 0o700)
        let mail = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".eml") }
        XCTAssertFalse(mail.isEmpty)
        for file in mail { XCTAssertEqual(try mode(spool + "/" + file), 0o600, file) }
    }

    func testDoctorReportsADatabaseOthersCanReadWithTheFixAndSaysSoInItsExitCode() throws {
        _ = try requestOne()
        try run("worker", "--once")
        let clean = try call(["doctor"])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("no problems"), clean.stdout)

        chmod(database, 0o644)
        chmod(spool, 0o755)
        let found = try call(["doctor"])
        XCTAssertEqual(found.status, 1, found.stdout + found.stderr)
        XCTAssertTrue(found.stdout.contains("\(database) (mode 0644): others can read the database"), found.stdout)
        XCTAssertTrue(found.stdout.contains("fix: chmod 600 \(database)"), found.stdout)
        XCTAssertTrue(found.stdout.contains("fix: chmod 700 \(spool)"), found.stdout)
        let json = try call(["doctor", "--json"])
        XCTAssertEqual(json.status, 1)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let problems = try XCTUnwrap(report["problems"] as? [[String: Any]])
        XCTAssertEqual(Set(problems.compactMap { $0["path"] as? String }), [database, spool])

        // The worker says so at start too, and still runs.
        let worker = try call(["worker", "--once"])
        XCTAssertEqual(worker.status, 0)
        XCTAssertTrue(worker.stderr.contains("chmod 600 \(database)"), worker.stderr)

        chmod(database, 0o600)
        chmod(spool, 0o700)
        XCTAssertEqual(try call(["doctor"]).status, 0)
    }

    func testAuditShowsWhoChangedThePolicySourceRegistryAndRetries() throws {
        let message = try requestOne()
        let list = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try run("integrations", "list", "--json").utf8)) as? [[String: Any]])
        let id = try XCTUnwrap(list.first?["id"] as? String)
        try run("integrations", "policy", id, "--max-delete-share", "1.0", "--actor", "cli:ana")
        try run("integrations", "source", id, "--bundle", folder, "--actor", "cli:bo")
        // Nothing to retry is not a change; a skipped delivery going back to pending is.
        XCTAssertTrue(try run("outbox", "retry", message, "--actor", "cli:cy").contains("nothing to retry"))
        let noAddress = folder + "/no-address.json"
        try #"{"spool": "\#(spool)", "from": "RosterFlow <notify@rosterflow.test>"}"#.write(toFile: noAddress, atomically: true, encoding: .utf8)
        let worker = try call(["worker", "--once"], environment: ["ROSTERFLOW_CONFIG": noAddress])
        XCTAssertTrue(worker.stdout.contains("skipped 1"), worker.stdout + worker.stderr)
        try run("outbox", "retry", message, "--actor", "cli:cy")

        let text = try run("audit", "--integration", id)
        XCTAssertTrue(text.contains("cli:ana  integration-policy  \(id)\n    maxDeleteShare: 0.1 → 1"), text)
        XCTAssertTrue(text.contains("cli:bo  integration-source  \(id)\n    source: (none) → \(folder!)"), text)
        XCTAssertTrue(text.contains("cli:cy  outbox-retry  \(message)"), text)
        XCTAssertTrue(text.contains("\(message)/email: skipped after 1 attempt → pending"), text)
        let all = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try run("audit", "--json").utf8)) as? [[String: Any]])
        XCTAssertEqual(all.map { $0["action"] as? String }, ["customer-import", "integration-policy", "integration-source", "outbox-retry"])
        XCTAssertEqual(all.first?["subject"] as? String, "t1")
        let unknown = try call(["audit", "--integration", "int_nope"])
        XCTAssertEqual(unknown.status, 66)
    }

    func testTheWorkerRefusesToSendAPasswordInClearAndWarnsWhenTold() throws {
        _ = try requestOne()
        let password = "pw-\(UUID().uuidString)"
        let smtp = ["ROSTERFLOW_SMTP_URL": "smtp://127.0.0.1:1", "ROSTERFLOW_SMTP_USER": "rf", "ROSTERFLOW_SMTP_PASSWORD": password]
        let refused = try call(["worker", "--once"], environment: smtp)
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("the password would cross the network in clear"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("allow_plaintext_auth"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("smtps://"), refused.stderr)

        let allowed = try call(["worker", "--once"], environment: smtp.merging(["ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH": "1"]) { $1 })
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("warning"), allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("allow_plaintext_auth is set"), allowed.stderr)
        let doctor = try call(["doctor"], environment: smtp.merging(["ROSTERFLOW_SMTP_ALLOW_PLAINTEXT_AUTH": "1"]) { $1 })
        XCTAssertEqual(doctor.status, 1)
        XCTAssertTrue(doctor.stdout.contains("crosses the network in clear"), doctor.stdout)
        XCTAssertFalse((refused.stdout + refused.stderr + allowed.stdout + allowed.stderr + doctor.stdout).contains(password))
    }

    func testSecretsStayOutOfOutputLogsAndTheDatabase() throws {
        let message = try requestOne()
        let password = "pw-\(UUID().uuidString)"
        let secret = "whsec_" + Data("secret-\(UUID().uuidString)".utf8).base64EncodedString()
        let environment = [
            "ROSTERFLOW_SMTP_URL": "smtps://127.0.0.1:1", "ROSTERFLOW_SMTP_USER": "rf", "ROSTERFLOW_SMTP_PASSWORD": password,
            "ROSTERFLOW_WEBHOOK_URL": "http://127.0.0.1:1/hooks", "ROSTERFLOW_WEBHOOK_SECRET": secret,
        ]
        var seen = ""
        for arguments in [["worker", "--once"], ["worker", "--once", "--json"], ["outbox", "show", message, "--json"],
                          ["outbox", "list"], ["templates", "preview", "integration-requested", "--integration",
                                               try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try run("integrations", "list", "--json").utf8)) as? [[String: Any]]).first?["id"] as? String ?? ""],
                          ["doctor", "--json"], ["audit", "--json"]] {
            let outcome = try call(arguments, environment: environment)
            seen += outcome.stdout + outcome.stderr
        }
        XCTAssertTrue(seen.contains("attempts"), "the commands ran")
        let key = String(secret.dropFirst(6))
        XCTAssertFalse(seen.contains(password), "the SMTP password was printed")
        XCTAssertFalse(seen.contains(key), "the webhook secret was printed")
        for file in [database, database + "-wal"] where FileManager.default.fileExists(atPath: file) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            XCTAssertNil(bytes.range(of: Data(password.utf8)), "the SMTP password is in \(file)")
            XCTAssertNil(bytes.range(of: Data(key.utf8)), "the webhook secret is in \(file)")
        }
    }

    func testControlCharactersAreShownVisiblyInTextAndExactlyInJSON() throws {
        let registry = folder + "/customers.csv"
        let district = "Spring\u{1B}]0;owned\u{07}field\u{1B}[2J \u{9B}31m USD\ttab"
        try "tenant_id,district,contact_email\nt1,\"\(district)\",it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try run("customers", "import", registry)
        let text = try run("customers", "list")
        XCTAssertFalse(text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B }, text.debugDescription)
        XCTAssertTrue(text.contains(#"Spring\u{1B}]0;owned\u{07}field\u{1B}[2J \u{9B}31m USD"#), text)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try run("customers", "list", "--json").utf8)) as? [[String: Any]])
        XCTAssertEqual(json.first?["district"] as? String, district, "JSON stays exact")

        let request = try call(["integrations", "request", "--tenant", "t1", "--district", district, "--permission", "full",
                                "--contact", "it@springfield.example"])
        XCTAssertEqual(request.status, 0, request.stderr)
        XCTAssertFalse(request.stdout.unicodeScalars.contains { $0.value == 0x1B }, request.stdout.debugDescription)
        // Errors quote what they were given: escaped too.
        let missing = try call(["integrations", "show", "int_\u{1B}[2J"])
        XCTAssertEqual(missing.status, 66)
        XCTAssertFalse(missing.stderr.unicodeScalars.contains { $0.value == 0x1B }, missing.stderr.debugDescription)
        XCTAssertTrue(missing.stderr.contains(#"int_\u{1B}[2J"#), missing.stderr)
    }
}
