import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Notifications
import RosterFlowApp
import RosterFlowCore
import RosterFlowServer
import ServiceLifecycle

extension RosterFlowBench {
    /// `rosterflow-bench serve`: `wrk` on loopback against the API of `rosterflow serve` (the integrations list with an
    /// API token, and an event POST) beside a bare Hummingbird route served by this same process in the same run.
    struct ServeBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "wrk against the API (integrations list, event POST) beside a bare Hummingbird route, in one process.",
            discussion: """
                Seeds a new database with --integrations scheduled integrations and a vendor admin with an API token, \
                starts the API (as `rosterflow serve --no-worker` does, durable group commit) and a bare Hummingbird \
                router (GET /bare, a fixed small JSON body: the framework's floor) in this process on loopback ports, \
                then runs wrk (Debian package `wrk`) with --connections against: the bare route; GET \
                /api/v1/integrations?limit=50 with the token; POST /api/v1/integrations/{id}/events (a `schedule` \
                event, each to a random integration). Reports requests/s, p50/p99 latency and the ratios to the bare \
                route. Goals: the list at >= 30% of the bare route's requests/s with p99 < 20 ms; event POSTs >= 5,000/s.
                """)
        @Option(help: "Integrations to seed (all scheduled).") var integrations = 1_000
        @Option(help: "wrk connections.") var connections = 50
        @Option(help: "wrk threads.") var threads = 2
        @Option(help: "Seconds per wrk run.") var duration = 10
        @Option(help: "Integrations per page of the list (the API's limit).") var limit = 50
        @Option(help: "The wrk executable.") var wrk = "wrk"
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).") var dir: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Figures: Encodable {
            var name: String
            var requests: Int
            var requestsPerSecond: Double
            var p50Milliseconds: Double
            var p99Milliseconds: Double
            /// Answers that were not 2xx or 3xx (wrk's count): any makes the figures meaningless.
            var errors: Int
            /// CPU time (user + system) of this process, the server, per request answered: the figure that carries to
            /// a machine with more cores (wrk's own CPU is not in it).
            var serverCPUMicrosecondsPerRequest: Double = 0
        }

        struct Report: Encodable {
            var integrations: Int
            var connections: Int
            var seconds: Int
            var runs: [Figures]
            var listToBare: Double
            var eventsToBare: Double
            /// fdatasync calls per second on this disk, measured in the same run before the wrk runs: durable event
            /// POSTs wait for it.
            var fdatasyncPerSecond: Double
            var goals: [String: Bool]
        }

        func run() async throws {
            try await Output.run(json: json) {
                guard let wrkPath = Self.which(wrk) else {
                    throw BenchError("wrk is not installed: `sudo apt-get install wrk` (or `bash scripts/install-deps`), or give --wrk PATH")
                }
                let workspace = try BenchFolder(dir: dir, name: "serve")
                defer { workspace.remove() }
                let logger = Logger(label: "rosterflow.bench.serve")
                let app = try RosterFlowApp(AppConfiguration(
                    databasePath: workspace.path + "/serve.sqlite", workflowsPath: nil,
                    notifications: try NotificationConfig.load(file: nil, environment: [:])))
                let (ids, token) = try await Self.seed(app.service, integrations: integrations)

                let ports = PortBox()
                let api = RosterFlowServer.application(
                    service: app.service, options: ServerOptions(host: "127.0.0.1", port: 0, worker: false), logger: logger
                ) { port in await ports.set("api", port) }
                let bareRouter = Router()
                bareRouter.get("bare") { _, _ in
                    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
                }
                let bare = Application(
                    router: bareRouter, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: "bare"),
                    onServerRunning: { channel in await ports.set("bare", channel.localAddress?.port ?? 0) }, logger: logger)
                let group = ServiceGroup(configuration: .init(
                    services: [.init(service: api), .init(service: bare)], gracefulShutdownSignals: [.sigint], logger: logger))
                let serving = Task { try await group.run() }
                defer { serving.cancel() }
                let apiPort = try await ports.wait("api"), barePort = try await ports.wait("bare")

                let script = workspace.path + "/events.lua"
                try Self.eventScript(ids: ids, token: token).write(toFile: script, atomically: true, encoding: .utf8)
                let fsyncRate = try EngineBench.fsyncRate(folder: workspace.path)
                var runs: [Figures] = []
                runs.append(try Self.wrk(wrkPath, name: "bare route", url: "http://127.0.0.1:\(barePort)/bare", arguments: [], options: self))
                runs.append(try Self.wrk(
                    wrkPath, name: "GET /api/v1/integrations?limit=\(limit)",
                    url: "http://127.0.0.1:\(apiPort)/api/v1/integrations?limit=\(limit)",
                    arguments: ["-H", "Authorization: Bearer \(token)"], options: self))
                runs.append(try Self.wrk(
                    wrkPath, name: "POST /api/v1/integrations/{id}/events", url: "http://127.0.0.1:\(apiPort)/",
                    arguments: ["-s", script], options: self))
                await group.triggerGracefulShutdown()
                _ = try? await serving.value

                let bareRate = max(runs[0].requestsPerSecond, 1)
                let report = Report(
                    integrations: integrations, connections: connections, seconds: duration, runs: runs,
                    listToBare: runs[1].requestsPerSecond / bareRate, eventsToBare: runs[2].requestsPerSecond / bareRate,
                    fdatasyncPerSecond: fsyncRate,
                    goals: [
                        "list >= 30% of bare": runs[1].requestsPerSecond >= 0.3 * bareRate,
                        "list p99 < 20 ms": runs[1].p99Milliseconds < 20,
                        "event POSTs >= 5,000/s": runs[2].requestsPerSecond >= 5_000,
                        "no errors": runs.allSatisfy { $0.errors == 0 },
                    ])
                try Output.emit(report, json: json) { r in
                    var lines = ["rosterflow-bench serve: \(r.integrations) integrations, wrk \(r.connections) connections, \(r.seconds) s each, loopback"]
                    for run in r.runs {
                        lines.append(String(
                            format: "  %-42@ %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  server CPU %5.0f µs/request  (%d requests, %d errors)",
                            run.name as NSString, run.requestsPerSecond, run.p50Milliseconds, run.p99Milliseconds,
                            run.serverCPUMicrosecondsPerRequest, run.requests, run.errors))
                    }
                    lines.append(String(format: "  list / bare: %.2f   events / bare: %.2f   disk: %.0f fdatasync/s", r.listToBare, r.eventsToBare,
                                        r.fdatasyncPerSecond))
                    for (goal, met) in r.goals.sorted(by: { $0.key < $1.key }) { lines.append("  goal \(goal): \(met ? "met" : "NOT met")") }
                    return lines.joined(separator: "\n")
                }
            }
        }

        /// Customers, scheduled integrations (requested → authenticated → scheduled) and a vendor admin's token.
        static func seed(_ service: RosterFlowService, integrations: Int) async throws -> (ids: [String], token: String) {
            var csv = "tenant_id,district,contact_email\n"
            for i in 0..<integrations { csv += "bench-\(i),District \(i),it@d\(i).example\n" }
            _ = try await service.importCustomers(csv: csv, file: "bench-customers.csv")
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<integrations {
                    group.addTask {
                        let view = try await service.requestIntegration(
                            tenantID: "bench-\(i)", district: "District \(i)", permission: "full", contactEmail: "it@d\(i).example",
                            sender: Sender(actor: "classlink", role: .system))
                        _ = try await service.authenticate(integrationID: view.id, actor: "bench")
                        _ = try await service.schedule(integrationID: view.id, time: "02:30", timezone: "America/Chicago", actor: "bench")
                        return view.id
                    }
                }
                var ids: [String] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            _ = try await service.addAccount(email: "bench@vendor.example", name: "Bench", role: .vendorAdmin, districts: [], actor: "bench")
            let token = try await service.createToken(account: "bench@vendor.example", name: "bench", expiresAt: nil, actor: "bench").token
            return (ids.sorted(), token)
        }

        /// A wrk script POSTing a `schedule` event to a random integration per request.
        static func eventScript(ids: [String], token: String) -> String {
            """
            local ids = {\(ids.map { "\"\($0)\"" }.joined(separator: ","))}
            local headers = {["Authorization"] = "Bearer \(token)", ["Content-Type"] = "application/json"}
            local body = '{"event":"schedule","time":"02:30","timezone":"America/Chicago"}'
            request = function()
              return wrk.format("POST", "/api/v1/integrations/" .. ids[math.random(#ids)] .. "/events", headers, body)
            end
            """
        }

        /// Runs wrk once and reads its figures.
        static func wrk(_ path: String, name: String, url: String, arguments: [String], options: ServeBench) throws -> Figures {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = ["-t", "\(options.threads)", "-c", "\(options.connections)", "-d", "\(options.duration)s", "--latency"]
                + arguments + [url]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            let cpuBefore = EngineBench.cpuSeconds()
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let cpu = EngineBench.cpuSeconds() - cpuBefore
            guard process.terminationStatus == 0, var figures = parse(text, name: name) else {
                throw BenchError("wrk did not run against \(url) (exit \(process.terminationStatus)):\n\(text)")
            }
            figures.serverCPUMicrosecondsPerRequest = cpu / Double(max(figures.requests, 1)) * 1e6
            return figures
        }

        /// Reads `Requests/sec`, the `50%` and `99%` latencies, the request count and non-2xx/3xx answers from wrk's
        /// `--latency` output.
        static func parse(_ text: String, name: String) -> Figures? {
            var rate: Double?, p50: Double?, p99: Double?, requests = 0, errors = 0
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ")
                if line.hasPrefix("Requests/sec:"), let last = words.last { rate = Double(last) }
                if words.first == "50%", words.count == 2 { p50 = milliseconds(String(words[1])) }
                if words.first == "99%", words.count == 2 { p99 = milliseconds(String(words[1])) }
                if line.contains("requests in"), let first = words.first { requests = Int(first) ?? 0 }
                if line.contains("Non-2xx or 3xx responses:"), let last = words.last { errors += Int(last) ?? 0 }
                if line.contains("Socket errors:") { errors += line.split(separator: ",").compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +) }
            }
            guard let rate, let p50, let p99 else { return nil }
            return Figures(name: name, requests: requests, requestsPerSecond: rate, p50Milliseconds: p50, p99Milliseconds: p99, errors: errors)
        }

        /// wrk's `812.00us`, `1.23ms` or `1.05s` in milliseconds.
        static func milliseconds(_ text: String) -> Double? {
            for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(unit) {
                return Double(text.dropLast(unit.count)).map { $0 * factor }
            }
            return nil
        }

        static func which(_ name: String) -> String? {
            if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
            for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
                let path = "\(folder)/\(name)"
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            return nil
        }
    }
}

/// The ports the servers of this process bound, handed from their start callbacks to the bench.
actor PortBox {
    private var ports: [String: Int] = [:]

    func set(_ name: String, _ port: Int) { ports[name] = port }

    /// The port `name` bound, waiting up to 30 s.
    func wait(_ name: String) async throws -> Int {
        for _ in 0..<600 {
            if let port = ports[name] { return port }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw BenchError("the \(name) server did not start within 30 s")
    }
}

/// A benchmark that cannot run, with what to do about it.
struct BenchError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
