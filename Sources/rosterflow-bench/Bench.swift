import RosterFlowApp
import ArgumentParser
import Foundation
import RosterFlowCore
import StorageCore
import StorageSQLite
import WorkflowEngine

#if canImport(Glibc)
import Glibc
#endif

extension RosterFlowBench {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Benchmarks. Figures are only comparable within one run: read the ratios.",
            subcommands: [EngineBench.self, EngineWorker.self, SyncBench.self, NotifyBench.self, InputBench.self, BenchReceiverCommand.self, OnDemandBench.self])
    }

    struct EngineBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "engine",
            abstract: "Drive course-mapping instances through their lifecycle with durable commits (synchronous=FULL).",
            discussion: """
                Measures, in one run and one folder: the disk's fdatasync rate; the raw SQLite floor (the same state \
                updates and history rows written with no engine, 100 transitions per transaction); transitions/s with \
                one commit per event; and transitions/s with group commit under C concurrent submitters, once with the \
                log fsynced inside each commit (synchronous=FULL) and once with the pipelined flusher (a \
                write is acknowledged only after an fdatasync that began after its commit).
                """)

        @Option(help: "Course-mapping instances driven through map → verify → add_content → student_started.")
        var instances = 4_000
        @Option(help: "Concurrent submitters for the group-commit run.")
        var concurrency = 64
        @Option(help: "Instances for the one-commit-per-event run (it is bounded by the disk's fsync rate).")
        var perEventInstances = 250
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).")
        var dir: String?
        @Option(help: "Workflow definitions.") var workflows: String = "Workflows"
        @Option(help: ArgumentHelp(
            "A PostgreSQL server (postgres://…): run the scale-out comparison instead — worker processes on one database, beside SQLite and a pgbench floor.",
            valueName: "URL"))
        var db: String?
        @Option(help: "With --db: the worker process counts to run, comma-separated.")
        var processes: String = "1,2,4"
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Report: Encodable {
            var fsyncPerSecond: Double
            var rawFloorTransitionsPerSecond: Double
            var perEventTransitionsPerSecond: Double
            /// Group commit with the log fsynced inside each commit (SQLite synchronous=FULL).
            var groupCommitFullTransitionsPerSecond: Double
            /// Group commit with the log fsynced by the pipelined flusher (same durability).
            var groupCommitTransitionsPerSecond: Double
            var groupCommitConcurrency: Int
            var instances: Int
            var perEventInstances: Int
            var groupOverFloor: Double
            var groupOverPerEvent: Double
            var perEventOverFsync: Double
        }

        func run() async throws {
            if let db {
                try await runScaleOut(url: db)
                return
            }
            try await Output.run(json: json) {
                let workspace = try BenchFolder(dir: dir, name: "engine")
                defer { workspace.remove() }
                let folder = workspace.path

                let fsync = try Self.fsyncRate(folder: folder)
                log("fdatasync: \(Int(fsync))/s")
                let floor = try Self.rawFloor(folder: folder, instances: instances)
                log("raw SQLite floor: \(Int(floor)) transitions/s")
                let perEvent = try await Self.engineRun(
                    folder: folder, name: "per-event", instances: perEventInstances, concurrency: 1, workflows: workflows,
                    durability: .full)
                log("one commit per event: \(Int(perEvent)) transitions/s")
                let groupFull = try await Self.engineRun(
                    folder: folder, name: "group-full", instances: instances, concurrency: concurrency, workflows: workflows,
                    durability: .full)
                log("group commit, synchronous=FULL (\(concurrency) submitters): \(Int(groupFull)) transitions/s")
                let group = try await Self.engineRun(
                    folder: folder, name: "group-pipelined", instances: instances, concurrency: concurrency,
                    workflows: workflows, durability: .pipelined)
                log("group commit, pipelined flush (\(concurrency) submitters): \(Int(group)) transitions/s")
                let report = Report(
                    fsyncPerSecond: fsync, rawFloorTransitionsPerSecond: floor, perEventTransitionsPerSecond: perEvent,
                    groupCommitFullTransitionsPerSecond: groupFull,
                    groupCommitTransitionsPerSecond: group, groupCommitConcurrency: concurrency, instances: instances,
                    perEventInstances: perEventInstances, groupOverFloor: group / floor, groupOverPerEvent: group / perEvent,
                    perEventOverFsync: perEvent / fsync)
                try Output.emit(report, json: json) { r in
                    """
                    | measure | per second | ratio |
                    |---|---:|---:|
                    | fdatasync (4 KiB writes, same folder) | \(Int(r.fsyncPerSecond)) | 1 fsync |
                    | raw SQLite floor, 100 transitions/commit | \(Int(r.rawFloorTransitionsPerSecond)) | 1.00 × floor |
                    | engine, one commit per event | \(Int(r.perEventTransitionsPerSecond)) | \(String(format: "%.2f", r.perEventOverFsync)) × fsync rate |
                    | engine, group commit, synchronous=FULL, \(r.groupCommitConcurrency) submitters | \(Int(r.groupCommitFullTransitionsPerSecond)) | \(String(format: "%.2f", r.groupCommitFullTransitionsPerSecond / r.rawFloorTransitionsPerSecond)) × floor |
                    | engine, group commit, pipelined flush, \(r.groupCommitConcurrency) submitters | \(Int(r.groupCommitTransitionsPerSecond)) | \(String(format: "%.2f", r.groupOverFloor)) × floor, \(String(format: "%.1f", r.groupOverPerEvent)) × per-event |
                    """
                }
            }
        }

        private func runScaleOut(url: String) async throws {
            try await Output.run(json: json) {
                let counts = processes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 && $0 <= 64 }) else {
                    throw RosterFlowError(.invalidInput, "--processes takes counts from 1 to 64, comma-separated (got \(processes))")
                }
                let workspace = try BenchFolder(dir: dir, name: "engine-scale")
                defer { workspace.remove() }
                let perProcess = min(concurrency, 16)
                let report = try await ScaleOutBench.run(
                    url: url, processes: counts, instances: instances, concurrency: perProcess, workflows: workflows,
                    folder: workspace.path, log: log)
                try Output.emit(report, json: json) { r in
                    var lines = [
                        "| run | transitions/s | ratio |", "|---|---:|---:|",
                        "| pgbench floor, \(r.pgbenchClients) clients (update + history + outbox per transaction) | \(Int(r.pgbenchFloorPerSecond)) | 1.00 × floor |",
                    ]
                    for run in r.runs {
                        lines.append(
                            "| \(run.engine), \(run.processes) worker process(es) × \(r.concurrencyPerProcess) submitters | \(Int(run.perSecond)) | "
                                + String(format: "%.2f", run.perSecond / r.pgbenchFloorPerSecond) + " × floor |")
                    }
                    lines.append("")
                    lines.append(String(format: "PostgreSQL, 1 process: %.2f × the pgbench floor (goal ≥ 0.25); most processes: %.2f × 1 process (goal ≥ 1)", r.onePostgresProcessOverFloor, r.mostOverOnePostgresProcess))
                    return lines.joined(separator: "\n")
                }
            }
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }
        }

        /// User + system CPU seconds this process has used.
        static func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }

        /// fdatasync calls per second on 4 KiB writes in `folder`, for about a second.
        static func fsyncRate(folder: String) throws -> Double {
            let path = folder + "/fsync-probe"
            let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            guard fd >= 0 else { throw RosterFlowError(.storage, "cannot create \(path)") }
            defer { close(fd); unlink(path) }
            let block = [UInt8](repeating: 0x2a, count: 4096)
            var count = 0
            let start = Date()
            while count < 2_000, Date().timeIntervalSince(start) < 1.0 {
                _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t((count % 64) * 4096)) }
                guard fdatasync(fd) == 0 else { throw RosterFlowError(.storage, "fdatasync failed") }
                count += 1
            }
            return Double(count) / Date().timeIntervalSince(start)
        }

        /// The same rows the engine writes for a transition (state update with row-version check + history row),
        /// written with no engine, 100 per transaction.
        static func rawFloor(folder: String, instances: Int) throws -> Double {
            let path = folder + "/floor.sqlite"
            let ids = (0..<instances).map { "raw_\($0)" }
            do {
                // The store creates the schema and the instances; the floor then writes on the same file on its own.
                let store = try SQLiteStore(path: path, durability: .full)
                try store.writeNow { tx in
                    for id in ids {
                        try tx.insertInstance(InstanceRecord(
                            id: id, workflow: "raw", version: 1, state: "s0", subjectTitle: id, createdAt: 0, enteredAt: 0, updatedAt: 0))
                    }
                }
            }
            let start = Date()
            let written = try RawFloor.writeTransitions(
                path: path, instanceIDs: ids, transitionsPerInstance: 4, perTransaction: 100, now: Date().timeIntervalSince1970)
            return Double(written) / Date().timeIntervalSince(start)
        }

        /// Drives `instances` courses through map → verify → add_content → student_started with `concurrency`
        /// submitters, each awaiting its own commits. Returns transitions per second (follow-up steps not counted).
        static func engineRun(
            folder: String, name: String, instances: Int, concurrency: Int, workflows: String,
            durability: SQLiteStore.Durability
        ) async throws -> Double {
            let store = try SQLiteStore(path: folder + "/\(name).sqlite", durability: durability)
            let service = try RosterFlowService(store: store, workflowsPath: workflows)
            let courseIDs = try await ScaleOutBench.prepare(service: service, instances: instances)
            let queue = WorkQueue(courseIDs)
            let before = store.groupCommitStatistics
            let cpuBefore = Self.cpuSeconds()
            let start = Date()
            let steps = try await ScaleOutBench.driveCourses(service: service, queue: queue, concurrency: concurrency)
            let elapsed = Date().timeIntervalSince(start)
            let cpu = Self.cpuSeconds() - cpuBefore
            let after = store.groupCommitStatistics
            let writes = after.writes - before.writes, transactions = after.transactions - before.transactions
            FileHandle.standardError.write(Data(
                "bench: \(name): \(writes) writes in \(transactions) commits (mean \(String(format: "%.1f", Double(writes) / Double(max(1, transactions)))) per commit), CPU \(String(format: "%.0f", cpu / Double(steps) * 1e6)) µs per transition, \(String(format: "%.2f", cpu / elapsed)) cores busy\n".utf8))
            return Double(steps) / elapsed
        }
    }
}

/// A benchmark's working folder: the one the user named (kept afterwards), or a new hidden folder under the current
/// one (removed when the run ends).
struct BenchFolder {
    let path: String
    private let owned: Bool

    init(dir: String?, name: String) throws {
        path = dir ?? FileManager.default.currentDirectoryPath + "/.rosterflow-bench-\(name)-\(getpid())"
        owned = dir == nil
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        if owned { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// Hands out work items to concurrent submitters.
final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String]
    private var index = 0

    init(_ items: [String]) {
        self.items = items
    }

    func next() -> String? {
        lock.lock()
        defer { lock.unlock() }
        guard index < items.count else { return nil }
        index += 1
        return items[index - 1]
    }
}
