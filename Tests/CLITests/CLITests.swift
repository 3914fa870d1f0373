import Foundation
import StorageCore
import StorageSQLite
import XCTest

/// The `rosterflow` executable end to end, on temporary databases.
final class CLITests: XCTestCase {
    var folder: String!
    var database: String { folder + "/cli.sqlite" }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    static var binary: String {
        // The test bundle sits next to the built products.
        let products = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL.deletingLastPathComponent()
            ?? Bundle.main.bundleURL
        return products.appendingPathComponent("rosterflow").path
    }

    static var workflows: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Workflows").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        func json() throws -> [String: Any] {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], stdout)
        }
    }

    @discardableResult
    func rosterflow(
        environment extra: [String: String] = [:], _ arguments: String..., expect: Int32? = 0, file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> Result {
        var changes: [String: String?] = ["ROSTERFLOW_DB": database, "ROSTERFLOW_WORKFLOWS": Self.workflows]
        for (key, value) in extra { changes[key] = value }
        let result = try Binary.run(arguments, environment: changes, in: folder)
        if let expect {
            XCTAssertEqual(result.status, expect, "rosterflow \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        }
        return result
    }

    func testOneDistrictFromRequestToLockedCourses() throws {
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        XCTAssertTrue(try rosterflow("customers", "import", registry).stdout.contains("1 new"))

        let requested = try rosterflow(
            "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "rule-based",
            "--contact", "it@springfield.example", "--json").json()
        let id = try XCTUnwrap(requested["id"] as? String)
        XCTAssertEqual(requested["state"] as? String, "requested")

        XCTAssertTrue(try rosterflow("integrations", "authenticate", id).stdout.contains("requested → authenticated"))
        XCTAssertTrue(try rosterflow("integrations", "schedule", id, "--time", "02:30", "--timezone", "America/Chicago")
            .stdout.contains("next sync:"))

        let course = try rosterflow(
            "courses", "add", "--integration", id, "--sourced-id", "crs-1", "--title", "Algebra I", "--json").json()
        let courseID = try XCTUnwrap(course["id"] as? String)
        XCTAssertEqual(course["state"] as? String, "shell_created")
        try rosterflow("courses", "map", courseID, "--catalog", "Algebra I (2026)", "--base-id", "ALG1-26")
        try rosterflow("courses", "verify", courseID)
        try rosterflow("courses", "content-added", courseID)
        try rosterflow("integrations", "advance", id, "go_live", "--as", "vendor-admin", "--reason", "launch")
        try rosterflow("courses", "student-started", courseID)

        let refused = try rosterflow("courses", "map", courseID, "--catalog", "Other", "--base-id", "X", expect: 3)
        XCTAssertTrue(refused.stderr.hasPrefix("error: 'map' is not allowed in state 'locked'"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("would lose the student's work"))
        XCTAssertEqual(refused.stderr.filter { $0 == "\n" }.count, 1, "one line on stderr")
        XCTAssertEqual(refused.stdout, "")

        let shown = try rosterflow("integrations", "show", id, "--json").json()
        XCTAssertEqual(shown["state"] as? String, "live")
        let history = try XCTUnwrap(shown["history"] as? [[String: Any]])
        XCTAssertEqual(history.map { $0["to"] as? String }, ["requested", "authenticated", "scheduled", "shells_created", "content_mapped", "live"])
        for entry in history {
            for key in ["to", "event", "actor", "at"] { XCTAssertNotNil(entry[key], key) }
        }
        XCTAssertEqual(history.last?["reason"] as? String, "launch")
        XCTAssertNotNil(shown["allowedEvents"] as? [[String: Any]])

        let courseView = try rosterflow("courses", "show", courseID, "--json").json()
        XCTAssertEqual(courseView["state"] as? String, "locked")
        XCTAssertEqual(courseView["baseID"] as? String, "ALG1-26")
        XCTAssertTrue(try rosterflow("integrations", "list", "--state", "live").stdout.contains(id))
        XCTAssertEqual(try rosterflow("tasks", "--integration", id).stdout, "nothing is waiting\n")
    }

    func testBadRequestsGetClearErrorsAndExitCodes() throws {
        let unknown = try rosterflow("integrations", "show", "int_missing", expect: 66)
        XCTAssertTrue(unknown.stderr.contains("there is no integration int_missing"))
        let permission = try rosterflow(
            "integrations", "request", "--tenant", "t", "--district", "D", "--permission", "partial", "--contact", "a@b.example",
            expect: 64)
        XCTAssertTrue(permission.stderr.contains("rule-based, full, legacy-custom"))
        let id = try XCTUnwrap(try rosterflow(
            "integrations", "request", "--tenant", "t", "--district", "D", "--permission", "full", "--contact", "a@b.example",
            "--json").json()["id"] as? String)
        let zone = try rosterflow("integrations", "schedule", id, "--time", "02:00", "--timezone", "EST", expect: 64)
        XCTAssertTrue(zone.stderr.contains("not an IANA time zone"))
        let json = try rosterflow("integrations", "advance", id, "go_live", "--as", "dsp", "--json", expect: 3).json()
        XCTAssertEqual(json["code"] as? String, "refused")
        XCTAssertEqual(json["allowedEvents"] as? [String], [])
        XCTAssertEqual(json["cause"] as? String, "event-not-allowed", "the engine's own code travels with the CLI's")
        try rosterflow("integrations", "advance", id, "go_live", "--as", "teacher", expect: 64)
        try rosterflow("customers", "import", folder + "/missing.csv", expect: 66)
    }

    func testWorkflowsValidatePrintsEveryProblemAndExitsNonZero() throws {
        let bad = folder + "/bad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try """
            workflow: broken
            version: 1
            initial: a
            states:
              a:
                on:
                  go: { to: nowhere, guard: magic, roles: [system] }
                  go: { to: a, roles: [system] }
              island:
                after: { P3Q: go }
                on:
                  back: { to: a, roles: [system] }
            """.write(toFile: bad + "/broken.yaml", atomically: true, encoding: .utf8)
        let result = try rosterflow("workflows", "validate", bad, expect: 78)
        XCTAssertTrue(result.stdout.contains("broken.yaml:8: [duplicate-event] state 'a'"), result.stdout)
        XCTAssertTrue(result.stderr.contains("problem"))

        try """
            workflow: broken
            version: 1
            initial: a
            states:
              a:
                on:
                  go: { to: nowhere, guard: magic, roles: [system] }
              island:
                after: { P3Q: go }
                on:
                  back: { to: a, roles: [system] }
            """.write(toFile: bad + "/broken.yaml", atomically: true, encoding: .utf8)
        let all = try rosterflow("workflows", "validate", bad, expect: 78).stdout
        for expected in ["broken.yaml:7: [unknown-target-state] state 'a'", "broken.yaml:7: [unknown-guard] state 'a'",
                         "broken.yaml:9: [bad-duration] state 'island'", "[unreachable-state] state 'island'"] {
            XCTAssertTrue(all.contains(expected), "missing \(expected) in:\n\(all)")
        }
        XCTAssertTrue(try rosterflow("workflows", "validate", Self.workflows).stdout.hasPrefix("ok: class-import@2 (5 states), course-mapping@3"))
    }

    func testGraphs() throws {
        let mermaid = try rosterflow("workflows", "graph", "course-mapping", "--workflows", Self.workflows).stdout
        XCTAssertTrue(mermaid.contains("content_added --> locked: student_started"))
        let dot = try rosterflow("workflows", "graph", "integration", "--format", "dot", "--workflows", Self.workflows).stdout
        XCTAssertTrue(dot.contains("\"requested\" -> \"rejected\""))
        try rosterflow("workflows", "graph", "nope", "--workflows", Self.workflows, expect: 66)
    }

    func testDemoRunsOnTheEmbeddedDefault() throws {
        let demo = try rosterflow("demo")
        XCTAssertTrue(demo.stdout.contains("content_added → locked"))
        XCTAssertTrue(demo.stdout.contains("requested → rejected"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: database))
    }

    /// A child streaming events is killed with SIGKILL; every instance's state must equal its last history row.
    func testSIGKILLWhileStreamingEventsLeavesEveryInstanceConsistent() throws {
        for round in 0..<3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.benchBinary)
            process.arguments = ["load", "--db", database, "--workflows", Self.workflows, "--districts", "200", "--courses", "10"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Let it write for a while (more each round), then kill it mid-stream.
            let deadline = Date().addingTimeInterval(30)
            var seen = 0
            while Date() < deadline, process.isRunning {
                Thread.sleep(forTimeInterval: 0.05)
                guard FileManager.default.fileExists(atPath: database) else { continue }
                seen = (try? SQLiteStore(path: database).readNow { try $0.instances(workflow: "course-mapping").count }) ?? 0
                if seen > 50 * (round + 1) { break }
            }
            XCTAssertTrue(process.isRunning, "the load finished before it could be killed; raise --districts")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal)

            let store = try SQLiteStore(path: database)
            try store.readNow { tx in
                var checked = 0
                for workflow in ["integration", "course-mapping"] {
                    for instance in try tx.instances(workflow: workflow) {
                        let last = try XCTUnwrap(try tx.transitions(instanceID: instance.id).last, instance.id)
                        XCTAssertEqual(instance.state, last.to, instance.id)
                        XCTAssertEqual(instance.rowVersion, last.rowVersion, instance.id)
                        if workflow == "course-mapping" {
                            let course = try XCTUnwrap(try tx.course(id: instance.id))
                            XCTAssertEqual(course.lockedAt != nil, instance.state == "locked", instance.id)
                            XCTAssertEqual(course.baseID != nil, instance.state != "shell_created", instance.id)
                        } else {
                            XCTAssertNotNil(try tx.integration(id: instance.id))
                        }
                        checked += 1
                    }
                }
                XCTAssertGreaterThan(checked, 50)
            }
        }
    }

    /// A sync killed with SIGKILL leaves nothing half-applied: all of the run or none of it. The kills land at
    /// events, not delays: while reading, and in the write phase (the trace's "plan" line is printed when planning is
    /// done and the applying transaction starts).
    func testSIGKILLDuringASyncLeavesNothingHalfApplied() throws {
        let bundle = folder + "/district"
        try rosterflow("sample-bundle", bundle, "--users", "20000", "--classes", "400", "--enrollments", "120000")
        let id = try scheduledIntegration()
        let expected = try ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"]
            .map { try lines(bundle + "/\($0).csv") }.reduce(0, +)

        var killedWhileWriting = 0
        for phase in ["sync: fingerprint", "sync: plan", "sync: plan", "sync: plan"] {
            let child = try Child(["sync", "run", "--integration", id, "--bundle", bundle], database: database,
                                  environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
            XCTAssertTrue(child.waitFor(phase), child.stderr)
            kill(child.process.processIdentifier, SIGKILL)
            let status = child.finish()

            let store = try SQLiteStore(path: database)
            let (records, runs, shells, state) = try store.readNow { tx in
                (try tx.rosterRecords(integrationID: id).count, try tx.syncRuns(integrationID: id).count,
                 try tx.courses(integrationID: id).count, try tx.instance(id: id)!.state)
            }
            if runs == 0 {
                XCTAssertEqual(records, 0, "no run recorded, yet records were applied")
                XCTAssertEqual(shells, 0)
                XCTAssertEqual(state, "scheduled")
                if phase == "sync: plan", status != 0 { killedWhileWriting += 1 }
                // The killed holder's lock would block the next attempt for two minutes: expire it.
                try executeSQL("DELETE FROM sync_locks")
            } else {
                // The kill came after the commit (a slow machine): the run is applied whole.
                XCTAssertEqual(records, expected, "a recorded run is applied whole")
                XCTAssertEqual(shells, try lines(bundle + "/courses.csv"))
                XCTAssertEqual(state, "shells_created")
                break
            }
        }
        XCTAssertGreaterThan(killedWhileWriting, 0, "no kill landed in the write phase")
    }

    private func lines(_ path: String) throws -> Int {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count - 1
    }
}
