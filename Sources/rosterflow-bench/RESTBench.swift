import ArgumentParser
import Foundation
import OneRoster
import OneRosterREST
import RosterFlowCore

#if canImport(Glibc)
import Glibc
#endif

extension RosterFlowBench {
    /// `rosterflow-bench rest`: a first bulk sync pulled from the loopback OneRoster provider, beside the CSV sync of
    /// the same district.
    struct RESTBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rest",
            abstract: "Sync a district pulled from a loopback OneRoster REST provider, beside the CSV sync of the same district.",
            discussion: """
                Starts scripts/peers/oneroster_provider.py (python3, standard library) serving a generated district \
                (OneRoster 1.2, OAuth 2), then, each in a child process with a new database: a first bulk sync pulled \
                from it at each --latency (milliseconds the provider sleeps per page), and a first bulk sync of the \
                same records as a CSV bundle (the first pull keeps a copy). Reports wall time, the time spent waiting \
                on the provider (requests and backoff, on the one fetching thread, so never counted twice) and our own \
                work (the rest: the time no request was outstanding, i.e. our work on the critical path; work done \
                while a request was outstanding is overlapped and not counted), the time after the last page was in, \
                the CPU seconds of the sync and of the provider (a process of its own on the same cores), pages, and \
                each child's peak resident memory.
                """)
        @Option(help: "Users (teachers are one per class, the rest students).") var users = 50_000
        @Option(help: "Classes.") var classes = 2_000
        @Option(help: "Enrollments per student.") var enrollmentsPerStudent = 10
        @Option(help: "Records per page.") var pageSize = 1_000
        @Option(help: "Provider latencies to run, milliseconds per page, comma-separated.") var latencies = "0,1"
        @Option(help: "The provider script.") var provider = "scripts/peers/oneroster_provider.py"
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).")
        var dir: String?
        @Option(help: "Workflow definitions.") var workflows: String = "Workflows"
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Report: Encodable {
            var users: Int, classes: Int, enrollments: Int, pageSize: Int
            var runs: [RESTRunChild.Result]
        }

        func run() async throws {
            try await Output.run(json: json) {
                let workspace = try BenchFolder(dir: dir, name: "rest")
                defer { workspace.remove() }
                let folder = workspace.path
                let bundle = folder + "/pulled-bundle"
                var runs: [RESTRunChild.Result] = []
                let levels = latencies.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                for (i, latency) in levels.enumerated() {
                    let server = try BenchPeer(
                        executable: "/usr/bin/env",
                        arguments: ["python3", provider, "--version", "1.2", "--auth", "oauth2", "--lazy", "--users", "\(users)", "--classes",
                                    "\(classes)", "--enrollments-per-student", "\(enrollmentsPerStudent)", "--latency-ms",
                                    "\(latency)", "--secret", "bench-secret", "--client-id", "bench"],
                        hint: "run from the repository root with python3 installed")
                    defer { server.stop() }
                    if i == 0 {
                        // The CSV copy of the district, from a pull of its own that is not reported (writing it is no
                        // part of a pull's work).
                        _ = try Self.child(["rest-run", "--provider-url", "http://127.0.0.1:\(server.port)", "--db",
                                            folder + "/copy.sqlite", "--workflows", workflows, "--page-size", "\(pageSize)",
                                            "--keep-bundle", bundle, "--pull-only", "--label", "bundle copy"])
                    }
                    let arguments = ["rest-run", "--provider-url", "http://127.0.0.1:\(server.port)", "--db", folder + "/rest-\(i).sqlite",
                                     "--workflows", workflows, "--page-size", "\(pageSize)", "--label",
                                     "REST pull, \(latency.formatted()) ms per page"]
                    let providerCPU = Self.processCPUSeconds(server.process.processIdentifier)
                    var run = try Self.child(arguments)
                    run.providerCPUSeconds = Self.processCPUSeconds(server.process.processIdentifier).map { $0 - (providerCPU ?? 0) }
                    runs.append(run)
                    log("\(runs.last!.label): \(runs.last!.decision) in \(String(format: "%.2f", runs.last!.wallSeconds)) s")
                }
                if FileManager.default.fileExists(atPath: bundle) {
                    runs.append(try Self.child(["rest-run", "--bundle", bundle, "--db", folder + "/csv.sqlite", "--workflows",
                                                workflows, "--label", "CSV bundle of the same district"]))
                    log("\(runs.last!.label): \(runs.last!.decision) in \(String(format: "%.2f", runs.last!.wallSeconds)) s")
                }
                let first = runs.first
                let report = Report(users: first?.users ?? 0, classes: classes, enrollments: first?.enrollments ?? 0,
                                    pageSize: pageSize, runs: runs)
                try Output.emit(report, json: json) { r in
                    let csvOwn = r.runs.last.map { $0.wallSeconds - $0.waitingSeconds } ?? 0
                    let csvCPU = r.runs.last?.cpuSeconds ?? 0
                    var lines = [
                        "| first bulk sync (\(r.users) users, \(r.enrollments) enrollments, pages of \(r.pageSize)) | wall s | waiting on provider | own work | own work × CSV sync | after the last page s | CPU s | CPU × CSV sync | provider CPU s | pages | peak RSS |",
                        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
                    ]
                    for run in r.runs {
                        let own = run.wallSeconds - run.waitingSeconds
                        lines.append("| \(run.label) (\(run.decision)) | \(String(format: "%.2f", run.wallSeconds)) | "
                            + "\(String(format: "%.2f", run.waitingSeconds)) s (\(String(format: "%.0f", 100 * run.waitingSeconds / max(run.wallSeconds, 1e-9))) %) | "
                            + "\(String(format: "%.2f", own)) s (\(String(format: "%.0f", 100 * own / max(run.wallSeconds, 1e-9))) %) | "
                            + "\(String(format: "%.2f", own / max(csvOwn, 1e-9))) | "
                            + (run.pullSeconds > 0 ? String(format: "%.2f", run.wallSeconds - run.pullSeconds) : "—") + " | "
                            + "\(String(format: "%.2f", run.cpuSeconds ?? 0)) | "
                            + "\(String(format: "%.2f", (run.cpuSeconds ?? 0) / max(csvCPU, 1e-9))) | "
                            + (run.providerCPUSeconds.map { String(format: "%.2f", $0) } ?? "—")
                            + " | \(run.requests) | \(String(format: "%.0f", run.peakRSSMiB)) MiB |")
                    }
                    return lines.joined(separator: "\n")
                }
            }
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }
        }

        /// CPU seconds (user + system) process `pid` has used so far, from /proc (nil where there is none).
        static func processCPUSeconds(_ pid: Int32) -> Double? {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After the command name: state is field 3, utime and stime fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        /// Runs this executable with `arguments` and decodes the JSON it prints.
        static func child(_ arguments: [String]) throws -> RESTRunChild.Result {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["BENCH_OR_SECRET"] = "bench-secret"
            process.environment = environment
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw RosterFlowError(.unexpected, "rosterflow-bench \(arguments.joined(separator: " ")) failed")
            }
            return try JSONDecoder().decode(RESTRunChild.Result.self, from: data)
        }
    }

    /// One first bulk sync into a new database, from a REST provider or a CSV bundle, reported as JSON (a child of
    /// `rosterflow-bench rest`, so that each run's peak memory is its own).
    struct RESTRunChild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rest-run", abstract: "One sync for `rosterflow-bench rest` (a child process).", shouldDisplay: false)
        @Option var providerUrl: String?
        @Option var bundle: String?
        @Option var keepBundle: String?
        @Option var db: String
        @Option var workflows: String = "Workflows"
        @Option var pageSize = 1_000
        @Option var label = ""
        @Flag(help: "Only pull (and keep the bundle), no sync.") var pullOnly = false

        struct Result: Codable {
            var label: String
            var decision: String
            var users: Int
            var enrollments: Int
            var wallSeconds: Double
            var waitingSeconds: Double
            /// Seconds from the start until the last page was in (REST), the rest being read + validate + diff + apply.
            var pullSeconds: Double
            var requests: Int
            var peakRSSMiB: Double
            /// CPU seconds (user + system, every thread) the sync took in this process: the figure that carries to
            /// another machine, where wall time on a loaded one does not.
            var cpuSeconds: Double?
            /// CPU seconds the provider (a process of its own, on the same cores) used during the run (REST).
            var providerCPUSeconds: Double?
        }

        static func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }

        func run() async throws {
            let service = try RosterFlowService(databasePath: db, workflowsPath: workflows)
            _ = try await service.importCustomers(
                csv: "tenant_id,district,contact_email\nbench,Bench District,bench@example.org\n", file: "bench")
            let integration = try await service.requestIntegration(
                tenantID: "bench", district: "Bench District", permission: "full", contactEmail: "bench@example.org",
                sender: .system)
            _ = try await service.authenticate(integrationID: integration.id, actor: "bench")
            _ = try await service.schedule(integrationID: integration.id, time: "02:00", timezone: "UTC", actor: "bench")
            let source: any RosterSource
            var rest: RESTRosterSource?
            if let providerUrl {
                var pull = RESTRosterSource(
                    config: RESTSourceConfig(url: providerUrl, version: .v1_2, clientID: "bench", secretEnv: "BENCH_OR_SECRET",
                                             tokenURL: providerUrl + "/token", pageSize: pageSize))
                pull.keepBundleAt = keepBundle.map { URL(fileURLWithPath: $0) }
                rest = pull
                source = pull
            } else {
                source = CSVBundleSource(path: bundle ?? ".")
            }
            if pullOnly, let rest {
                _ = try rest.read(options: .init(retainRecords: false), held: NoHeldSourcedIds(), visitor: nil)
                print(String(decoding: try JSONEncoder().encode(Result(
                    label: label, decision: "pulled", users: 0, enrollments: 0, wallSeconds: 0, waitingSeconds: 0, pullSeconds: 0,
                    requests: rest.statistics.requests, peakRSSMiB: 0, cpuSeconds: nil)), as: UTF8.self))
                return
            }
            let start = Date()
            let cpuBefore = Self.cpuSeconds()
            let run = try await service.runSync(integrationID: integration.id, source: source, policy: SyncPolicy(), actor: "bench")
            let wall = Date().timeIntervalSince(start)
            let cpu = Self.cpuSeconds() - cpuBefore
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            let result = Result(
                label: label, decision: run.decision, users: run.counts["users"]?.incoming ?? 0,
                enrollments: run.counts["enrollments"]?.incoming ?? 0, wallSeconds: wall,
                waitingSeconds: rest?.statistics.waitingSeconds ?? 0,
                pullSeconds: rest?.statistics.pulledAt.map { $0.timeIntervalSince(start) } ?? 0,
                requests: rest?.statistics.requests ?? 0, peakRSSMiB: Double(usage.ru_maxrss) / 1024, cpuSeconds: cpu)
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        }
    }
}
