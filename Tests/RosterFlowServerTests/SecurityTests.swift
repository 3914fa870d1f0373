import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RosterFlowCore
import RosterFlowServer
import XCTest
import WorkflowEngine
import Yams

/// Every route refuses callers without a working credential; bad input, unknown routes and wrong methods are problem
/// documents, never a 500; the OpenAPI document lists exactly the routes the router serves.
final class SecurityTests: XCTestCase {
    var fixture: APIFixture!

    override func setUp() async throws {
        fixture = try await APIFixture()
    }

    override func tearDown() async throws {
        fixture?.remove()
    }

    /// Each route with a concrete path (ids of Springfield's objects) and its method; the OpenAPI document is left out
    /// (it is public).
    func concreteRoutes() -> [(HTTPRequest.Method, String)] {
        fixture.router.routes.map { route in
            let path = route.path.description.replacingOccurrences(of: "{id}", with: fixture.springfield)
                .replacingOccurrences(of: "{sourcedId}", with: "u-1").replacingOccurrences(of: "{name}", with: "integration")
            return (route.method, path)
        }.filter { !$0.1.hasSuffix("openapi.yaml") && !$0.1.hasPrefix("/hooks/") }
    }

    func testEveryRouteRefusesMissingForgedRevokedAndExpiredTokensAndDisabledAccounts() async throws {
        let f = fixture!
        let expiring = try await f.service.createToken(
            account: "school@example.org", name: "short", expiresAt: f.clock.now + 3_600, actor: "test")
        let revoked = try await f.service.createToken(account: "school@example.org", name: "gone", expiresAt: nil, actor: "test")
        _ = try await f.service.revokeToken(id: revoked.details.id, actor: "test")
        let disabledAccount = try await f.service.addAccount(
            email: "left@example.org", name: "Left", role: .vendorAdmin, districts: [], actor: "test")
        let disabled = try await f.service.createToken(account: disabledAccount.id, name: nil, expiresAt: nil, actor: "test")
        _ = try await f.service.disableAccount("left@example.org", actor: "test")
        let forged = "rf_" + String(repeating: "A", count: 43)
        let routes = concreteRoutes()
        XCTAssertGreaterThanOrEqual(routes.count, 16)
        try await f.app.test(.router) { client in
            // The short-lived token works until it expires.
            let before = try await client.call(.get, "/api/v1/me", token: expiring.token)
            XCTAssertEqual(before.status, 200)
            f.clock.advance(3_601)
            for (method, path) in routes {
                let none = try await client.call(method, path)
                assertProblem(none, 401, code: "unauthenticated", cause: "missing-credentials")
                XCTAssertEqual(none.headers[.wwwAuthenticate], "Bearer realm=\"rosterflow\"")
                let forgedReply = try await client.call(method, path, token: forged)
                assertProblem(forgedReply, 401, cause: "unknown-token")
                XCTAssertTrue(forgedReply.headers[.wwwAuthenticate]?.contains("invalid_token") ?? false)
                assertProblem(try await client.call(method, path, token: revoked.token), 401, cause: "revoked-token")
                assertProblem(try await client.call(method, path, token: expiring.token), 401, cause: "expired-token")
                assertProblem(try await client.call(method, path, token: disabled.token), 401, cause: "account-disabled")
                assertProblem(try await client.call(method, path, headers: [.authorization: "Basic dXNlcjpwYXNz"]), 401,
                              cause: "unsupported-scheme")
            }
            // A valid token still works after all that.
            let still = try await client.call(.get, "/api/v1/me", token: f.tokens["school"])
            XCTAssertEqual(still.status, 200)
        }
        let statuses = try f.service.tokens(account: "school@example.org").reduce(into: [String: String]()) { $0[$1.name] = $1.status }
        XCTAssertEqual(statuses, ["school": "active", "short": "expired", "gone": "revoked"])
    }

