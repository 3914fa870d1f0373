import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// `GET /api/v1/workflows/{name}/diagram.svg`: the workflow drawn by the server, for every role.
final class DiagramRouteTests: XCTestCase {
    func testEveryRoleReadsAWorkflowsDiagramOfAStoredVersion() async throws {
        let f = try await APIFixture()
        defer { f.remove() }
        try await f.app.test(.router) { client in
            for caller in ["vendor", "dsp", "school"] {
                let reply = try await client.call(.get, "/api/v1/workflows/integration/diagram.svg", token: f.tokens[caller])
                XCTAssertEqual(reply.status, 200, reply.text)
                XCTAssertEqual(reply.contentType, "image/svg+xml; charset=utf-8")
                XCTAssertTrue(reply.text.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), reply.text)
                XCTAssertTrue(reply.text.contains("Workflow integration, version 7"))
                XCTAssertFalse(reply.text.contains("<script"))
                assertSecurityHeaders(reply)
            }
            let pinned = try await client.call(.get, "/api/v1/workflows/course-mapping/diagram.svg?version=3", token: f.tokens["school"])
            XCTAssertTrue(pinned.text.contains("Workflow course-mapping, version 3"), pinned.text)
            assertProblem(try await client.call(.get, "/api/v1/workflows/integration/diagram.svg?version=99", token: f.tokens["school"]), 404)
            assertProblem(try await client.call(.get, "/api/v1/workflows/integration/diagram.svg?version=x", token: f.tokens["school"]), 400,
                          cause: "bad-query")
            assertProblem(try await client.call(.get, "/api/v1/workflows/nothing/diagram.svg", token: f.tokens["school"]), 404)
        }
    }
}
