import RosterFlowApp
import ArgumentParser
import Foundation
import OneRoster
import RosterFlowCore

#if canImport(Glibc)
import Glibc
#endif

extension RosterFlowBench {
    struct SyncBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sync",
            abstract: "Sync a generated district (validate + diff + apply) and compare with the floor of sqlite3's .import (or, with --db, psql's \\copy).",
            discussion: """
                Generates a district bundle in a child process, then in one run and folder: loads the same CSV files \
                into empty tables with the sqlite3 shell's .import (the floor), runs a first bulk sync into a new \
                integration, a second identical bulk sync (recognised by its SHA-256: nothing is read again), and the \
                same bundle once more with --revalidate (read, validated and diffed in full, changing nothing); then, with \
                every course mapped, the same district's next school year: the rollover is held for review, then approved \
                with --carry-forward. Reports each time, the ratios, and this process's peak resident memory.
                """)
        @Option(help: "Users in the generated district.") var users = 200_000
        @Option(help: "Classes.") var classes = 8_000
        @Option(help: "Enrollments.") var enrollments = 2_000_000
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).")
        var dir: String?
        @Option(help: "Workflow definitions.") var workflows: String = "Workflows"
        @Flag(help: "Print JSON instead of text.") var json = false
        @Flag(help: "Leave out the school-year rollover run.") var noRollover = false
        @Option(
            name: .customLong("db"),
            help: "A PostgreSQL server (postgres://…): sync into a new schema there, beside a floor of psql's \\copy of the same files.")
        var database: String?

        struct Report: Encodable {
            var users: Int, classes: Int, enrollments: Int
            /// `SQLite` (the floor is the sqlite3 shell's `.import`) or `PostgreSQL` (the floor is psql's `\copy`).
            var engine: String
            var importFloorSeconds: Double
            var firstSyncSeconds: Double
            /// CPU seconds of the first sync: this process's (all threads), and the whole machine's (every process, from
            /// `/proc/stat`: with a server on the same machine, its share is the difference). The machine's CPU over its
            /// cores is the least wall time any schedule of that work could take here.
            var firstSyncCPUSeconds: Double
            var firstSyncMachineCPUSeconds: Double?
            var cores: Int
            var secondSyncSeconds: Double
            var firstOverFloor: Double
            var secondOverFirst: Double
            /// The same identical bundle read, validated and diffed again in full (`sync run --revalidate`).
            var revalidatedSyncSeconds: Double
            var revalidatedOverFirst: Double
            var peakRSSMiB: Double
            var firstDecision: String
            var secondDecision: String
            /// The next school year of the same district: the sync until its review is held, and its approval with
            /// `--carry-forward`, each over the floor above.
            var rolloverReviewSeconds: Double?
            var rolloverReviewOverFloor: Double?
            var rolloverDecision: String?
            var rolloverApproveSeconds: Double?
            var rolloverApproveOverFloor: Double?
            var rolloverApproveDecision: String?
            var carriedForward: Int?
            /// The rollover's changes (adds, updates and deletes of every entity), and the CPU seconds (user + system, all
            /// threads of this process) of its review and of its approval per 1,000 of them: the figures that carry to
            /// another machine.
            var rolloverChanges: Int?
            var rolloverReviewCPUSeconds: Double?
            var rolloverApproveCPUSeconds: Double?
            var rolloverReviewCPUPerThousandChanges: Double?
            var rolloverApproveCPUPerThousandChanges: Double?
        }

        func run() async throws {
            try await Output.run(json: json) {
                let workspace = try BenchFolder(dir: dir, name: "sync")
                defer { workspace.remove() }
                let folder = workspace.path
                let bundle = folder + "/district"
                // Generated in a child so that its memory does not count in this process's peak.
                try Self.runChild(CommandLine.arguments[0], ["sample-bundle", bundle, "--users", "\(users)", "--classes",
                                                             "\(classes)", "--enrollments", "\(enrollments)"])
                log("generated \(bundle)")

                let floor: Double
                let service: RosterFlowService
                if let database {
                    floor = try Self.copyFloor(bundle: bundle, url: database, schema: "bench_copy_\(getpid())")
                    log("psql \\copy floor: \(String(format: "%.2f", floor)) s")
                    service = try RosterFlowService(
                        store: try RosterFlowService.openStore(
                            databasePath: ScaleOutBench.withSchema(database, "bench_sync_\(getpid())")),
                        workflowsPath: workflows)
                    log("syncing into schema bench_sync_\(getpid()); it is dropped at the end")
                } else {
                    floor = try Self.importFloor(bundle: bundle, database: folder + "/floor.sqlite")
                    log("sqlite3 .import floor: \(String(format: "%.2f", floor)) s")
                    service = try RosterFlowService(databasePath: folder + "/sync.sqlite", workflowsPath: workflows)
                }
                _ = try await service.importCustomers(
                    csv: "tenant_id,district,contact_email\nbench,Bench District,bench@example.org\n", file: "bench")
                let integration = try await service.requestIntegration(
                    tenantID: "bench", district: "Bench District", permission: "full", contactEmail: "bench@example.org",
                    sender: .system)
                _ = try await service.authenticate(integrationID: integration.id, actor: "bench")
                _ = try await service.schedule(integrationID: integration.id, time: "02:00", timezone: "UTC", actor: "bench")
                let policy = SyncPolicy()
                var start = Date()
                let firstCPU = (own: Self.cpuSeconds(), machine: Self.machineBusySeconds())
                let first = try await service.runSync(integrationID: integration.id, bundlePath: bundle, policy: policy, actor: "bench")
                let firstSeconds = Date().timeIntervalSince(start)
                let firstOwnCPU = Self.cpuSeconds() - firstCPU.own
                let firstMachineCPU = firstCPU.machine.flatMap { before in Self.machineBusySeconds().map { $0 - before } }
                log("first sync: \(first.decision) in \(String(format: "%.2f", firstSeconds)) s, "
                    + "CPU \(String(format: "%.2f", firstOwnCPU)) s in this process"
                    + (firstMachineCPU.map { ", \(String(format: "%.2f", $0)) s on the whole machine" } ?? ""))
                start = Date()
                let second = try await service.runSync(integrationID: integration.id, bundlePath: bundle, policy: policy, actor: "bench")
                let secondSeconds = Date().timeIntervalSince(start)
                log("second sync: \(second.decision) in \(String(format: "%.2f", secondSeconds)) s")
                start = Date()
                let third = try await service.runSync(
                    integrationID: integration.id, bundlePath: bundle, policy: policy, revalidate: true, actor: "bench")
                let revalidatedSeconds = Date().timeIntervalSince(start)
                log("identical sync read again (--revalidate): \(third.decision) in \(String(format: "%.2f", revalidatedSeconds)) s")

                var rollover: (review: Double, decision: String, approve: Double, approved: String, carried: Int,
                               changes: Int, reviewCPU: Double, approveCPU: Double)?
                if !noRollover {
                    let next = folder + "/district-next-year"
                    try Self.runChild(CommandLine.arguments[0], ["sample-bundle", next, "--users", "\(users)", "--classes",
                                                                 "\(classes)", "--enrollments", "\(enrollments)",
                                                                 "--school-year", "\(SampleBundle.baseSchoolYear + 1)"])
                    for course in try service.courses(integrationID: integration.id) {
                        _ = try await service.mapCourse(id: course.id, catalogTitle: "Catalog \(course.title)",
                                                        baseID: "BASE-\(course.sourcedID)", actor: "bench")
                    }
                    log("mapped every course; generated the next school year")
                    start = Date()
                    var cpu = Self.cpuSeconds()
                    let held = try await service.runSync(integrationID: integration.id, bundlePath: next, policy: policy, actor: "bench")
                    let review = Date().timeIntervalSince(start)
                    let reviewCPU = Self.cpuSeconds() - cpu
                    log("rollover: \(held.decision) for review in \(String(format: "%.2f", review)) s")
                    start = Date()
                    cpu = Self.cpuSeconds()
                    let approved = try await service.approveSync(
                        runID: held.id, merge: held.merges.isEmpty ? nil : true, carryForward: true, actor: "bench")
                    let approve = Date().timeIntervalSince(start)
                    let approveCPU = Self.cpuSeconds() - cpu
                    let changes = held.counts.values.reduce(0) { $0 + $1.adds + $1.updates + $1.deletes }
                    log("rollover approved with --carry-forward: \(approved.decision) in \(String(format: "%.2f", approve)) s")
                    log("rollover: \(changes) changes; CPU \(String(format: "%.2f", reviewCPU)) s to the review, "
                        + "\(String(format: "%.2f", approveCPU)) s to the approval")
                    rollover = (review, held.decision, approve, approved.decision, held.carryForward.count, changes, reviewCPU,
                                approveCPU)
                }

                var usage = rusage()
                getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
                if let database { try? Self.runPsql(url: database, script: "DROP SCHEMA bench_sync_\(getpid()) CASCADE;\n") }
                let report = Report(
                    users: users, classes: classes, enrollments: enrollments, engine: database == nil ? "SQLite" : "PostgreSQL",
                    importFloorSeconds: floor,
                    firstSyncSeconds: firstSeconds, firstSyncCPUSeconds: firstOwnCPU, firstSyncMachineCPUSeconds: firstMachineCPU,
                    cores: ProcessInfo.processInfo.activeProcessorCount, secondSyncSeconds: secondSeconds, firstOverFloor: firstSeconds / floor,
                    secondOverFirst: secondSeconds / firstSeconds, revalidatedSyncSeconds: revalidatedSeconds,
                    revalidatedOverFirst: revalidatedSeconds / firstSeconds, peakRSSMiB: Double(usage.ru_maxrss) / 1024,
                    firstDecision: first.decision, secondDecision: second.decision,
                    rolloverReviewSeconds: rollover?.review, rolloverReviewOverFloor: rollover.map { $0.review / floor },
                    rolloverDecision: rollover?.decision, rolloverApproveSeconds: rollover?.approve,
                    rolloverApproveOverFloor: rollover.map { $0.approve / floor }, rolloverApproveDecision: rollover?.approved,
                    carriedForward: rollover?.carried, rolloverChanges: rollover?.changes,
                    rolloverReviewCPUSeconds: rollover?.reviewCPU, rolloverApproveCPUSeconds: rollover?.approveCPU,
                    rolloverReviewCPUPerThousandChanges: rollover.map { $0.reviewCPU * 1000 / Double(max($0.changes, 1)) },
                    rolloverApproveCPUPerThousandChanges: rollover.map { $0.approveCPU * 1000 / Double(max($0.changes, 1)) })
                try Output.emit(report, json: json) { r in
                    """
                    | measure (\(r.users) users, \(r.classes) classes, \(r.enrollments) enrollments) | seconds | ratio |
                    |---|---:|---:|
                    | floor: \(r.engine == "SQLite" ? "sqlite3 .import" : "psql \\copy (COPY FROM STDIN)") of the same CSV files into empty tables | \(String(format: "%.2f", r.importFloorSeconds)) | 1.00 × floor |
                    | first bulk sync: validate + diff + apply (\(r.firstDecision)) | \(String(format: "%.2f", r.firstSyncSeconds)) | \(String(format: "%.2f", r.firstOverFloor)) × floor |
                    | its CPU: this process / the whole machine (\(r.cores) cores) | \(String(format: "%.2f", r.firstSyncCPUSeconds)) / \(r.firstSyncMachineCPUSeconds.map { String(format: "%.2f", $0) } ?? "-") | \(r.firstSyncMachineCPUSeconds.map { String(format: "%.2f", $0 / Double(r.cores) / r.importFloorSeconds) } ?? "-") × floor at best on \(r.cores) cores |
                    | second identical bulk sync (\(r.secondDecision): same SHA-256, report reused) | \(String(format: "%.2f", r.secondSyncSeconds)) | \(String(format: "%.2f", r.secondOverFirst)) × first |
                    | the same, read + validated + diffed again (`--revalidate`) | \(String(format: "%.2f", r.revalidatedSyncSeconds)) | \(String(format: "%.2f", r.revalidatedOverFirst)) × first |
                    | peak resident memory of the syncing process | \(String(format: "%.0f", r.peakRSSMiB)) MiB | |
                    """ + (r.rolloverReviewSeconds.map { review in
                        """

                        | next school year: rollover until its review is held (\(r.rolloverDecision ?? "-")) | \(String(format: "%.2f", review)) | \(String(format: "%.2f", r.rolloverReviewOverFloor ?? 0)) × floor |
                        | approved with --carry-forward (\(r.rolloverApproveDecision ?? "-"), \(r.carriedForward ?? 0) courses carried) | \(String(format: "%.2f", r.rolloverApproveSeconds ?? 0)) | \(String(format: "%.2f", r.rolloverApproveOverFloor ?? 0)) × floor |
                        | CPU of the review / the approval, per 1,000 of the rollover's \(r.rolloverChanges ?? 0) changes | \(String(format: "%.2f", r.rolloverReviewCPUSeconds ?? 0)) / \(String(format: "%.2f", r.rolloverApproveCPUSeconds ?? 0)) | \(String(format: "%.3f", r.rolloverReviewCPUPerThousandChanges ?? 0)) / \(String(format: "%.3f", r.rolloverApproveCPUPerThousandChanges ?? 0)) s |
                        """
                    } ?? "")
                }
            }
        }

        /// CPU seconds every process of the machine has used so far (busy time of all cores, from `/proc/stat`), or nil
        /// where there is no `/proc/stat`.
        static func machineBusySeconds() -> Double? {
            guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
                  let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
            // user nice system idle iowait irq softirq steal: all but idle and iowait are busy, in clock ticks.
            let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            guard ticks.count >= 8 else { return nil }
            let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
            return busy / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        /// CPU seconds (user + system) this process has used so far, every thread.
        static func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }
        }

        static func runChild(_ executable: String, _ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw RosterFlowError(.storage, "\(executable) \(arguments.joined(separator: " ")) failed")
            }
        }

        /// Seconds for psql to `\copy` every CSV file of the bundle into new tables of text columns (one per header
        /// field) in a new schema, in one transaction: PostgreSQL's own bulk load of the same bytes. The schema is
        /// dropped afterwards.
        static func copyFloor(bundle: String, url: String, schema: String) throws -> Double {
            let files = try FileManager.default.contentsOfDirectory(atPath: bundle).filter { $0.hasSuffix(".csv") && $0 != "manifest.csv" }
            var script = "\\set ON_ERROR_STOP 1\nBEGIN;\nCREATE SCHEMA \(schema);\nSET search_path TO \(schema);\n"
            for file in files.sorted() {
                let path = bundle + "/" + file
                guard let handle = FileHandle(forReadingAtPath: path) else { continue }
                let head = String(decoding: try handle.read(upToCount: 64 * 1024) ?? Data(), as: UTF8.self)
                try handle.close()
                let header = head.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
                let columns = header.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",")
                    .map { "\"" + $0.replacingOccurrences(of: "\"", with: "") + "\" text" }
                let table = "\"" + file.replacingOccurrences(of: ".csv", with: "") + "\""
                script += "CREATE TABLE \(table) (\(columns.joined(separator: ", ")));\n"
                script += "\\copy \(table) FROM '\(path)' WITH (FORMAT csv, HEADER true)\n"
            }
            script += "COMMIT;\n"
            let start = Date()
            try runPsql(url: url, script: script)
            let seconds = Date().timeIntervalSince(start)
            try? runPsql(url: url, script: "DROP SCHEMA \(schema) CASCADE;\n")
            return seconds
        }

        static func runPsql(url: String, script: String) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["psql", "-q", "-X", ScaleOutBench.libpqURL(url)]
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            input.fileHandleForWriting.write(Data(("SET client_min_messages TO warning;\n" + script).utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw RosterFlowError(.storage, "psql failed (exit \(process.terminationStatus)); is the PostgreSQL client installed (scripts/install-deps)?")
            }
        }

        /// Seconds for the sqlite3 shell to `.import` every CSV file of the bundle into new tables (synchronous=FULL).
        static func importFloor(bundle: String, database: String) throws -> Double {
            let files = try FileManager.default.contentsOfDirectory(atPath: bundle).filter { $0.hasSuffix(".csv") && $0 != "manifest.csv" }
            var script = "PRAGMA journal_mode=WAL;\nPRAGMA synchronous=FULL;\n.mode csv\n"
            for file in files.sorted() {
                script += ".import '\(bundle)/\(file)' \(file.replacingOccurrences(of: ".csv", with: ""))\n"
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["sqlite3", database]
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            let start = Date()
            try process.run()
            input.fileHandleForWriting.write(Data(script.utf8))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw RosterFlowError(.storage, "sqlite3 .import failed; is the sqlite3 shell installed (scripts/install-deps)?")
            }
            return Date().timeIntervalSince(start)
        }
    }
}
