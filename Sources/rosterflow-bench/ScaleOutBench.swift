import ArgumentParser
import Foundation
import RosterFlowApp
import RosterFlowCore
import StorageCore

/// `rosterflow-bench engine --db postgres://…`: the engine with several worker processes on one database, beside the
/// same on one SQLite file and a `pgbench` floor running the statements of one transition (state update with its row
/// version, history row, outbox row) at the same concurrency, all in one run.
enum ScaleOutBench {
    struct ProcessRun: Encodable {
        var engine: String
        var processes: Int
        var transitions: Int
        var seconds: Double
        var perSecond: Double
        /// CPU of the worker processes (not the server's) per transition.
        var workerCPUMicrosPerTransition: Double
    }

    struct Report: Encodable {
        var pgbenchFloorPerSecond: Double
        var pgbenchClients: Int
        var concurrencyPerProcess: Int
        var instances: Int
        var runs: [ProcessRun]
        /// The engine with one process on PostgreSQL over the pgbench floor (goal ≥ 0.25).
        var onePostgresProcessOverFloor: Double
        /// Aggregate rate with the most processes over the rate with one, on PostgreSQL (goal ≥ 1).
        var mostOverOnePostgresProcess: Double
    }

    /// One worker process's share: what `engine-worker` prints as its last line.
    struct WorkerResult: Codable {
        var transitions: Int
        var start: Double
        var end: Double
        var cpu: Double
    }

    static func run(
        url: String, processes: [Int], instances: Int, concurrency: Int, workflows: String, folder: String,
        log: (String) -> Void
    ) async throws -> Report {
        let floor = try await pgbenchFloor(url: url, instances: instances, clients: concurrency, folder: folder)
        log("pgbench floor (\(concurrency) clients, extended protocol): \(Int(floor)) transitions/s")
        var runs: [ProcessRun] = []
        for count in processes {
            for engine in ["PostgreSQL", "SQLite"] {
                let db = engine == "PostgreSQL"
                    ? withSchema(url, "bench_\(getpid())_\(count)")
                    : folder + "/scale-\(count).sqlite"
                let run = try await runProcesses(
                    engine: engine, db: db, processes: count, instances: instances, concurrency: concurrency,
                    workflows: workflows, folder: folder)
                log("\(engine), \(count) worker process(es) × \(concurrency) submitters: \(Int(run.perSecond)) transitions/s, "
                    + "\(Int(run.workerCPUMicrosPerTransition)) µs worker CPU per transition")
                runs.append(run)
            }
        }
        let postgres = runs.filter { $0.engine == "PostgreSQL" }
        let one = postgres.first { $0.processes == 1 }?.perSecond ?? 0
        let most = postgres.max { $0.processes < $1.processes }?.perSecond ?? 0
        return Report(
            pgbenchFloorPerSecond: floor, pgbenchClients: concurrency, concurrencyPerProcess: concurrency,
            instances: instances, runs: runs, onePostgresProcessOverFloor: one / max(floor, 1),
            mostOverOnePostgresProcess: most / max(one, 1))
    }

    static func withSchema(_ url: String, _ schema: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "schema=" + schema
    }

    /// Creates `instances` courses (50 per integration, each integration scheduled), then starts `processes` worker
    /// processes that drive their share through map → verify → add_content → student_started together.
    static func runProcesses(
        engine: String, db: String, processes: Int, instances: Int, concurrency: Int, workflows: String, folder: String
    ) async throws -> ProcessRun {
        let store = try RosterFlowService.openStore(databasePath: db)
        let service = try RosterFlowService(store: store, workflowsPath: workflows)
        let ids = try await prepare(service: service, instances: instances)
        let idsFile = folder + "/ids-\(engine)-\(processes).txt"
        try ids.joined(separator: "\n").write(toFile: idsFile, atomically: true, encoding: .utf8)
        let executable = CommandLine.arguments[0]
        var children: [(Process, Pipe)] = []
        for shard in 0..<processes {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable
                : FileManager.default.currentDirectoryPath + "/" + executable)
            process.arguments = [
                "engine-worker", "--db", db, "--workflows", workflows, "--ids", idsFile, "--shard", "\(shard)",
                "--shards", "\(processes)", "--concurrency", "\(concurrency)",
            ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            children.append((process, output))
        }
        var results: [WorkerResult] = []
        for (process, output) in children {
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
                let result = try? JSONDecoder().decode(WorkerResult.self, from: Data(line.utf8))
            else {
                throw RosterFlowError(.storage, "an engine worker process failed (exit \(process.terminationStatus))")
            }
            results.append(result)
        }
        let transitions = results.reduce(0) { $0 + $1.transitions }
        let seconds = (results.map(\.end).max() ?? 0) - (results.map(\.start).min() ?? 0)
        let cpu = results.reduce(0) { $0 + $1.cpu }
        return ProcessRun(
            engine: engine, processes: processes, transitions: transitions, seconds: seconds,
            perSecond: Double(transitions) / max(seconds, 1e-9), workerCPUMicrosPerTransition: cpu / Double(max(transitions, 1)) * 1e6)
    }

