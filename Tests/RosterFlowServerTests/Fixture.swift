import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OneRoster
import RosterFlowCore
import RosterFlowServer
import WorkflowEngine
import XCTest

/// A time tests can move (token expiry).
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Date().timeIntervalSince1970

    var now: Double { lock.withLock { value } }

    func advance(_ seconds: Double) { lock.withLock { value += seconds } }
}

/// A real temporary SQLite database with two districts (t-1 Springfield, t-2 Shelbyville), one integration each, and an
/// account with a token for each kind of caller.
struct APIFixture {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    let folder: String
    let clock: TestClock
    let service: RosterFlowService
    /// Springfield (t-1) and Shelbyville (t-2).
    let springfield: String
    let shelbyville: String
    /// Tokens by caller: `vendor`, `dsp` (t-1), `school` (t-1), `otherSchool` (t-2).
    var tokens: [String: String] = [:]
    var accounts: [String: AccountView] = [:]

    /// `workflows`: the definitions folder (default the repository's; a test of workflow migrations gives older ones).
    init(workflows: String = APIFixture.repositoryRoot + "/Workflows") async throws {
        folder = NSTemporaryDirectory() + "rosterflow-api-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let clock = TestClock()
        self.clock = clock
        service = try RosterFlowService(
            databasePath: folder + "/api.sqlite", workflowsPath: workflows, clock: { clock.now })
        _ = try await service.importCustomers(
            csv: "tenant_id,district,contact_email\nt-1,Springfield USD,it@springfield.example\nt-2,Shelbyville USD,it@shelbyville.example\n",
            file: "customers.csv")
        let requester = Sender(actor: "classlink", role: .schoolAdmin)
        springfield = try await service.requestIntegration(
            tenantID: "t-1", district: "Springfield USD", permission: "rule-based", contactEmail: "it@springfield.example",
            sender: requester).id
        shelbyville = try await service.requestIntegration(
            tenantID: "t-2", district: "Shelbyville USD", permission: "rule-based", contactEmail: "it@shelbyville.example",
            sender: requester).id
        for (name, role, districts) in [
            ("vendor", Role.vendorAdmin, [String]()), ("dsp", .dsp, ["t-1"]), ("school", .schoolAdmin, ["t-1"]),
            ("otherSchool", .schoolAdmin, ["t-2"]),
        ] {
            let account = try await service.addAccount(
                email: "\(name)@example.org", name: name, role: role, districts: districts, actor: "test")
            accounts[name] = account
            tokens[name] = try await service.createToken(account: account.id, name: name, expiresAt: nil, actor: "test").token
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
    }

    var router: Router<AppContext> {
        RosterFlowServer.router(service: service, logger: Logger(label: "test"))
    }

    var app: some ApplicationProtocol {
        Application(responder: RosterFlowServer.responder(for: router, logger: Logger(label: "test")))
    }

    /// Moves Springfield to `scheduled` (authenticated by the vendor, scheduled by the school) through the service.
    func schedule(_ id: String) async throws {
        _ = try await service.authenticate(integrationID: id, role: .vendorAdmin, actor: "test")
        _ = try await service.schedule(integrationID: id, time: "02:30", timezone: "America/Chicago", role: .schoolAdmin, actor: "test")
    }

    /// A sync run held for review on a scheduled integration: a first export applied, then one that omits half the
    /// enrollments.
    func heldRun(_ id: String) async throws -> String {
        let bundle = folder + "/bundle-\(id)"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 200, classes: 10, enrollments: 800, version: "1.2", seed: 7)
        _ = try await service.runSync(integrationID: id, bundlePath: bundle, actor: "test")
        let enrollments = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n")
        try (enrollments.prefix(1 + 400).joined(separator: "\n") + "\n").write(
            toFile: bundle + "/enrollments.csv", atomically: true, encoding: .utf8)
        let held = try await service.runSync(integrationID: id, bundlePath: bundle, actor: "test")
        XCTAssertEqual(held.decision, "held")
        return held.id
    }