    func testAnotherDistrictsTokenFindsNothingOnAnyRoute() async throws {
        let f = fixture!
        // (The outbox is not a district's: it is the vendor admin's alone, 403 for anyone else.)
        let routes = concreteRoutes().filter { $0.1.contains(f.springfield) && !$0.1.hasPrefix("/api/v1/outbox") }
        XCTAssertGreaterThanOrEqual(routes.count, 3)
        try await f.app.test(.router) { client in
            for (method, path) in routes {
                let reply = try await client.call(method, path, token: f.tokens["otherSchool"], body: #"{"event":"verify"}"#)
                assertProblem(reply, 404, code: "not-found")
            }
        }
    }

    func testUnknownRoutesWrongMethodsAndBadBodiesAreProblemsNeverA500() async throws {
        let f = fixture!
        let events = "/api/v1/integrations/\(f.springfield)/events"
        try await f.app.test(.router) { client in
            assertProblem(try await client.call(.get, "/api/v1/nothing", token: f.tokens["vendor"]), 404, code: "not-found",
                          cause: "no-route")
            assertProblem(try await client.call(.get, "/", token: nil), 404)
            let wrongMethod = try await client.call(.delete, "/api/v1/integrations/\(f.springfield)", token: f.tokens["vendor"])
            assertProblem(wrongMethod, 405, code: "method-not-allowed")
            XCTAssertEqual(wrongMethod.headers[.allow], "GET")
            let put = try await client.call(.put, events, token: f.tokens["vendor"])
            assertProblem(put, 405)
            XCTAssertEqual(put.headers[.allow], "POST")

            let vendor = f.tokens["vendor"]
            assertProblem(try await client.call(.post, events, token: vendor, body: "{\"event\":"), 400, cause: "malformed-json")
            assertProblem(try await client.call(.post, events, token: vendor, body: "[1,2]"), 400)
            assertProblem(try await client.call(.post, events, token: vendor, body: ""), 400)
            assertProblem(try await client.call(.post, events, token: vendor, body: "{}"), 400, cause: "missing-field")
            assertProblem(try await client.call(.post, events, token: vendor, body: #"{"event":42}"#), 400, cause: "wrong-type")
            assertProblem(try await client.call(.post, events, token: vendor, body: "\u{FF}\u{FE}"), 400)
            assertProblem(try await client.call(
                .post, events, token: vendor, body: #"{"event":"hold"}"#, headers: [.contentType: "text/plain"]), 415,
                code: "unsupported-media-type")
            let oversize = "{\"event\":\"hold\",\"reason\":\"" + String(repeating: "x", count: 70 * 1024) + "\"}"
            assertProblem(try await client.call(.post, events, token: vendor, body: oversize), 413, code: "too-large")
            assertProblem(try await client.call(
                .post, events, token: vendor, body: #"{"event":"hold"}"#, headers: [HTTPField.Name("Idempotency-Key")!: "a b"]), 400,
                cause: "bad-idempotency-key")
            assertProblem(try await client.call(.post, events, token: vendor, body: #"{"event":"no_such_event"}"#), 409, code: "refused")
        }
        XCTAssertEqual(try f.service.integration(id: f.springfield).history.count, 1, "nothing was applied")
    }

    func testTheOpenAPIDocumentListsExactlyTheRoutesTheRouterServes() async throws {
        let f = fixture!
        let file = APIFixture.repositoryRoot + "/Sources/RosterFlowServer/openapi.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let document = try XCTUnwrap(try Yams.load(yaml: text) as? [String: Any])
        XCTAssertEqual(document["openapi"] as? String, "3.1.0")
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        var documented: Set<String> = []
        for (path, operations) in paths {
            // A path may name its own server (the inbound hooks are under /hooks/v1).
            let base = (operations["servers"] as? [[String: Any]])?.first?["url"] as? String ?? "/api/v1"
            for method in operations.keys where methods.contains(method) {
                documented.insert("\(method.uppercased()) \(base)\(path)")
            }
        }
        let served = Set(f.router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
        XCTAssertEqual(served.subtracting(documented), [], "served but not documented")
        XCTAssertEqual(documented.subtracting(served), [], "documented but not served")

        try await f.app.test(.router) { client in
            let served = try await client.call(.get, "/api/v1/openapi.yaml")
            XCTAssertEqual(served.status, 200, "the document is public")
            XCTAssertEqual(served.text, text, "the document served is the one in the repository")
            XCTAssertTrue(served.contentType?.hasPrefix("application/yaml") ?? false)
            assertSecurityHeaders(served)
        }
    }
}

/// Accounts and tokens in the service: roles and scopes, hashes at rest, the audit trail.
final class AccessServiceTests: XCTestCase {
    func testAccountsFitTheirRoleAndTokensAreStoredOnlyAsHashes() async throws {
        let f = try await APIFixture()
        defer { f.remove() }
        let service = f.service
        for (role, districts) in [(Role.vendorAdmin, ["t-1"]), (.dsp, []), (.schoolAdmin, []), (.schoolAdmin, ["t-1", "t-2"]), (.system, [])] {
            do {
                _ = try await service.addAccount(email: "x@example.org", name: "X", role: role, districts: districts, actor: "test")
                XCTFail("\(role) with \(districts) was accepted")
            } catch let error as RosterFlowError {
                XCTAssertEqual(error.code, .invalidInput, error.message)
            }
        }
        do {
            _ = try await service.addAccount(email: "VENDOR@example.org", name: "Dup", role: .vendorAdmin, districts: [], actor: "test")
            XCTFail("a second account for one e-mail")
        } catch let error as RosterFlowError {
            XCTAssertEqual(error.code, .conflict)
        }
        let issued = try await service.createToken(account: "dsp@example.org", name: "laptop", expiresAt: nil, actor: "cli:ana")
        XCTAssertTrue(issued.token.hasPrefix("rf_"))
        XCTAssertEqual(issued.token.count, 46, "rf_ and 43 base64url characters: 256 bits")
        let database = try String(decoding: Data(contentsOf: URL(fileURLWithPath: f.folder + "/api.sqlite")), as: UTF8.self)
            + ((try? String(decoding: Data(contentsOf: URL(fileURLWithPath: f.folder + "/api.sqlite-wal")), as: UTF8.self)) ?? "")
        XCTAssertFalse(database.contains(issued.token), "the token is not stored")
        guard case let .valid(principal) = try service.checkToken(issued.token) else { return XCTFail("the token does not work") }
        XCTAssertEqual(principal.scope, .only(["t-1"]))
        XCTAssertEqual(principal.actor, "account:dsp@example.org")
        XCTAssertEqual(try service.checkToken(issued.token + "x"), .unknown)
        let audit = try service.audit().filter { $0.subject == issued.details.id }
        XCTAssertEqual(audit.map(\.action), ["token-create"])
        XCTAssertEqual(audit.map(\.actor), ["cli:ana"])
        XCTAssertFalse(audit.contains { ($0.after ?? "").contains(issued.token) }, "the audit log never holds the token")
        XCTAssertEqual(try service.expiry(parsing: "2d"), f.clock.now + 2 * 86_400, accuracy: 0.001)
        XCTAssertEqual(try service.expiry(parsing: "2027-01-31"), 1_801_353_600)
        XCTAssertThrowsError(try service.expiry(parsing: "soon"))
    }
}
