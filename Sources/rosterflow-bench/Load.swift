import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowEngine

extension RosterFlowBench {
    /// Streams lifecycle events into a database until stopped or done: for crash tests and demos of concurrency.
    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drive districts and courses through their lifecycles concurrently (crash and load testing).")
        @OptionGroup var options: StoreOptions
        @Option(help: "Districts to onboard.") var districts = 20
        @Option(help: "Courses per district.") var courses = 20
        @Option(help: "Concurrent submitters.") var concurrency = 16
        @Flag(help: "Print `locked COURSE-ID` on stdout as each course's last event is acknowledged (durability tests).")
        var printAcks = false

        func run() async throws {
            try await Output.run(json: false) {
                let service = try options.open()
                // One customer per district (a tenant has one open integration); tagged per run, since runs may share a
                // database.
                let tag = UUID().uuidString.prefix(8).lowercased()
                _ = try await service.importCustomers(
                    csv: "tenant_id,district,contact_email\n"
                        + (0..<districts).map { "load-\(tag)-\($0),Load \($0),load@example.org\n" }.joined(),
                    file: "load")
                let counter = Counter()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<concurrency {
                        group.addTask {
                            for district in stride(from: worker, to: districts, by: concurrency) {
                                try await Self.onboard(service, tenant: "load-\(tag)-\(district)", district: district,
                                                       courses: courses, counter: counter, printAcks: printAcks)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                print("done: \(counter.value) transitions")
            }
        }

        static func onboard(
            _ service: RosterFlowService, tenant: String, district: Int, courses: Int, counter: Counter, printAcks: Bool
        ) async throws {
            let integration = try await service.requestIntegration(
                tenantID: tenant, district: "Load \(district)", permission: "full", contactEmail: "load@example.org",
                sender: .system)
            _ = try await service.authenticate(integrationID: integration.id, actor: "load")
            _ = try await service.schedule(integrationID: integration.id, time: "03:00", timezone: "UTC", actor: "load")
            counter.add(3)
            for index in 0..<courses {
                let course = try await service.addCourse(
                    integrationID: integration.id, sourcedID: "c\(index)", title: "Course \(index)", sender: .system)
                _ = try await service.mapCourse(id: course.id, catalogTitle: "Catalog \(index)", baseID: "B\(index)", actor: "dsp")
                _ = try await service.verifyCourse(id: course.id, actor: "school")
                _ = try await service.contentAdded(id: course.id, actor: "dsp")
                _ = try await service.studentStarted(id: course.id, actor: "platform")
                if printAcks { FileHandle.standardOutput.write(Data("locked \(course.id)\n".utf8)) }
                counter.add(5)
            }
        }
    }
}

/// A thread-safe progress counter that reports every 100 transitions on stdout.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var value = 0

    func add(_ n: Int) {
        lock.lock()
        let before = value
        value += n
        let after = value
        lock.unlock()
        if before / 100 != after / 100 {
            FileHandle.standardOutput.write(Data("applied \(after)\n".utf8))
        }
    }
}
