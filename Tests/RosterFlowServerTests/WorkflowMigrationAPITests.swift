import Foundation
import HummingbirdTesting
import RosterFlowCore
import XCTest

/// `GET /api/v1/workflows` (versions and instance counts) and `POST /api/v1/workflows/migrations` (the vendor admin's,
/// with the CLI's checks).
final class WorkflowMigrationAPITests: XCTestCase {
    var fixture: APIFixture!

    override func setUp() async throws {
        fixture = try await APIFixture()
    }

    override func tearDown() async throws {
        fixture?.remove()
    }

    func testWorkflowVersionsWithInstanceCountsAndMigrationsForTheVendorAdminOnly() async throws {
        let f = fixture!
        let plan = try String(
            contentsOfFile: APIFixture.repositoryRoot + "/Workflows/migrations/integration-6-to-7.yaml", encoding: .utf8)
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["plan": plan, "dryRun": true]), as: UTF8.self)
        try await f.app.test(.router) { client in
            // Two integrations run version 7: the vendor admin counts both, Springfield's school admin its own.
            for (caller, count) in [("vendor", 2), ("school", 1)] {
                let list = try await client.call(.get, "/api/v1/workflows", token: f.tokens[caller])
                XCTAssertEqual(list.status, 200, list.text)
                let integration = try XCTUnwrap(list.items.first { $0["name"] as? String == "integration" })
                let versions = try XCTUnwrap(integration["versions"] as? [[String: Any]])
                XCTAssertEqual(versions.map { $0["version"] as? Int }, [7])
                XCTAssertEqual(versions.first?["instances"] as? Int, count, caller)
                XCTAssertEqual(versions.first?["current"] as? Bool, true)
            }

            for caller in ["dsp", "school"] {
                assertProblem(try await client.call(.post, "/api/v1/workflows/migrations", token: f.tokens[caller], body: body), 403,
                              code: "forbidden")
            }
            // This database never ran version 6: the plan is refused with the reason, nothing is moved.
            let refused = try await client.call(.post, "/api/v1/workflows/migrations", token: f.tokens["vendor"], body: body)
            assertProblem(refused, 422, code: "invalid-input")
            XCTAssertTrue(refused.text.contains("integration@6 is neither in the definitions folder nor in the database"), refused.text)
            let broken = String(decoding: try JSONSerialization.data(withJSONObject: ["plan": "workflow: integration\nfrom: 7\nto: 7\n"]), as: UTF8.self)
            let bad = try await client.call(.post, "/api/v1/workflows/migrations", token: f.tokens["vendor"], body: broken)
            assertProblem(bad, 422)
            XCTAssertTrue(bad.text.contains("plan:3"), bad.text)
        }
    }
}
