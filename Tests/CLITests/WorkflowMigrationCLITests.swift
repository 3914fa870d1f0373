import Foundation
import StorageCore
import StorageSQLite
import XCTest

/// `rosterflow workflows migrate` and the plans beside the definitions, through the binary: the shipped plans on the
/// demo's database, validation with lines and exit codes, and a SIGKILL in the middle of a run.
extension CLITests {
    /// The definitions as shipped before integration 7 and course-mapping 3 (what running instances started on).
    func previousWorkflowVersions() throws -> String {
        let old = folder + "/previous-workflows"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        let integration = try String(contentsOfFile: Self.workflows + "/integration.yaml", encoding: .utf8)
            .replacingOccurrences(of: "version: 7", with: "version: 6")
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("content_withdrawn") }
            .joined(separator: "\n")
        let course = try String(contentsOfFile: Self.workflows + "/course-mapping.yaml", encoding: .utf8)
            .replacingOccurrences(of: "version: 3", with: "version: 2")
            .replacingOccurrences(of: "effects: [store_mapping, withdraw_content]", with: "effects: [store_mapping]")
        try integration.write(toFile: old + "/integration.yaml", atomically: true, encoding: .utf8)
        try course.write(toFile: old + "/course-mapping.yaml", atomically: true, encoding: .utf8)
        return old
    }

    func testTheShippedPlansValidateAndMigrateTheDemosInstances() throws {
        let old = try previousWorkflowVersions()
        try rosterflow(environment: ["ROSTERFLOW_WORKFLOWS": old], "demo")
        // The demo's courses end locked (final, they stay); one more course of its live district is mapped on version 2.
        let live = try XCTUnwrap(try SQLiteStore(path: database).readNow { try $0.instances(workflow: "integration") }
            .first { $0.state == "live" }?.id)
        let added = try rosterflow(
            environment: ["ROSTERFLOW_WORKFLOWS": old], "courses", "add", "--integration", live, "--sourced-id", "geo-1",
            "--title", "Geometry", "--json").json()
        let geometry = try XCTUnwrap(added["id"] as? String)
        try rosterflow(environment: ["ROSTERFLOW_WORKFLOWS": old], "courses", "map", geometry, "--catalog", "Geometry", "--base-id", "GEO-1")
        let coursePlan = Self.workflows + "/migrations/course-mapping-2-to-3.yaml"
        let integrationPlan = Self.workflows + "/migrations/integration-6-to-7.yaml"

        // With the database that holds versions 6 and 2, both plans are checked; without one they cannot be.
        let validated = try rosterflow("workflows", "validate", Self.workflows, "--db", database).stdout
        XCTAssertTrue(validated.contains("plan course-mapping-2-to-3 (course-mapping 2 → 3): ok"), validated)
        XCTAssertTrue(validated.contains("plan integration-6-to-7 (integration 6 → 7): ok"), validated)
        let alone = try rosterflow("workflows", "validate", Self.workflows, "--db", folder + "/none.sqlite").stdout
        XCTAssertTrue(alone.contains("plan integration-6-to-7 (integration 6 → 7): not checked: integration@6 is neither"), alone)
        try rosterflow("workflows", "validate", coursePlan, "--db", folder + "/none.sqlite", expect: 78)
        XCTAssertTrue(try rosterflow("workflows", "validate", coursePlan, "--db", database).stdout.contains(": ok"))

        let dry = try rosterflow("workflows", "migrate", coursePlan, "--dry-run", "--json").json()
        let items = try XCTUnwrap(dry["instances"] as? [[String: Any]])
        XCTAssertFalse(items.isEmpty)
        XCTAssertEqual(dry["dryRun"] as? Bool, true)
        XCTAssertTrue(items.allSatisfy { ["would-migrate", "refused"].contains($0["outcome"] as? String) }, "\(items)")
        XCTAssertTrue(items.contains { $0["outcome"] as? String == "refused" && ($0["reason"] as? String)?.contains("final state 'locked'") == true },
                      "the demo's locked course stays: \(items)")
        let planned = try XCTUnwrap(items.first { $0["id"] as? String == geometry })
        XCTAssertEqual(planned["target"] as? String, "mapped")
        XCTAssertEqual((planned["timersBefore"] as? [[String: Any]])?.map { $0["event"] as? String }, ["remind_unverified"])
        XCTAssertEqual((planned["timersAfter"] as? [[String: Any]])?.map { $0["dueAt"] as? String },
                       (planned["timersBefore"] as? [[String: Any]])?.map { $0["dueAt"] as? String })
        XCTAssertEqual(dry["migrated"] as? Int, 1)

        let run = try rosterflow("workflows", "migrate", coursePlan).stdout
        XCTAssertTrue(run.contains("migrated \(geometry) (Geometry (Springfield USD)): mapped → mapped; timers remind_unverified at "), run)
        XCTAssertTrue(run.contains("course-mapping-2-to-3: course-mapping 2 → 3: migrated 1, refused 3"), run)
        let again = try rosterflow("workflows", "migrate", coursePlan).stdout
        XCTAssertTrue(again.hasSuffix("course-mapping 2 → 3: migrated 0, refused 3, already on 3 1; nothing to do\n"), again)
        XCTAssertTrue(again.contains("already \(geometry) (Geometry"), again)
        let integrations = try rosterflow("workflows", "migrate", integrationPlan, "--json").json()
        XCTAssertGreaterThanOrEqual(integrations["migrated"] as? Int ?? 0, 1, "\(integrations)")
        XCTAssertTrue(try rosterflow("tasks").stdout.contains("Geometry"), "the new version's task for the moved course")

        let store = try SQLiteStore(path: database)
        try store.readNow { tx in
            for instance in try tx.instances(workflow: "course-mapping") {
                XCTAssertEqual(instance.version, instance.state == "locked" ? 2 : 3, instance.id)
            }
            let moved = try tx.instances(workflow: "integration").filter { $0.version == 7 }
            XCTAssertEqual(moved.count, integrations["migrated"] as? Int)
            XCTAssertTrue(moved.contains { $0.id == live })
            XCTAssertEqual(try tx.transitions(instanceID: live).last?.event, "migrated 6 → 7")
        }
    }

    func testAPlanRefusedByValidationNamesTheLineAndMigrationIsTheVendorAdmins() throws {
        let old = try previousWorkflowVersions()
        try rosterflow(environment: ["ROSTERFLOW_WORKFLOWS": old], "demo")
        let plan = folder + "/typo.yaml"
        try "workflow: course-mapping\nfrom: 2\nto: 3\nstates:\n  mapped: mapt\n  verifyed: verified\n"
            .write(toFile: plan, atomically: true, encoding: .utf8)
        let refused = try rosterflow("workflows", "migrate", plan, expect: 78)
        XCTAssertTrue(refused.stderr.contains("typo.yaml:5: [unknown-target-state] state 'mapped'"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("typo.yaml:6: [unknown-source-state] state 'verifyed'"), refused.stderr)
        let checked = try rosterflow("workflows", "validate", plan, "--db", database, "--json", expect: 78).json()
        XCTAssertEqual((checked["problems"] as? [[String: Any]])?.count, 2)
        try rosterflow("workflows", "migrate", folder + "/missing.yaml", expect: 66)
        let shipped = Self.workflows + "/migrations/course-mapping-2-to-3.yaml"
        let dsp = try rosterflow("workflows", "migrate", shipped, "--as", "dsp", expect: 3)
        XCTAssertTrue(dsp.stderr.contains("for the vendor admin"), dsp.stderr)
    }

    /// Many course mappings on version 2 (half of them mapped, with reminders pending); `workflows migrate` is killed
    /// with SIGKILL after it reported some instances: each one is either fully migrated (version, history row, row
    /// version, the same timers) or untouched. A second run then finishes the rest.
    func testSIGKILLDuringAMigrationLeavesEachInstanceMigratedOrUntouched() throws {
        let old = try previousWorkflowVersions()
        let env = ["ROSTERFLOW_WORKFLOWS": old]
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n".write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow(environment: env, "customers", "import", registry)
        let id = try XCTUnwrap(try rosterflow(
            environment: env, "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "full",
            "--contact", "it@springfield.example", "--json").json()["id"] as? String)
        try rosterflow(environment: env, "integrations", "authenticate", id)
        try rosterflow(environment: env, "integrations", "schedule", id, "--time", "02:00", "--timezone", "UTC")
        let bundle = folder + "/district"
        try rosterflow(environment: env, "sample-bundle", bundle, "--users", "600", "--classes", "1200", "--enrollments", "2400")
        try rosterflow(environment: env, "sync", "run", "--integration", id, "--bundle", bundle)
        let courses = try SQLiteStore(path: database).readNow { try $0.courses(integrationID: id) }
        XCTAssertGreaterThan(courses.count, 100)
        let map = "sourced_id,base_id,catalog_title\n" + courses.enumerated().filter { $0.offset % 2 == 0 }
            .map { "\($0.element.sourcedID),B\($0.offset),Catalog \($0.offset)" }.joined(separator: "\n") + "\n"
        try map.write(toFile: folder + "/map.csv", atomically: true, encoding: .utf8)
        try rosterflow(environment: env, "courses", "import", folder + "/map.csv", "--integration", id)

        let before = try SQLiteStore(path: database).readNow { tx in
            try Dictionary(uniqueKeysWithValues: tx.instances(workflow: "course-mapping").map { instance in
                (instance.id, (instance, try tx.timers(instanceID: instance.id), try tx.transitions(instanceID: instance.id).count))
            })
        }
        XCTAssertTrue(before.values.contains { !$0.1.isEmpty }, "mapped courses have reminders pending")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["workflows", "migrate", Self.workflows + "/migrations/course-mapping-2-to-3.yaml", "--db", database,
                             "--workflows", Self.workflows]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let printed = Printed()
        out.fileHandleForReading.readabilityHandler = { handle in printed.append(handle.availableData) }
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        func reported() -> Int { printed.text.split(separator: "\n").filter { $0.hasPrefix("migrated ") }.count }
        while Date() < deadline, process.isRunning, reported() < 20 { Thread.sleep(forTimeInterval: 0.002) }
        XCTAssertTrue(process.isRunning, "the migration finished before it could be killed: \(reported()) reported")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)

        var migrated = 0
        try SQLiteStore(path: database).readNow { tx in
            for instance in try tx.instances(workflow: "course-mapping") {
                let (was, timers, historyCount) = try XCTUnwrap(before[instance.id])
                let history = try tx.transitions(instanceID: instance.id)
                XCTAssertEqual(try tx.timers(instanceID: instance.id).map { [$0.event, "\($0.dueAt)", $0.armedInState] },
                               timers.map { [$0.event, "\($0.dueAt)", $0.armedInState] }, instance.id)
                XCTAssertEqual(instance.state, was.state, instance.id)
                if instance.version == 3 {
                    migrated += 1
                    XCTAssertEqual(history.count, historyCount + 1, instance.id)
                    XCTAssertEqual(history.last?.event, "migrated 2 → 3", instance.id)
                    XCTAssertEqual(instance.rowVersion, was.rowVersion + 1, instance.id)
                    XCTAssertEqual(history.last?.rowVersion, instance.rowVersion, instance.id)
                } else {
                    XCTAssertEqual(instance, was, "untouched: \(instance.id)")
                    XCTAssertEqual(history.count, historyCount, instance.id)
                }
            }
        }
        XCTAssertGreaterThanOrEqual(migrated, 20, "at least those it reported")
        XCTAssertLessThan(migrated, before.count, "killed before the end")

        let rest = try rosterflow("workflows", "migrate", Self.workflows + "/migrations/course-mapping-2-to-3.yaml", "--json").json()
        XCTAssertEqual(rest["migrated"] as? Int, before.count - migrated)
        XCTAssertEqual(rest["alreadyMigrated"] as? Int, migrated)
    }
}

/// What a child process printed so far, appended from its pipe's handler thread.
private final class Printed: @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""

    func append(_ data: Data) {
        lock.lock()
        buffer += String(decoding: data, as: UTF8.self)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }
}
