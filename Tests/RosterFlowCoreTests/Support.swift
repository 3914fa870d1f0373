import RosterFlowApp
import Foundation
import StorageCore
import StorageSQLite
import OneRoster
@testable import RosterFlowCore
import WorkflowEngine
import XCTest

/// A clock tests can move.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double

    init(_ date: String = "2026-03-02T12:00:00Z") {
        seconds = ISO8601DateFormatter().date(from: date)!.timeIntervalSince1970
    }

    var now: Double {
        lock.lock()
        defer { lock.unlock() }
        return seconds
    }

    func advance(days: Double) {
        lock.lock()
        seconds += days * 86_400
        lock.unlock()
    }
}

enum Fixture {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static var workflows: String { repositoryRoot + "/Workflows" }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "rosterflow-core-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let vendor = "vendor:ana"
    static let registry = """
        tenant_id,district,contact_email
        t-spring,Springfield USD,it@springfield.example
        t-obrien,"O'Brien & <Sons> ISD",admin@obrien.example
        """

    /// The PostgreSQL server the domain tests run on instead of SQLite files, when
    /// `ROSTERFLOW_TEST_DOMAIN_ON_POSTGRES=1` and `ROSTERFLOW_TEST_POSTGRES` names a server (CI runs these tests once on
    /// each engine).
    static let domainPostgresURL: String? = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["ROSTERFLOW_TEST_DOMAIN_ON_POSTGRES"] == "1", let url = environment["ROSTERFLOW_TEST_POSTGRES"],
            !url.isEmpty
        else { return nil }
        return url
    }()

    /// A new empty database for one test: a SQLite file in a new folder, or a new schema on the PostgreSQL server.
    static func newDatabase() throws -> String {
        if let url = domainPostgresURL {
            return url + (url.contains("?") ? "&" : "?") + "schema=core_" + UUID().uuidString.prefix(8).lowercased()
        }
        return try folder() + "/rf.sqlite"
    }

    /// A service on a new database with the customer registry imported.
    static func service(clock: TestClock = TestClock(), workflows: String = Fixture.workflows) async throws -> RosterFlowService {
        let database = try newDatabase()
        let service = try RosterFlowService(
            databasePath: database, workflowsPath: workflows, clock: { clock.now })
        _ = try await service.importCustomers(csv: registry, file: "customers.csv")
        return service
    }

    /// A scheduled integration for a known customer.
    static func scheduledIntegration(_ service: RosterFlowService) async throws -> String {
        let integration = try await service.requestIntegration(
            tenantID: "t-spring", district: "Springfield USD", permission: "rule-based",
            contactEmail: "it@springfield.example", sender: .system)
        _ = try await service.authenticate(integrationID: integration.id, actor: vendor)
        _ = try await service.schedule(integrationID: integration.id, time: "02:30", timezone: "America/Chicago", actor: "school")
        return integration.id
    }
}

/// Asserts that `body` throws a RosterFlowError with `code`, and returns it.
@discardableResult
func assertRefused<T>(
    _ code: RosterFlowError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async -> RosterFlowError? {
    do {
        _ = try await body()
        XCTFail("expected \(code.rawValue), but it succeeded", file: file, line: line)
        return nil
    } catch let error as RosterFlowError {
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        return error
    } catch {
        XCTFail("expected RosterFlowError \(code.rawValue), got \(error)", file: file, line: line)
        return nil
    }
}


/// A scheduled integration on a new database, and the sample district bundle (1.2: 200 users, 10 classes, 800
/// enrollments) to sync into it: what every sync test starts from.
class SyncTestCase: XCTestCase {
    var folder: String!
    var service: RosterFlowService!
    var integrationID: String!

    override func setUp() async throws {
        folder = try Fixture.folder()
        service = try await Fixture.service()
        integrationID = try await Fixture.scheduledIntegration(service)
    }

    /// A generated bulk bundle (1.2): 200 users, 10 classes, 5 courses, 800 enrollments.
    func bundle(_ name: String, seed: UInt64 = 7) throws -> String {
        let path = folder + "/" + name
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: 200, classes: 10, enrollments: 800, version: "1.2", seed: seed)
        return path
    }

    func sync(_ bundle: String, dryRun: Bool = false, revalidate: Bool = false) async throws -> SyncRunView {
        try await service.runSync(integrationID: integrationID, bundlePath: bundle, dryRun: dryRun, revalidate: revalidate, actor: "test")
    }

    /// How many records of `entity` the integration holds.
    func held(_ entity: RosterEntity) throws -> Int {
        try service.store.readNow { try $0.rosterRecords(integrationID: integrationID) }.filter { $0.entity == entity.rawValue }.count
    }
}
