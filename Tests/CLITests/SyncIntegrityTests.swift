import Foundation
import StorageCore
import StorageSQLite
import XCTest

/// Sync integrity through the `rosterflow` binary, with real processes and real signals: one sync of an integration at
/// a time, stale held runs, Ctrl-C, and mistakes that stay with the operator.
extension CLITests {
    /// A customer's integration, scheduled (syncs may run).
    func scheduledIntegration() throws -> String {
        let registry = folder + "/customers.csv"
        try "tenant_id,district,contact_email\nt1,Springfield USD,it@springfield.example\n"
            .write(toFile: registry, atomically: true, encoding: .utf8)
        try rosterflow("customers", "import", registry)
        let id = try XCTUnwrap(try rosterflow(
            "integrations", "request", "--tenant", "t1", "--district", "Springfield USD", "--permission", "full",
            "--contact", "it@springfield.example", "--json").json()["id"] as? String)
        try rosterflow("integrations", "authenticate", id)
        try rosterflow("integrations", "schedule", id, "--time", "02:00", "--timezone", "UTC")
        return id
    }

    /// Records of every entity a sample bundle's files carry (data rows).
    func bundleRecords(_ bundle: String) throws -> Int {
        try ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"].map { name in
            try String(contentsOfFile: bundle + "/\(name).csv", encoding: .utf8).split(separator: "\n").count - 1
        }.reduce(0, +)
    }

    /// What the database holds for an integration: records, runs (newest first), the lock, the outbox's templates.
    func snapshot(_ id: String) throws -> (records: Int, runs: [SyncRunRecord], lock: SyncLockRecord?, outbox: [String]) {
        let store = try SQLiteStore(path: database)
        return try store.readNow { tx in
            (try tx.rosterRecords(integrationID: id).count, try tx.syncRuns(integrationID: id),
             try tx.syncLock(integrationID: id), try tx.outboxMessages(status: nil, limit: 1000).map(\.template))
        }
    }

    /// A `rosterflow` child process started with the test's database, its stderr collected line by line.
    final class Child: @unchecked Sendable {
        let process = Process()
        private let lock = NSLock()
        private var errText = ""
        private let pipe = Pipe()

        init(_ arguments: [String], database: String, environment extra: [String: String] = [:]) throws {
            process.executableURL = URL(fileURLWithPath: CLITests.binary)
            process.arguments = arguments + ["--db", database, "--workflows", CLITests.workflows]
            var environment = ProcessInfo.processInfo.environment
            environment.merge(extra) { $1 }
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            process.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { [self] handle in
                let data = handle.availableData
                lock.lock()
                errText += String(decoding: data, as: UTF8.self)
                lock.unlock()
            }
            try process.run()
        }

        var stderr: String {
            lock.lock()
            defer { lock.unlock() }
            return errText
        }

        /// Waits until stderr contains `text` (true) or the process ended or `timeout` passed (false).
        func waitFor(_ text: String, timeout: Double = 120) -> Bool {
            let deadline = Date(timeIntervalSinceNow: timeout)
            while Date() < deadline {
                if stderr.contains(text) { return true }
                if !process.isRunning { return stderr.contains(text) }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return false
        }

        func finish() -> Int32 {
            process.waitUntilExit()
            Thread.sleep(forTimeInterval: 0.05)
            pipe.fileHandleForReading.readabilityHandler = nil
            return process.terminationStatus
        }
    }

    func testTwoSyncsOfOneIntegrationAtOnceOnlyOneRuns() throws {
        let id = try scheduledIntegration()
        let big = folder + "/big", small = folder + "/small"
        try rosterflow("sample-bundle", big, "--users", "20000", "--classes", "400", "--enrollments", "120000", "--seed", "2")
        try rosterflow("sample-bundle", small, "--users", "300", "--classes", "10", "--enrollments", "900", "--seed", "3")

        let first = try Child(["sync", "run", "--integration", id, "--bundle", big], database: database,
                              environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
        // The first holds the lock once it has started reading.
        XCTAssertTrue(first.waitFor("sync: load held"), first.stderr)
        let second = try rosterflow("sync", "run", "--integration", id, "--bundle", small, "--json", expect: 75)
        XCTAssertTrue(second.stderr.contains("is already being synced: `sync run` of \(big)"), second.stderr)
        XCTAssertTrue(second.stderr.contains("nothing was done"), second.stderr)
        XCTAssertEqual(try second.json()["code"] as? String, "busy")
        XCTAssertEqual(first.finish(), 0, first.stderr)

        // The roster is exactly the first export's, and the refused sync left no run.
        let after = try snapshot(id)
        XCTAssertEqual(after.records, try bundleRecords(big))
        XCTAssertEqual(after.runs.map(\.decision), [.applied])
        XCTAssertNil(after.lock, "the lock is released when the sync ends")

        // The same bundle twice at once: one runs, the other is refused; no duplicate history.
        let again = try Child(["sync", "run", "--integration", id, "--bundle", small, "--max-delete-share", "1", "--max-update-share", "1"],
                              database: database, environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
        XCTAssertTrue(again.waitFor("sync: load held"), again.stderr)
        try rosterflow("sync", "run", "--integration", id, "--bundle", small, "--max-delete-share", "1", expect: 75)
        XCTAssertEqual(again.finish(), 0, again.stderr)
        XCTAssertEqual(try snapshot(id).records, try bundleRecords(small))
        XCTAssertEqual(try snapshot(id).runs.count, 2)
    }

    func testAKilledHolderBlocksUntilItsLeaseRunsOut() throws {
        let id = try scheduledIntegration()
        let big = folder + "/big"
        try rosterflow("sample-bundle", big, "--users", "20000", "--classes", "400", "--enrollments", "120000", "--seed", "2")
        let holder = try Child(["sync", "run", "--integration", id, "--bundle", big], database: database,
                               environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
        XCTAssertTrue(holder.waitFor("sync: load held"), holder.stderr)
        kill(holder.process.processIdentifier, SIGKILL)
        _ = holder.finish()

        let lock = try XCTUnwrap(try snapshot(id).lock, "a killed holder cannot release its lock")
        let refused = try rosterflow("sync", "run", "--integration", id, "--bundle", big, expect: 75)
        XCTAssertTrue(refused.stderr.contains("its lock expires at"), refused.stderr)
        XCTAssertEqual(try snapshot(id).records, 0)

        // Two minutes later (the lease moved back instead of waiting), the lock is taken over.
        try executeSQL("UPDATE sync_locks SET lease_until = \(lock.acquiredAt - 1)")
        try rosterflow("sync", "run", "--integration", id, "--bundle", big)
        XCTAssertEqual(try snapshot(id).records, try bundleRecords(big))
        XCTAssertNil(try snapshot(id).lock)
    }

    func testCtrlCAtEveryPointOfALargeSyncLeavesTheLastAppliedState() throws {
        let id = try scheduledIntegration()
        let small = folder + "/small", big = folder + "/big"
        try rosterflow("sample-bundle", small, "--users", "300", "--classes", "10", "--enrollments", "900", "--seed", "3")
        try rosterflow("sample-bundle", big, "--users", "20000", "--classes", "400", "--enrollments", "120000", "--seed", "2")
        try rosterflow("sync", "run", "--integration", id, "--bundle", small)
        let before = try snapshot(id)
        XCTAssertEqual(before.records, try bundleRecords(small))

        /// Starts the big sync, waits for a phase's trace line, sends `signal`; returns the exit status and stderr.
        func interrupt(after phase: String, with signal: Int32) throws -> (Int32, String) {
            let child = try Child(["sync", "run", "--integration", id, "--bundle", big, "--max-delete-share", "1", "--max-update-share", "1"],
                                  database: database, environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
            XCTAssertTrue(child.waitFor(phase), child.stderr)
            kill(child.process.processIdentifier, signal)
            return (child.finish(), child.stderr)
        }

        // While reading (after the fingerprint), and in the write phase (planning done: the trace says "plan").
        var cancelledWhileWriting = false
        for (phase, signal) in [("sync: fingerprint", SIGINT), ("sync: load held", SIGTERM), ("sync: plan", SIGINT),
                                ("sync: plan", SIGTERM), ("sync: plan", SIGINT)] {
            let (status, stderr) = try interrupt(after: phase, with: signal)
            let now = try snapshot(id)
            if status == 0 {
                // The signal came after the commit (a slow machine): the run stands whole, and says so.
                XCTAssertEqual(phase, "sync: plan")
                XCTAssertTrue(stderr.contains("came after the change was committed"), stderr)
                XCTAssertEqual(now.records, try bundleRecords(big), "a committed run is applied whole")
                return
            }
            XCTAssertEqual(status, 128 + signal, stderr)
            XCTAssertTrue(stderr.contains("cancelled by \(signal == SIGINT ? "SIGINT" : "SIGTERM"), nothing applied"), stderr)
            XCTAssertEqual(now.records, before.records, "nothing of a cancelled run is applied (\(phase))")
            XCTAssertEqual(now.runs.map(\.id), before.runs.map(\.id), "a cancelled run is not recorded")
            XCTAssertEqual(now.outbox, before.outbox, "a cancelled run sends nothing")
            XCTAssertNil(now.lock, "a cancelled run releases its lock")
            if phase == "sync: plan" { cancelledWhileWriting = true }
        }
        XCTAssertTrue(cancelledWhileWriting)
        // And the integration syncs normally afterwards.
        try rosterflow("sync", "run", "--integration", id, "--bundle", big, "--max-delete-share", "1", "--max-update-share", "1")
        XCTAssertEqual(try snapshot(id).records, try bundleRecords(big))
    }

    func testAStaleHeldRunIsRefusedAndReplannedAgainstTodaysRoster() throws {
        let id = try scheduledIntegration()
        let full = folder + "/full"
        try rosterflow("sample-bundle", full, "--users", "300", "--classes", "10", "--enrollments", "900", "--seed", "3")
        try rosterflow("sync", "run", "--integration", id, "--bundle", full)
        let fullRecords = try snapshot(id).records

        // An export missing half its users is held.
        let half = folder + "/half"
        try FileManager.default.copyItem(atPath: full, toPath: half)
        let users = try String(contentsOfFile: half + "/users.csv", encoding: .utf8).split(separator: "\n")
        try (users.prefix(users.count / 2).joined(separator: "\n") + "\n").write(toFile: half + "/users.csv", atomically: true, encoding: .utf8)
        let held = try rosterflow("sync", "run", "--integration", id, "--bundle", half, "--json").json()
        XCTAssertEqual(held["decision"] as? String, "held")
        let heldID = try XCTUnwrap(held["id"] as? String)

        // Resuming must settle the held run: refused, then kept held with a reason.
        let unsettled = try rosterflow("integrations", "advance", id, "resume", "--as", "vendor-admin", expect: 3)
        XCTAssertTrue(unsettled.stderr.contains("sync run \(heldID) of \(id) is held for review"), unsettled.stderr)
        try rosterflow("integrations", "advance", id, "resume", "--as", "vendor-admin", "--keep-held", expect: 64)
        try rosterflow("integrations", "advance", id, "resume", "--as", "vendor-admin", "--keep-held",
                       "--reason", "asking the district whether the export was cut off")
        let kept = try rosterflow("sync", "show", heldID, "--json").json()
        XCTAssertEqual(kept["decision"] as? String, "held")
        XCTAssertTrue((kept["reasons"] as? [String] ?? []).contains { $0.contains("asking the district") }, "\(kept)")

        // The next night's full export is accepted: the held run is now stale.
        try rosterflow("sync", "run", "--integration", id, "--bundle", full, "--revalidate")
        let stale = try rosterflow("sync", "approve", heldID, "--json", expect: 4)
        XCTAssertTrue(stale.stderr.contains("sync run \(heldID) is stale"), stale.stderr)
        XCTAssertTrue(stale.stderr.contains("--replan"), stale.stderr)
        XCTAssertEqual(try stale.json()["cause"] as? String, "stale-sync-run")
        XCTAssertEqual(try snapshot(id).records, fullRecords, "a refused approval deletes nobody")

        // --replan plans the same bundle against today's roster as a new held run; the old one is superseded.
        let replanned = try rosterflow("sync", "approve", heldID, "--replan", "--json").json()
        let newID = try XCTUnwrap(replanned["id"] as? String)
        XCTAssertNotEqual(newID, heldID)
        XCTAssertEqual(replanned["decision"] as? String, "held")
        let counts = try XCTUnwrap(replanned["counts"] as? [String: [String: Any]])
        XCTAssertEqual(counts["users"]?["deletes"] as? Int, 151)
        let deletes = counts.values.compactMap { $0["deletes"] as? Int }.reduce(0, +)
        XCTAssertEqual(try rosterflow("sync", "show", heldID, "--json").json()["decision"] as? String, "superseded")
        try rosterflow("sync", "approve", heldID, expect: 3)
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["state"] as? String, "on_hold")

        // The re-plan applies once; a second approval is refused.
        try rosterflow("sync", "approve", newID)
        XCTAssertEqual(try snapshot(id).records, fullRecords - deletes)
        try rosterflow("sync", "approve", newID, expect: 3)
        XCTAssertEqual(try rosterflow("integrations", "show", id, "--json").json()["state"] as? String, "shells_created")
    }

    func testAMistypedBundleIsTheOperatorsErrorAndTellsNobody() throws {
        let id = try scheduledIntegration()
        let before = try snapshot(id)
        for (path, status, words) in [
            (folder + "/nope.zip", Int32(66), "there is no file or folder at"),
            (folder + "/customers.csv", 64, "is neither a folder nor a .zip file"),
        ] {
            let result = try rosterflow("sync", "run", "--integration", id, "--bundle", path, "--json", expect: status)
            XCTAssertTrue(result.stderr.contains(words), result.stderr)
            XCTAssertTrue(result.stderr.contains("nothing was recorded and nobody was told"), result.stderr)
        }
        // A damaged zip given by hand.
        let damaged = folder + "/damaged.zip"
        try Data("PK\u{3}\u{4}this is not really a zip".utf8).write(to: URL(fileURLWithPath: damaged))
        let result = try rosterflow("sync", "run", "--integration", id, "--bundle", damaged, expect: 64)
        XCTAssertTrue(result.stderr.contains("cannot read the bundle at \(damaged)"), result.stderr)
        // No source configured and no --bundle.
        XCTAssertTrue(try rosterflow("sync", "run", "--integration", id, expect: 66).stderr.contains("has no sync source configured"))
        let after = try snapshot(id)
        XCTAssertEqual(after.runs.count, before.runs.count, "no run was recorded")
        XCTAssertEqual(after.outbox, before.outbox, "nobody was told")

        // The configured source is the district's: when it cannot be read, the run is recorded and the district told.
        let source = folder + "/nightly"
        try rosterflow("sample-bundle", source, "--users", "50", "--classes", "4", "--enrollments", "100")
        try rosterflow("integrations", "source", id, "--bundle", source)
        try FileManager.default.removeItem(atPath: source)
        try rosterflow("sync", "run", "--integration", id, expect: 65)
        let told = try snapshot(id)
        XCTAssertEqual(told.runs.first?.decision, .rejected)
        XCTAssertEqual(told.outbox.filter { $0 == "sync-failed" }.count, before.outbox.filter { $0 == "sync-failed" }.count + 1)
    }
}

extension CLITests {
    /// Every write acknowledged before a SIGKILL is in the database afterwards: the pipelined flush acknowledges a
    /// write only after its commit (and a flush that began after it), never before.
    func testAcknowledgedWritesSurviveAKillOfTheWriter() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.benchBinary)
        process.arguments = ["load", "--db", database, "--workflows", Self.workflows, "--districts", "400", "--courses", "10",
                             "--print-acks"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var acknowledged: [String] = []
        var buffer = ""
        let handle = out.fileHandleForReading
        while acknowledged.count < 300 {
            let data = handle.availableData
            if data.isEmpty { break }
            buffer += String(decoding: data, as: UTF8.self)
            while let newline = buffer.firstIndex(of: "\n") {
                let line = String(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.hasPrefix("locked ") { acknowledged.append(String(line.dropFirst(7))) }
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the load ended before it was killed")
        XCTAssertGreaterThanOrEqual(acknowledged.count, 300)

        let store = try SQLiteStore(path: database)
        try store.readNow { tx in
            for id in acknowledged {
                XCTAssertEqual(try tx.instance(id: id)?.state, "locked", "acknowledged, then lost: \(id)")
                XCTAssertNotNil(try tx.course(id: id)?.lockedAt, id)
            }
        }
    }
}

extension CLITests {
    /// Ctrl-C while `sync approve` applies a large held run: nothing of it is applied, the run stays held, the lock is
    /// released, and approving it again applies it whole.
    func testCtrlCDuringAnApprovalLeavesTheRunHeldAndNothingApplied() throws {
        let id = try scheduledIntegration()
        let small = folder + "/small", big = folder + "/big"
        try rosterflow("sample-bundle", small, "--users", "300", "--classes", "10", "--enrollments", "900", "--seed", "3")
        try rosterflow("sample-bundle", big, "--users", "10000", "--classes", "200", "--enrollments", "60000", "--seed", "2")
        try rosterflow("sync", "run", "--integration", id, "--bundle", small)
        let before = try snapshot(id)
        // Any update holds it: a large run waits for approval.
        let held = try rosterflow("sync", "run", "--integration", id, "--bundle", big, "--max-update-share", "0",
                                  "--max-delete-share", "1", "--json").json()
        XCTAssertEqual(held["decision"] as? String, "held")
        let runID = try XCTUnwrap(held["id"] as? String)

        let child = try Child(["sync", "approve", runID], database: database, environment: ["ROSTERFLOW_LOG_LEVEL": "debug"])
        XCTAssertTrue(child.waitFor("sync: approve: applying \(runID)"), child.stderr)
        kill(child.process.processIdentifier, SIGINT)
        let status = child.finish()
        let after = try snapshot(id)
        if status == 0 {
            // The signal came after the commit (a slow machine): the approval stands whole, and says so.
            XCTAssertTrue(child.stderr.contains("came after the change was committed"), child.stderr)
            XCTAssertEqual(after.records, try bundleRecords(big))
            return
        }
        XCTAssertEqual(status, 130, child.stderr)
        XCTAssertTrue(child.stderr.contains("cancelled by SIGINT, nothing applied"), child.stderr)
        XCTAssertEqual(after.records, before.records, "nothing of the approval is applied")
        XCTAssertEqual(after.runs.first { $0.id == runID }?.decision, .held, "the run is still held")
        XCTAssertNil(after.lock)
        try rosterflow("sync", "approve", runID)
        XCTAssertEqual(try snapshot(id).records, try bundleRecords(big))
    }
}
