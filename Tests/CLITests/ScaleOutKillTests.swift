import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StorageCore
import StoragePostgres
import StorageSQLite
import TestPeers
import XCTest

/// Scale-out on one database: three `rosterflow worker` processes and two `rosterflow serve --no-worker` processes
/// drive many districts with their courses through the whole lifecycle over the HTTP API — requested (the signed
/// ClassLink hook), authenticated, scheduled, a nightly sync run by a worker that creates the course shells, each
/// course mapped, verified and given content, the district taken live, each course locked (the API event or the signed
/// student-started hook) — with the requests spread over both servers by 16 concurrent clients, while one worker is
/// killed with SIGKILL at a moment it holds leased deliveries. The other workers take them over once the lease runs
/// out. At the end:
///
/// - every integration is `live` and every course `locked`, and every instance's history (over the API) replays to
///   its state: each transition leaves from the state the one before reached, and the row version counts the
///   transitions; the stored transitions carry consecutive row versions;
/// - every integration was synced once by the nightly scheduler (one applied run);
/// - every notification the outbox records was sent, and reached both real receivers — a Standard Webhooks receiver
///   (Python `standardwebhooks`, every signature verified) and an SMTP server (aiosmtpd) — under its idempotency key
///   (`webhook-id`, `Message-ID`): no key missing, no key the outbox does not have, and a key twice only for a delivery
///   the killed worker held when it died (sent, its outcome never recorded, sent again under the same key, with the
///   same bytes).
///
/// The database is the PostgreSQL server `ROSTERFLOW_TEST_POSTGRES` names (a fresh `schema=` per run) when it is set,
/// else one SQLite file shared by the five processes. `ROSTERFLOW_KILL_TEST_SCALE` sets the number of integrations.
final class ScaleOutKillTests: XCTestCase {
    /// Integrations driven through the lifecycle (`ROSTERFLOW_KILL_TEST_SCALE`, default 1,000).
    static var scale: Int {
        ProcessInfo.processInfo.environment["ROSTERFLOW_KILL_TEST_SCALE"].flatMap { Int($0) }.map { max(4, $0) } ?? 1_000
    }
    /// Concurrent API clients.
    static let clients = 16
    /// How long a worker's claim on a delivery lasts: short, so the survivors take the killed worker's claims over soon,
    /// and still well above the time a batch takes to send.
    static let leaseSeconds = 10.0
    /// How long one send may take (SMTP and webhooks): with the time to record it, it must fit in a lease, so a worker
    /// starts a delivery only in the first 5 s of its lease, and gives back those whose turn comes later.
    static let sendTimeout = 4.0
    static let victim = "worker-victim"

