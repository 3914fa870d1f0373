import ArgumentParser
import Foundation
import RosterFlowApp
import RosterFlowCore
import StorageCore
import StorageSQLite

extension RosterFlowBench {
    struct OnDemandBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "on-demand",
            abstract: "Sign-ins (identity linking + student placement) and class imports in a burst on a large on-demand district.",
            discussion: """
                Generates a district in a child process (by default 200,000 users in classes of about 35 students), syncs it \
                into an on-demand integration, then sends, with C concurrent submitters: S student sign-ins (RosterFlow's own \
                time after the provider answered: linkIdentity, matched by sourcedId, username or e-mail in turn, then \
                placeStudent), then I class imports by their teachers (the first classes' students all signed in before, \
                so those imports resolve about 35 pending placements each). Reports p50/p99 of each, the imports of full \
                waiting classes apart, and placements/s over both bursts. Goals: p99 sign-in < 50 ms, a 35-student \
                class import < 20 ms.
                """)
        @Option(help: "Users in the generated district.") var users = 200_000
        @Option(help: "Classes.") var classes = 32_000
        @Option(help: "Enrollments.") var enrollments = 1_150_000
        @Option(help: "Student sign-ins.") var signIns = 5_000
        @Option(help: "Class imports.") var imports = 2_000
        @Option(help: "Concurrent submitters.") var concurrency = 32
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).")
        var dir: String?
        @Option(help: "Workflow definitions.") var workflows: String = "Workflows"
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Latencies: Encodable {
            var count: Int
            var p50Milliseconds: Double
            var p99Milliseconds: Double
            var maxMilliseconds: Double
        }

        struct Report: Encodable {
            var users: Int, classes: Int, enrollments: Int, concurrency: Int
            var syncSeconds: Double
            var signIn: Latencies
            var signInsPerSecond: Double
            /// Sign-ins queued as unlinked (their username or e-mail matched two people).
            var unlinked: Int
            var classImport: Latencies
            /// Imports of classes whose every student had signed in (each resolves its pending placements).
            var fullWaitingClassImport: Latencies
            var studentsPerFullWaitingClass: Double
            var importsPerSecond: Double
            var placements: Int
            var placementsPerSecond: Double
            /// This process's CPU time (user + system) per sign-in and per import over each burst: the figure that carries
            /// to a machine with more cores, unlike the latencies, which include waiting for the two cores and the disk.
            var signInCPUMilliseconds: Double
            var importCPUMilliseconds: Double
        }

        func run() async throws {
            try await Output.run(json: json) {
                let workspace = try BenchFolder(dir: dir, name: "on-demand")
                defer { workspace.remove() }
                let bundle = workspace.path + "/district"
                try SyncBench.runChild(CommandLine.arguments[0], ["sample-bundle", bundle, "--users", "\(users)", "--classes",
                                                                 "\(classes)", "--enrollments", "\(enrollments)"])
                log("generated \(bundle)")
                let service = try RosterFlowService(databasePath: workspace.path + "/on-demand.sqlite", workflowsPath: workflows)
                _ = try await service.importCustomers(
                    csv: "tenant_id,district,contact_email\nbench,Bench District,bench@example.org\n", file: "bench")
                let integration = try await service.requestIntegration(
                    tenantID: "bench", district: "Bench District", permission: "full", contactEmail: "bench@example.org", sender: .system)
                _ = try await service.authenticate(integrationID: integration.id, actor: "bench")
                _ = try await service.schedule(integrationID: integration.id, time: "02:00", timezone: "UTC", actor: "bench")
                _ = try await service.setProvisioningMode(integrationID: integration.id, mode: .onDemand, actor: "bench")
                let syncStart = Date()
                let run = try await service.runSync(integrationID: integration.id, bundlePath: bundle, policy: SyncPolicy(), actor: "bench")
                let syncSeconds = Date().timeIntervalSince(syncStart)
                guard run.decision == "applied" else { throw ValidationError("the sync was \(run.decision): \(run.reasons)") }
                log("synced in \(String(format: "%.1f", syncSeconds)) s")

                // The classes to import (spread over the district) with a teacher each, and the students who sign in:
                // every student of the first classes, so that their imports resolve a full class of pending placements.
                let id = integration.id
                // The held roster, read through a second connection to the same file (the service's store is its own).
                let reader = try SQLiteStore(path: workspace.path + "/on-demand.sqlite")
                let plan = try reader.readNow { tx -> (imports: [(cls: String, teacher: String)], students: [String], full: Set<String>, fullSize: Double) in
                    let step = max(1, classes / max(1, imports))
                    var picked: [(String, String)] = []
                    var students: [String] = [], seen = Set<String>(), full = Set<String>(), fullStudents = 0
                    for c in stride(from: 0, to: classes, by: step) where picked.count < imports {
                        let cls = "cls-\(c + 1)"
                        let enrolled = try tx.rosterEnrollments(integrationID: id, classSourcedID: cls)
                        guard let teacher = enrolled.first(where: { $0.ref3 == "teacher" })?.ref2 else { continue }
                        picked.append((cls, teacher))
                        let members = enrolled.filter { $0.ref3 == "student" }.compactMap(\.ref2)
                        if students.count + members.count <= signIns {
                            full.insert(cls)
                            fullStudents += members.count
                            for s in members where seen.insert(s).inserted { students.append(s) }
                        }
                    }
                    return (picked, students, full, full.isEmpty ? 0 : Double(fullStudents) / Double(full.count))
                }
                var students = plan.students
                if students.count < signIns {
                    // Top up with other students of the district.
                    let more = try reader.readNow { try $0.rosterRecords(integrationID: id, entity: "users", sourcedIDs: nil) }
                        .filter { $0.sourcedID.hasPrefix("stu-") }.map(\.sourcedID)
                    var seen = Set(students)
                    for s in more where students.count < signIns && seen.insert(s).inserted { students.append(s) }
                }
                let held = try reader.readNow { tx in try tx.rosterRecords(integrationID: id, entity: "users", sourcedIDs: students.sorted()) }
                    .reduce(into: [String: RosterRecord]()) { $0[$1.sourcedID] = $1 }
                log("\(students.count) sign-ins, \(plan.imports.count) imports (\(plan.full.count) of classes whose students all signed in)")

                let unlinked = Tally()
                let signInStart = Date(), signInCPU = EngineBench.cpuSeconds()
                let signInTimes = try await Self.burst(students.enumerated().map { $0 }, concurrency: concurrency) { item in
                    let (n, student) = item
                    let user = held[student]
                    let claims: IdentityClaims
                    switch n % 3 {
                    case 0: claims = IdentityClaims(provider: "classlink", tenantID: "bench", providerUserID: "cl-\(student)", sourcedID: student)
                    case 1: claims = IdentityClaims(provider: "classlink", tenantID: "bench", providerUserID: "cl-\(student)", username: user?.ref1)
                    default: claims = IdentityClaims(provider: "classlink", tenantID: "bench", providerUserID: "cl-\(student)", email: user?.ref2?.uppercased())
                    }
                    let link = try await service.linkIdentity(claims)
                    // A login name or e-mail two people share (the generator repeats some) is queued, not guessed: timed too.
                    guard link.linked, let linked = link.sourcedID else { unlinked.add(); return }
                    _ = try await service.placeStudent(linked, integrationID: id)
                }
                let signInSeconds = Date().timeIntervalSince(signInStart), signInCPUSeconds = EngineBench.cpuSeconds() - signInCPU
                log("sign-ins: \(String(format: "%.1f", signInSeconds)) s")

                let importStart = Date(), importCPU = EngineBench.cpuSeconds()
                let importTimes = try await Self.burst(plan.imports, concurrency: concurrency) { item in
                    let results = try await service.importClasses(teacher: item.teacher, classes: [item.cls], integrationID: id, actor: "bench")
                    guard results.first?.outcome == "imported" || results.first?.outcome == "joined" else {
                        throw ValidationError("\(item.cls): \(results.first?.reason ?? "?")")
                    }
                }
                let importSeconds = Date().timeIntervalSince(importStart), importCPUSeconds = EngineBench.cpuSeconds() - importCPU
                log("imports: \(String(format: "%.1f", importSeconds)) s")
                let placements = try reader.readNow { try $0.classMembers(integrationID: id, classSourcedID: nil, userSourcedID: nil) }
                    .filter { $0.role == "student" && $0.status == "active" }.count
                let fullTimes = zip(plan.imports, importTimes).filter { plan.full.contains($0.0.cls) }.map(\.1)
                let report = Report(
                    users: users, classes: classes, enrollments: enrollments, concurrency: concurrency, syncSeconds: syncSeconds,
                    signIn: Self.latencies(signInTimes), signInsPerSecond: Double(students.count) / signInSeconds, unlinked: unlinked.value,
                    classImport: Self.latencies(importTimes), fullWaitingClassImport: Self.latencies(fullTimes),
                    studentsPerFullWaitingClass: plan.fullSize, importsPerSecond: Double(plan.imports.count) / importSeconds,
                    placements: placements, placementsPerSecond: Double(placements) / (signInSeconds + importSeconds),
                    signInCPUMilliseconds: signInCPUSeconds * 1000 / Double(max(students.count, 1)),
                    importCPUMilliseconds: importCPUSeconds * 1000 / Double(max(plan.imports.count, 1)))
                try Output.emit(report, json: json) { r in
                    func row(_ name: String, _ l: Latencies) -> String {
                        "| \(name) | \(l.count) | \(String(format: "%.2f", l.p50Milliseconds)) ms | \(String(format: "%.2f", l.p99Milliseconds)) ms | \(String(format: "%.2f", l.maxMilliseconds)) ms |"
                    }
                    return """
                        district: \(r.users) users, \(r.classes) classes, \(r.enrollments) enrollments; synced in \(String(format: "%.1f", r.syncSeconds)) s; \(r.concurrency) submitters
                        | burst | count | p50 | p99 | max |
                        |---|---:|---:|---:|---:|
                        \(row("sign-in (link + place)", r.signIn))
                        \(row("class import", r.classImport))
                        \(row("import of a full waiting class (\(String(format: "%.1f", r.studentsPerFullWaitingClass)) students)", r.fullWaitingClassImport))
                        sign-ins/s: \(Int(r.signInsPerSecond)) (\(r.unlinked) queued as unlinked); imports/s: \(Int(r.importsPerSecond)); placements: \(r.placements), \(Int(r.placementsPerSecond))/s
                        CPU (this process, user + system): \(String(format: "%.2f", r.signInCPUMilliseconds)) ms per sign-in, \(String(format: "%.2f", r.importCPUMilliseconds)) ms per import
                        """
                }
            }
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }
        }

        static func latencies(_ seconds: [Double]) -> Latencies {
            let sorted = seconds.sorted()
            func at(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)] * 1000
            }
            return Latencies(count: sorted.count, p50Milliseconds: at(0.5), p99Milliseconds: at(0.99), maxMilliseconds: (sorted.last ?? 0) * 1000)
        }

        /// Runs `body` for every item with at most `concurrency` in flight; returns each item's seconds, in item order.
        static func burst<Item: Sendable>(
            _ items: [Item], concurrency: Int, _ body: @escaping @Sendable (Item) async throws -> Void
        ) async throws -> [Double] {
            var times = [Double](repeating: 0, count: items.count)
            try await withThrowingTaskGroup(of: (Int, Double).self) { group in
                var next = 0
                func submit() {
                    let index = next, item = items[index]
                    next += 1
                    group.addTask {
                        let start = DispatchTime.now().uptimeNanoseconds
                        try await body(item)
                        return (index, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    }
                }
                while next < items.count && next < concurrency { submit() }
                while let (index, seconds) = try await group.next() {
                    times[index] = seconds
                    if next < items.count { submit() }
                }
            }
            return times
        }
    }
}


/// A count shared by concurrent tasks.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
}
