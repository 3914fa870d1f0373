import Foundation
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

    /// A service on a new database file with the customer registry imported.
    static func service(clock: TestClock = TestClock(), workflows: String = Fixture.workflows) async throws -> RosterFlowService {
        let service = try RosterFlowService(
            databasePath: try folder() + "/rf.sqlite", workflowsPath: workflows, clock: { clock.now })
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