    /// The courses the runs drive: districts of 50 courses, each integration authenticated and scheduled.
    static func prepare(service: RosterFlowService, instances: Int) async throws -> [String] {
        _ = try await service.importCustomers(
            csv: "tenant_id,district,contact_email\n" + stride(from: 0, to: instances, by: 50)
                .map { "bench-\($0),Bench \($0),bench@example.org\n" }.joined(),
            file: "bench")
        var courseIDs: [String] = []
        for batch in stride(from: 0, to: instances, by: 50) {
            let integration = try await service.requestIntegration(
                tenantID: "bench-\(batch)", district: "Bench \(batch)", permission: "full", contactEmail: "bench@example.org",
                sender: .system)
            _ = try await service.authenticate(integrationID: integration.id, actor: "bench")
            _ = try await service.schedule(integrationID: integration.id, time: "02:00", timezone: "UTC", actor: "bench")
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in batch..<min(batch + 50, instances) {
                    group.addTask {
                        try await service.addCourse(
                            integrationID: integration.id, sourcedID: "c\(index)", title: "Course \(index)", sender: .system
                        ).id
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            courseIDs += ids
        }
        return courseIDs
    }

    /// Drives the queued courses through map → verify → add_content → student_started with `concurrency`
    /// submitters, each awaiting its own commits; returns the transitions made.
    static func driveCourses(service: RosterFlowService, queue: WorkQueue, concurrency: Int) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<max(1, concurrency) {
                group.addTask {
                    var done = 0
                    while let id = queue.next() {
                        _ = try await service.mapCourse(id: id, catalogTitle: "Catalog \(id)", baseID: "B-\(id)", actor: "dsp")
                        _ = try await service.verifyCourse(id: id, actor: "school")
                        _ = try await service.contentAdded(id: id, actor: "dsp")
                        _ = try await service.studentStarted(id: id, actor: "platform")
                        done += 4
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// `pgbench` running one transition's statements per transaction (the state update with its row version, the
    /// history row, the outbox row) with `clients` connections, about 8,000 transactions in all, on instances seeded
    /// like the engine's.
    static func pgbenchFloor(url: String, instances: Int, clients: Int, folder: String) async throws -> Double {
        let schema = "bench_floor_\(getpid())"
        let store = try RosterFlowService.openStore(databasePath: withSchema(url, schema))
        try await store.write { transaction in
            for index in 1...instances {
                try transaction.insertInstance(InstanceRecord(
                    id: "raw_\(index)", workflow: "raw", version: 1, state: "s0", subjectTitle: "raw \(index)", createdAt: 0,
                    enteredAt: 0, updatedAt: 0))
            }
        }
        let script = folder + "/transition.pgbench"
        try """
            \\set n random(1, \(instances))
            BEGIN;
            UPDATE workflow_instances SET previous_state = state, state = 'next', row_version = row_version + 1, entered_at = 1, updated_at = 1 WHERE id = 'raw_' || :n AND row_version >= 0;
            INSERT INTO transitions (instance_id, from_state, to_state, event, actor, role, at, reason, row_version) VALUES ('raw_' || :n, 's0', 'next', 'bench', 'bench', 'system', 1, NULL, 1);
            INSERT INTO outbox (id, instance_id, transition_seq, channel, recipient, template, payload, status, attempts, next_attempt_at, created_at) VALUES (gen_random_uuid()::text, 'raw_' || :n, NULL, 'email', 'dsp', 'bench', '{}', 'pending', 0, 1, 1);
            END;

            """.write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            // A number of transactions, not a duration (-T): pgbench ends a timed run on SIGALRM, which a child of
            // this process inherits blocked (the spawning thread's signal mask), so a timed run never ends.
            "pgbench", "-n", "-M", "extended", "-c", "\(clients)", "-j", "2", "-t", "\(max(200, 8_000 / max(clients, 1)))", "-f",
            script, libpqURL(url),
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["PGOPTIONS"] = "-c search_path=\(schema)"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let tps = Double(line.dropFirst("tps = ".count).prefix { $0 == "." || $0.isNumber })
        else {
            throw RosterFlowError(.storage, "pgbench failed (is it installed? Debian: postgresql-contrib): \(text)")
        }
        return tps
    }

    /// The URL without RosterFlow's own query items, for other libpq clients (pgbench).
    static func libpqURL(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.queryItems = components.queryItems?.filter { !["schema", "pool_size", "pool_timeout"].contains($0.name) }
        if components.queryItems?.isEmpty == true { components.queryItems = nil }
        return components.string ?? url
    }
}

extension RosterFlowBench {
    /// One worker process of `engine --db`: drives its shard of the course ids and prints a JSON result line.
    struct EngineWorker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "engine-worker", abstract: "One worker process of `engine --db` (started by it).", shouldDisplay: false)

        @Option var db: String
        @Option var workflows: String = "Workflows"
        @Option var ids: String
        @Option var shard: Int
        @Option var shards: Int
        @Option var concurrency: Int = 16

        func run() async throws {
            let store = try RosterFlowService.openStore(databasePath: db)
            let service = try RosterFlowService(store: store, workflowsPath: workflows)
            let all = try String(contentsOfFile: ids, encoding: .utf8).split(separator: "\n").map(String.init)
            let mine = all.enumerated().filter { $0.offset % shards == shard }.map(\.element)
            let queue = WorkQueue(mine)
            let cpuBefore = RosterFlowBench.EngineBench.cpuSeconds()
            let start = Date().timeIntervalSince1970
            let steps = try await ScaleOutBench.driveCourses(service: service, queue: queue, concurrency: concurrency)
            let end = Date().timeIntervalSince1970
            let result = ScaleOutBench.WorkerResult(
                transitions: steps, start: start, end: end, cpu: RosterFlowBench.EngineBench.cpuSeconds() - cpuBefore)
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        }
    }
}