    var folder: String!
    var processes: ChildProcesses!
    var database: String!
    /// The PostgreSQL server and schema, when the test runs on one.
    var postgres: (server: String, schema: String)?

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "rosterflow-scale-out-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        processes = ChildProcesses()
        if let server = ProcessInfo.processInfo.environment["ROSTERFLOW_TEST_POSTGRES"], !server.isEmpty {
            XCTAssertFalse(server.contains("schema="), "ROSTERFLOW_TEST_POSTGRES names a schema; the test makes its own per run")
            let schema = "rf_kill_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            postgres = (server, schema)
            // The default pool size (fewer connections than the test has clients): async transactions give their
            // connection back on their own thread, so synchronous reads waiting for one on the cooperative threads
            // cannot starve them.
            database = server + (server.contains("?") ? "&" : "?") + "schema=" + schema
        } else {
            database = folder + "/scale-out.sqlite"
        }
    }

    override func tearDownWithError() throws {
        processes?.stopAll()
        if let postgres {
            // The run's schema goes with it (best effort: psql may be missing; the server is shared, never stopped).
            let server = String(postgres.server.prefix { $0 != "?" })
            _ = try? Binary.run(["-q", "-c", "DROP SCHEMA IF EXISTS \"\(postgres.schema)\" CASCADE", server], in: folder,
                                executable: "/usr/bin/psql")
        }
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }

    // MARK: The test

    func testWorkersAndServersOnOneDatabaseCarryEveryIntegrationThroughAWorkerKilledMidDelivery() async throws {
        do {
            try await scenario()
        } catch let failure as ScaleOutFailure {
            // What the processes said last, to see why.
            throw ScaleOutFailure("\(failure)\n\(processes.logTails(bytes: 3_000))")
        }
    }

    func scenario() async throws {
        let n = Self.scale
        var phases: [(String, Double)] = []
        var phaseStart = Date()
        func phase(_ name: String) {
            phases.append((name, Date().timeIntervalSince(phaseStart)))
            phaseStart = Date()
        }
        let started = Date()

        // The real receivers.
        let secret = "whsec_" + Data((0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }).base64EncodedString()
        // Each message's first attempt is recorded on arrival and answered 0.1 s later: deliveries stay in flight.
        let smtp = try SMTPPeer(folder: folder, arguments: ["--hold-first", "0.1"])
        processes.adopt("smtp", smtp.process)
        let webhooks = try WebhookPeer(folder: folder, secret: secret)
        processes.adopt("webhooks", webhooks.process)
        try """
            {"smtp": {"url": "smtp://127.0.0.1:\(smtp.port)", "timeout_seconds": \(Self.sendTimeout)},
             "from": "RosterFlow <notify@rosterflow.test>",
             "recipients": {"vendor_admins": ["ana@vendor.test"], "dsp": ["kim@dsp.test"]},
             "webhooks": [{"name": "platform", "url": "http://127.0.0.1:\(webhooks.port)/hooks", "secret": "\(secret)"}],
             "retry": {"base_seconds": 0.2, "max_seconds": 2, "max_attempts": 50}, "lease_seconds": \(Self.leaseSeconds),
             "concurrency": 8, "webhook_timeout_seconds": \(Self.sendTimeout)}
            """.write(toFile: folder + "/rosterflow.json", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: folder + "/rosterflow.json")

        // Set-up: the registry, the hook sender, the accounts (one school admin per district), the bundle.
        try cli("migrate")
        let tenants = (0..<n).map { "kt-\($0)" }
        try ("tenant_id,district,contact_email\n" + (0..<n).map { "kt-\($0),Scale District \($0),admin@d\($0).test\n" }.joined())
            .write(toFile: folder + "/customers.csv", atomically: true, encoding: .utf8)
        try cli("customers", "import", folder + "/customers.csv")
        let hookSecret = try XCTUnwrap(try Self.object(cli("hooks", "senders", "add", "classlink", "--json"))["secret"] as? String)
        let signer = try HookSigner(secret: hookSecret)
        try ("email,name,role,districts\nana@vendor.test,Ana,vendor_admin,\nkim@dsp.test,Kim,dsp,\(tenants.joined(separator: " "))\n"
            + (0..<n).map { "school-\($0)@d\($0).test,School \($0),school_admin,kt-\($0)\n" }.joined())
            .write(toFile: folder + "/accounts.csv", atomically: true, encoding: .utf8)
        let tokens = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bench("seed", "--accounts", folder + "/accounts.csv").utf8))
            as? [String: String])
        let vendor = try XCTUnwrap(tokens["ana@vendor.test"]), dsp = try XCTUnwrap(tokens["kim@dsp.test"])
        let school = try (0..<n).map { try XCTUnwrap(tokens["school-\($0)@d\($0).test"]) }
        let bundle = folder + "/district"
        try cli("sample-bundle", bundle, "--users", "16", "--classes", "8", "--enrollments", "32")
        let coursesPerIntegration = try String(contentsOfFile: bundle + "/courses.csv", encoding: .utf8)
            .split(separator: "\n").count - 1
        XCTAssertGreaterThan(coursesPerIntegration, 1)
        phase("set-up")

        // Three workers, two API servers.
        var workers: [Process] = []
        for name in [Self.victim, "worker-1", "worker-2"] {
            workers.append(try processes.start(
                name, executable: CLITests.binary,
                ["worker", "--worker-id", name, "--poll-interval", "0.2", "--timer-interval", "2", "--sync-interval", "1"],
                environment: environment(), in: folder, log: folder + "/\(name).log"))
        }
        var servers: [String] = []
        var serverProcesses: [Process] = []
        for index in 0..<2 {
            let output = Pipe()
            let server = try processes.start(
                "serve-\(index)", executable: CLITests.binary, ["serve", "--port", "0", "--no-worker"],
                environment: environment(), in: folder, log: folder + "/serve-\(index).log", output: output)
            serverProcesses.append(server)
            guard let line = CLITests.readLine(output.fileHandleForReading, timeout: 60), line.hasPrefix("listening on ") else {
                throw ScaleOutFailure("serve-\(index) did not start:\n\(processes.logTails())")
            }
            servers.append(String(line.dropFirst("listening on ".count).prefix { $0 != " " }))
        }
        let client = ScaleOutClient(servers: servers)
        let store = try openStore()
        phase("start")

        // The victim is killed once some notifications arrived, at a moment it holds leased deliveries.
        let firstNotices = max(4, n / 3)
        let victimProcess = workers[0], survivors = Array(workers[1...])
        let processesForKill = processes!, victimForKill = Unchecked(value: victimProcess)
        let received = [smtp.out, webhooks.out]
        async let killed: Set<String> = Self.onThread {
            try Self.killWhileHoldingDeliveries(
                victim: victimForKill.value, store: store, arrivedAtLeast: firstNotices,
                arrived: { received.map(Self.lineCount).reduce(0, +) }, seconds: 60 + Double(n) * 0.2,
                logs: { processesForKill.logTails() })
        }

        // Requested: ClassLink's signed app-enabled hook, one per district.
        let ids = Collected([String](repeating: "", count: n))
        try await concurrently(n, lanes: Self.clients) { i in
            let body = try JSONSerialization.data(withJSONObject: [
                "tenantId": "kt-\(i)", "district": ["sourcedId": "district-\(i)", "name": "Scale District \(i)"],
                "permissionType": "Full", "contact": ["name": "Admin \(i)", "email": "admin@d\(i).test"],
            ] as [String: Any], options: [.sortedKeys])
            let answer = try await client.send(
                "POST", "/hooks/v1/app-enabled?sender=classlink", server: i, body: body,
                sign: { signer.headers(id: "app-enabled-kt-\(i)", body: body) })
            let change = try Self.firstChange(answer, "app-enabled kt-\(i)")
            try Self.expect(change["to"] as? String == "requested", "app-enabled kt-\(i): \(answer.text)")
            let id = try XCTUnwrap(change["instanceId"] as? String)
            ids.update { $0[i] = id }
        }
        let integrationIDs = ids.current
        phase("request (hook)")

        // Authenticated: the vendor admin checks each request against the registry.
        try await concurrently(n, lanes: Self.clients) { i in
            let id = integrationIDs[i]
            let answer = try await client.send(
                "POST", "/api/v1/integrations/\(id)/events", server: i + 1, token: vendor, json: ["event": "authenticate"],
                headers: ["Idempotency-Key": "authenticate-\(id)"])
            try Self.expectStep(answer, to: "authenticated", "authenticate \(id)")
        }
        phase("authenticate")
        let authenticateSeconds = phases.last!.1

        let heldAtDeath = try await killed
        phase("kill (waited for)")
        XCTAssertEqual(victimProcess.terminationReason, .uncaughtSignal)
        XCTAssertEqual(victimProcess.terminationStatus, SIGKILL)

        // Each integration reads the same bundle in its nightly sync.
        _ = try bench("seed", "--source-for-all", bundle)

        // Scheduled: each school gives its sync time, the next whole minute that leaves time to schedule every district
        // before it; a district scheduled too late (its next sync tomorrow) is given a later minute.
        var waiting = Array(0..<n)
        var syncTimes: [Int: Date] = [:]
        for round in 0..<4 where !waiting.isEmpty {
            let batch = waiting
            let at = Self.nextWholeMinute(after: Date().addingTimeInterval(
                authenticateSeconds * 1.5 * Double(waiting.count) / Double(n) + 8))
            let time = Self.hourMinute(at)
            let answeredAt = Collected([Int: Date]())
            try await concurrently(batch.count, lanes: Self.clients) { w in
                let i = batch[w], id = integrationIDs[i]
                let answer = try await client.send(
                    "POST", "/api/v1/integrations/\(id)/events", server: i, token: school[i],
                    json: ["event": "schedule", "time": time, "timezone": "UTC"], headers: ["Idempotency-Key": "schedule-\(id)-\(round)"])
                try Self.expectStep(answer, to: "scheduled", "schedule \(id)")
                answeredAt.update { $0[i] = Date() }
            }
            var late: [Int] = []
            for i in batch {
                syncTimes[i] = at
                guard let answered = answeredAt.current[i], answered >= at.addingTimeInterval(-1) else { continue }
                // Answered around its sync minute: scheduled for today only if the server took it before the minute.
                let view = try await client.send("GET", "/api/v1/integrations/\(integrationIDs[i])", server: i, token: vendor).json()
                let next = (view["nextSyncAt"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }
                if let next, next.timeIntervalSince(at) > 3_600 { late.append(i) }
            }
            waiting = late
        }
        XCTAssertTrue(waiting.isEmpty, "\(waiting.count) integrations could not be scheduled before their sync time")
        phase("schedule")

        // The nightly syncs, run by the surviving workers at each school's time, create the course shells.
        let lastSync = syncTimes.values.max() ?? Date()
        try await waitUntil(
            "every integration has its course shells", seconds: lastSync.timeIntervalSinceNow + 120 + Double(n) * 0.3
        ) {
            try await self.countIntegrations(state: "shells_created", client: client, token: vendor) == n
        } detail: {
            let states = try await self.statesOf(integrationIDs, client: client, token: vendor)
            return "integrations by state: \(states)"
        }
        phase("nightly syncs")

        // Mapped, verified, given content; live; locked. Each step over the API, alternating between the servers.
        let courseIDs = Collected([String: [(id: String, sourcedID: String)]]())
        try await concurrently(n, lanes: Self.clients) { i in
            let id = integrationIDs[i]
            var server = i
            func next() -> Int { server += 1; return server }
            let page = try await client.send("GET", "/api/v1/integrations/\(id)/courses?limit=200", server: next(), token: dsp).json()
            let courses = try XCTUnwrap(page["items"] as? [[String: Any]]).map {
                (id: $0["id"] as? String ?? "", sourcedID: $0["sourcedID"] as? String ?? "")
            }.sorted { $0.sourcedID < $1.sourcedID }
            try Self.expect(courses.count == coursesPerIntegration, "\(id) has \(courses.count) courses, not \(coursesPerIntegration)")
            courseIDs.update { $0[id] = courses }
            for course in courses {
                let path = "/api/v1/courses/\(course.id)/events"
                try Self.expectStep(try await client.send(
                    "POST", path, server: next(), token: dsp,
                    json: ["event": "map", "catalog": "Catalog \(course.sourcedID)", "baseID": "KT\(i)-\(course.sourcedID)"],
                    headers: ["Idempotency-Key": "map-\(course.id)"]), to: "mapped", "map \(course.id)")
                try Self.expectStep(try await client.send(
                    "POST", path, server: next(), token: school[i], json: ["event": "verify"],
                    headers: ["Idempotency-Key": "verify-\(course.id)"]), to: "verified", "verify \(course.id)")
                try Self.expectStep(try await client.send(
                    "POST", path, server: next(), token: dsp, json: ["event": "add_content"],
                    headers: ["Idempotency-Key": "add-content-\(course.id)"]), to: "content_added", "add_content \(course.id)")
            }
            try Self.expectStep(try await client.send(
                "POST", "/api/v1/integrations/\(id)/events", server: next(), token: vendor, json: ["event": "go_live"],
                headers: ["Idempotency-Key": "go-live-\(id)"]), to: "live", "go_live \(id)")
            for (k, course) in courses.enumerated() {
                if k % 2 == 0 {
                    try Self.expectStep(try await client.send(
                        "POST", "/api/v1/courses/\(course.id)/events", server: next(), token: dsp, json: ["event": "student_started"],
                        headers: ["Idempotency-Key": "student-started-\(course.id)"]), to: "locked", "student_started \(course.id)")
                } else {
                    let body = try JSONSerialization.data(
                        withJSONObject: ["tenantId": "kt-\(i)", "courseSourcedId": course.sourcedID], options: [.sortedKeys])
                    let answer = try await client.send(
                        "POST", "/hooks/v1/student-started?sender=classlink", server: next(), body: body,
                        sign: { signer.headers(id: "student-started-\(course.id)", body: body) })
                    let change = try Self.firstChange(answer, "student-started hook for \(course.id)")
                    try Self.expect(change["to"] as? String == "locked", "student-started hook for \(course.id): \(answer.text)")
                }
            }
        }
        phase("courses, go live, lock")

        // Every notification is sent.
        try await waitUntil("the outbox is sent", seconds: 120 + Double(n) * 0.2) {
            let messages = try store.readNow { try $0.outboxMessages(status: nil, limit: 100_000_000) }
            return !messages.isEmpty && messages.allSatisfy { $0.status == .sent }
        } detail: {
            let messages = try store.readNow { try $0.outboxMessages(status: nil, limit: 100_000_000) }
            return "outbox by status: \(Dictionary(grouping: messages, by: \.status.rawValue).mapValues(\.count))"
        }
        phase("outbox drained")
        for process in survivors + serverProcesses {
            XCTAssertTrue(process.isRunning, "a worker or server died:\n\(processes.logTails())")
        }

        // Final states, and histories that replay to them (over the API, from both servers).
        let courses = courseIDs.current
        try await concurrently(n, lanes: Self.clients) { i in
            let id = integrationIDs[i]
            let view = try await client.send("GET", "/api/v1/integrations/\(id)", server: i, token: vendor)
            try Self.checkReplay(try view.json(), id: id, state: "live", path: [
                "requested", "authenticated", "scheduled", "shells_created", "content_mapped", "live",
            ], repeatable: ["scheduled"])
            for course in courses[id] ?? [] {
                let shown = try await client.send("GET", "/api/v1/courses/\(course.id)", server: i + 1, token: dsp).json()
                try Self.checkReplay(shown, id: course.id, state: "locked", path: [
                    "shell_created", "mapped", "verified", "content_added", "locked",
                ], repeatable: [])
                try Self.expect(shown["locked"] as? Bool == true, "\(course.id) is not marked locked")
            }
        }
        XCTAssertEqual(courses.values.map(\.count).reduce(0, +), n * coursesPerIntegration)

        // The stored transitions: consecutive row versions ending at the instance's.
        try store.readNow { tx in
            for workflow in ["integration", "course-mapping"] {
                let instances = try tx.instances(workflow: workflow, states: nil)
                XCTAssertEqual(instances.count, workflow == "integration" ? n : n * coursesPerIntegration, workflow)
                for instance in instances {
                    let versions = try tx.transitions(instanceID: instance.id).map(\.rowVersion)
                    try Self.expect(versions == Array(1...max(1, versions.count)) && versions.last == instance.rowVersion,
                                    "\(instance.id): stored row versions \(versions), instance at \(instance.rowVersion)")
                }
            }
        }

        // One nightly sync per integration, run once: the workers all read the same due list, and a worker that gets
        // an integration's sync lock after another ran its sync finds it no longer due.
        let runs = try store.readNow { try $0.syncRuns(integrationID: nil) }
        let runsByIntegration = Dictionary(grouping: runs, by: \.integrationID)
        for id in integrationIDs {
            let decisions = (runsByIntegration[id] ?? []).map(\.decision.rawValue)
            XCTAssertEqual(decisions, ["applied"], "\(id) was synced: \(decisions)")
        }

        // The outbox as the store records it, through the CLI.
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(cli("outbox", "list", "--json", "--limit", "100000000").utf8)) as? [[String: Any]])
        let outboxIDs = Set(listed.compactMap { $0["id"] as? String })
        XCTAssertEqual(outboxIDs.count, listed.count)
        var templatesByIntegration: [String: [String]] = [:]
        for message in listed {
            XCTAssertEqual(message["status"] as? String, "sent", "\(message)")
            templatesByIntegration[message["instanceID"] as? String ?? "?", default: []].append(message["template"] as? String ?? "?")
        }
        let once = ["integration-requested", "sync-time-needed", "shells-created", "integration-live"]
        let digests = ["mappings-awaiting-verification", "verified-courses"]
        for id in integrationIDs {
            let sent = templatesByIntegration.removeValue(forKey: id) ?? []
            let counts = Dictionary(grouping: sent, by: { $0 }).mapValues(\.count)
            for template in once { XCTAssertEqual(counts[template], 1, "\(id): \(template) in \(sent)") }
            for (template, count) in counts where !once.contains(template) {
                XCTAssertTrue(digests.contains(template) && count == 1, "\(id): \(template) sent \(count) times")
            }
        }
        XCTAssertTrue(templatesByIntegration.isEmpty, "messages about other instances: \(templatesByIntegration.prefix(5))")

        // The receivers: every key of the outbox, no other, and a key twice only where the killed worker held it.
        let heldMessages = Set(heldAtDeath.map { String($0.prefix { $0 != "/" }) })
        let held = try store.readNow { tx in try heldMessages.flatMap { try tx.deliveries(outboxID: $0) } }
            .filter { heldAtDeath.contains($0.id) }
        XCTAssertEqual(held.count, heldAtDeath.count)
        for delivery in held {
            XCTAssertEqual(delivery.status, .sent, "\(delivery.id), held by the killed worker, was not taken over")
            XCTAssertNotEqual(delivery.claimedBy, Self.victim)
        }
        let hooks = webhooks.records()
        XCTAssertTrue(hooks.allSatisfy { $0["verified"] as? Bool == true && $0["status"] as? Int == 200 }, "a webhook did not verify")
        let mails = smtp.records()
        XCTAssertTrue(mails.allSatisfy { ($0["reply"] as? String)?.hasPrefix("250") == true }, "a mail was refused")
        let hookArrivals = Dictionary(grouping: hooks, by: { $0["id"] as? String ?? "" })
        let mailArrivals = Dictionary(grouping: mails, by: { Self.outboxID(messageID: $0["message_id"] as? String ?? "") })
        let channels: [(String, [String: [[String: Any]]], ([String: Any]) -> String)] = [
            ("webhook", hookArrivals, { (record: [String: Any]) in
                // The body as canonical JSON: the same bytes were sent when the same keys and values arrived.
                let body = record["body"].flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
                return body.map { String(decoding: $0, as: UTF8.self) } ?? ""
            }),
            ("email", mailArrivals, { (record: [String: Any]) in record["sha256"] as? String ?? "" }),
        ]
        for (channel, arrivals, same) in channels {
            let keys = Set(arrivals.keys)
            XCTAssertEqual(keys.subtracting(outboxIDs).sorted().prefix(10), [], "\(channel): keys the outbox does not have")
            XCTAssertEqual(outboxIDs.subtracting(keys).sorted().prefix(10), [], "\(channel): messages that never arrived")
            for (key, records) in arrivals where records.count > 1 {
                let delivery = channel == "email" ? key + "/email" : key + "/webhook/platform"
                XCTAssertTrue(heldAtDeath.contains(delivery), "\(channel) \(key) arrived \(records.count) times, not held by the killed worker")
                XCTAssertEqual(Set(records.map(same)).count, 1, "\(channel) \(key) arrived twice with different contents")
            }
        }
        let repeated = hookArrivals.values.filter { $0.count > 1 }.count + mailArrivals.values.filter { $0.count > 1 }.count

        phase("checks")
        let report = phases.map { "\($0.0) \(String(format: "%.1f", $0.1)) s" }.joined(separator: ", ")
        print("""
            scale-out kill test on \(postgres == nil ? "SQLite" : "PostgreSQL"): \(n) integrations, \(n * coursesPerIntegration) \
            courses, \(outboxIDs.count) messages (\(hooks.count) webhook and \(mails.count) mail arrivals); the killed worker \
            held \(heldAtDeath.count) deliveries, \(repeated) of them arrived twice; \(runs.count) nightly syncs; \
            \(String(format: "%.1f", Date().timeIntervalSince(started))) s in all: \(report)
            """)
    }

    // MARK: The kill

    /// Waits until `arrived()` reaches `arrivedAtLeast`, then repeatedly stops the victim (SIGSTOP) and reads which
    /// deliveries it holds; once it holds some, kills it (SIGKILL) and returns their ids: stopped, it could not send or
    /// record anything more. The survivors are never stopped, so their leases run as they would in production.
    static func killWhileHoldingDeliveries(
        victim: Process, store: any RosterFlowStore, arrivedAtLeast: Int, arrived: () -> Int,
        seconds: Double, logs: () -> String
    ) throws -> Set<String> {
        let deadline = Date().addingTimeInterval(seconds)
        while arrived() < arrivedAtLeast {
            guard Date() < deadline, victim.isRunning else {
                throw ScaleOutFailure("only \(arrived()) notifications arrived in \(Int(seconds)) s:\n\(logs())")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        while Date() < deadline {
            kill(victim.processIdentifier, SIGSTOP)
            let holds = try heldDeliveries(store, worker: Self.victim)
            if !holds.isEmpty {
                kill(victim.processIdentifier, SIGKILL)
                kill(victim.processIdentifier, SIGCONT)
                victim.waitUntilExit()
                return holds
            }
            kill(victim.processIdentifier, SIGCONT)
            Thread.sleep(forTimeInterval: 0.03)
        }
        kill(victim.processIdentifier, SIGCONT)
        throw ScaleOutFailure("the victim never held a delivery while notifications were being sent:\n\(logs())")
    }

    /// The deliveries `worker` holds: pending, claimed by it (one query, so the victim is stopped only briefly).
    static func heldDeliveries(_ store: any RosterFlowStore, worker: String) throws -> Set<String> {
        try store.readNow { tx in
            Set(try tx.deliveries(status: .pending, limit: 100_000_000).filter { $0.claimedBy == worker }.map(\.id))
        }
    }

    // MARK: Helpers

    /// The environment of every `rosterflow` the test runs.
    func environment() -> [String: String] {
        [
            "ROSTERFLOW_DB": database, "ROSTERFLOW_WORKFLOWS": CLITests.workflows, "ROSTERFLOW_CONFIG": folder + "/rosterflow.json",
            "ROSTERFLOW_TEMPLATES": Self.repositoryRoot + "/Templates", "ROSTERFLOW_LOG_LEVEL": "notice",
        ]
    }

    /// Runs `rosterflow ARGUMENTS` on the test's database and returns its output; anything but exit 0 fails.
    @discardableResult
    func cli(_ arguments: String...) throws -> String {
        let result = try Binary.run(arguments, environment: environment().mapValues { Optional($0) }, in: folder)
        guard result.status == 0 else {
            throw ScaleOutFailure("rosterflow \(arguments.prefix(4).joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// Runs `rosterflow-bench ARGUMENTS --db … --workflows …` and returns its output; anything but exit 0 fails.
    func bench(_ arguments: String...) throws -> String {
        let result = try Binary.run(
            arguments + ["--db", database, "--workflows", CLITests.workflows], environment: environment().mapValues { Optional($0) }, in: folder,
            executable: CLITests.benchBinary)
        guard result.status == 0 else {
            throw ScaleOutFailure("rosterflow-bench \(arguments.prefix(2).joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    /// The store the processes share, opened in the test for what only the store shows (leases, stored row versions).
    func openStore() throws -> any RosterFlowStore {
        if postgres == nil { return try SQLiteStore(path: database) }
        return try PostgresStore(url: database)
    }

    /// How many integrations are in `state`, counted over the API's pages.
    func countIntegrations(state: String, client: ScaleOutClient, token: String) async throws -> Int {
        var count = 0, cursor: String?, page = 0
        repeat {
            let answer = try await client.send(
                "GET", "/api/v1/integrations?state=\(state)&limit=200" + (cursor.map { "&cursor=\($0)" } ?? ""), server: page, token: token)
            let json = try answer.json()
            count += (json["items"] as? [Any])?.count ?? 0
            cursor = json["nextCursor"] as? String
            page += 1
        } while cursor != nil
        return count
    }

    /// The integrations counted by state, for a failure message.
    func statesOf(_ ids: [String], client: ScaleOutClient, token: String) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for state in ["requested", "authenticated", "scheduled", "shells_created", "on_hold", "content_mapped", "live"] {
            let count = try await countIntegrations(state: state, client: client, token: token)
            if count > 0 { counts[state] = count }
        }
        return counts
    }

    /// Polls `condition` every half second for at most `seconds`; fails with `what` and `detail()` when it never holds.
    func waitUntil(
        _ what: String, seconds: Double, _ condition: () async throws -> Bool, detail: () async throws -> String
    ) async throws {
        let deadline = Date().addingTimeInterval(max(seconds, 10))
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        if try await condition() { return }
        throw ScaleOutFailure("not within \(Int(seconds)) s: \(what); \(try await detail())\n\(processes.logTails())")
    }

    /// Runs `body` on a thread of its own (it blocks), for an async caller.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        guard condition else { throw ScaleOutFailure(message()) }
    }

    /// A workflow step's answer: 200, and the instance moved to `state`.
    static func expectStep(_ answer: HTTPAnswer, to state: String, _ what: String) throws {
        try expect(answer.status == 200, "\(what): \(answer.status) \(answer.text.prefix(600))")
        try expect(try answer.json()["to"] as? String == state, "\(what) did not reach \(state): \(answer.text.prefix(600))")
    }

    /// The first change an applied hook reports.
    static func firstChange(_ answer: HTTPAnswer, _ what: String) throws -> [String: Any] {
        try expect(answer.status == 200, "\(what): \(answer.status) \(answer.text.prefix(600))")
        guard let change = (try answer.json()["changes"] as? [[String: Any]])?.first else {
            throw ScaleOutFailure("\(what) changed nothing: \(answer.text.prefix(600))")
        }
        return change
    }

    /// An instance shown by the API is in `state`, its history replays to it (created into the path's first state, each
    /// transition from the state the one before reached), it went along `path` (a state in `repeatable` may be
    /// re-entered in place), and its row version is its number of history rows.
    static func checkReplay(_ view: [String: Any], id: String, state: String, path: [String], repeatable: Set<String>) throws {
        let history = try XCTUnwrap(view["history"] as? [[String: Any]], "\(id) has no history")
        try expect(view["state"] as? String == state, "\(id) is \(view["state"] ?? "?"), not \(state)")
        var at: String?
        var visited: [String] = []
        for entry in history {
            let from = entry["from"] as? String, to = entry["to"] as? String ?? "?"
            try expect(from == at, "\(id): a transition from \(from ?? "nothing") follows one that reached \(at ?? "nothing")")
            if to != at || !repeatable.contains(to) { visited.append(to) }
            at = to
        }
        try expect(at == state, "\(id): its history ends in \(at ?? "nothing"), the instance is \(state)")
        try expect(visited == path, "\(id) went \(visited.joined(separator: " → "))")
        try expect(view["rowVersion"] as? Int == history.count, "\(id): row version \(view["rowVersion"] ?? "?") after \(history.count) history rows")
    }

    /// The number of lines in the file at `path` (a peer's records).
    static func lineCount(_ path: String) -> Int {
        ((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()).reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }

    /// `msg_…` from `<msg_…@rosterflow.test>`.
    static func outboxID(messageID: String) -> String {
        String(messageID.drop { $0 == "<" }.prefix { $0 != "@" })
    }

    static func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// The first whole minute (UTC) at or after `date`.
    static func nextWholeMinute(after date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.up) * 60)
    }

    /// `HH:MM` of `date` in UTC.
    static func hourMinute(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }
}