    /// A held run that proposes a merge: a student's sourcedId changed in the SIS while their username stayed.
    func heldMerge(_ id: String) async throws -> String {
        let bundle = folder + "/merge-\(id)"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 200, classes: 10, enrollments: 800, version: "1.2", seed: 7)
        let first = try await service.runSync(integrationID: id, bundlePath: bundle, actor: "test")
        XCTAssertEqual(first.decision, "applied")
        let users = try String(contentsOfFile: bundle + "/users.csv", encoding: .utf8).components(separatedBy: "\n")
        let student = try XCTUnwrap(users.first { $0.hasPrefix("stu-") })
        let oldID = String(student.prefix { $0 != "," })
        try users.map { $0 == student ? "stu-rekeyed-1" + $0.dropFirst(oldID.count) : $0 }.joined(separator: "\n")
            .write(toFile: bundle + "/users.csv", atomically: true, encoding: .utf8)
        let held = try await service.runSync(integrationID: id, bundlePath: bundle, actor: "test")
        XCTAssertEqual(held.decision, "held")
        XCTAssertFalse(held.merges.isEmpty, "\(held.reasons)")
        return held.id
    }

    /// A school-year rollover held for review: the sample district's 2025 synced with every course mapped, then its
    /// 2026, whose new courses match some of last year's. Returns the run and the sourcedId of a course it carries.
    func heldRollover(_ id: String) async throws -> (run: String, carried: String) {
        func sync(_ year: Int) async throws -> SyncRunView {
            let bundle = folder + "/year-\(year)-\(id)"
            _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 200, classes: 10, enrollments: 800, version: "1.2",
                                       seed: 7, schoolYear: year)
            return try await service.runSync(integrationID: id, bundlePath: bundle, actor: "test")
        }
        let first = try await sync(2025)
        XCTAssertEqual(first.decision, "applied")
        for course in try service.courses(integrationID: id) {
            _ = try await service.mapCourse(
                id: course.id, catalogTitle: "Catalog \(course.title)", baseID: "BASE-\(course.sourcedID)", actor: "dsp")
        }
        let run = try await sync(2026)
        XCTAssertEqual(run.decision, "held")
        return (run.id, try XCTUnwrap(run.carryForward.first?.newSourcedID, "\(run.reasons)"))
    }
}

/// One answer, with its body read as JSON.
struct Reply {
    var status: Int
    var headers: HTTPFields
    var text: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }

    var contentType: String? { headers[.contentType] }
}

extension TestClientProtocol {
    /// Sends a request, with `token` as Bearer and `body` as JSON text.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: String? = nil, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }
}

/// Checks that `reply` is a problem document with this status, code and cause, carrying the security headers.
func assertProblem(
    _ reply: Reply, _ status: Int, code: String? = nil, cause: String? = nil, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(reply.status, status, reply.text, file: file, line: line)
    XCTAssertEqual(reply.contentType, "application/problem+json", file: file, line: line)
    XCTAssertEqual(reply.json["status"] as? Int, status, reply.text, file: file, line: line)
    XCTAssertNotNil(reply.json["title"] as? String, file: file, line: line)
    XCTAssertNotNil(reply.json["detail"] as? String, file: file, line: line)
    XCTAssertNotNil(reply.json["type"] as? String, file: file, line: line)
    if let code { XCTAssertEqual(reply.json["code"] as? String, code, reply.text, file: file, line: line) }
    if let cause { XCTAssertEqual(reply.json["cause"] as? String, cause, reply.text, file: file, line: line) }
    assertSecurityHeaders(reply, file: file, line: line)
}

func assertSecurityHeaders(_ reply: Reply, file: StaticString = #filePath, line: UInt = #line) {
    let csp = reply.headers[.contentSecurityPolicy] ?? ""
    XCTAssertTrue(csp.contains("frame-ancestors 'none'"), csp, file: file, line: line)
    XCTAssertFalse(csp.contains("unsafe-inline"), csp, file: file, line: line)
    XCTAssertEqual(reply.headers[.xContentTypeOptions], "nosniff", file: file, line: line)
    XCTAssertEqual(reply.headers[HTTPField.Name("Referrer-Policy")!], "same-origin", file: file, line: line)
}
