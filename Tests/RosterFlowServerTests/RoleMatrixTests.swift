import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RosterFlowCore
import RosterFlowServer
import WorkflowEngine
import XCTest

/// Every GET route for each kind of caller of the district that owns the objects: readable by all three roles, but the
/// outbox, which only the vendor admin may read.
final class RoleMatrixTests: XCTestCase {
    func testEveryReadingRouteForEachRole() async throws {
        let f = try await APIFixture()
        defer { f.remove() }
        try await f.schedule(f.springfield)
        let course = try await f.service.addCourse(
            integrationID: f.springfield, sourcedID: "crs-1", title: "Algebra I", sender: Sender(actor: "test", role: .system))
        let run = try await f.heldRun(f.springfield)
        _ = try await f.service.importCatalog(csv: "base_id,title\nALG1,Algebra I\n", file: "catalog.csv", actor: "test")
        let messages = try await f.service.outboxMessages()
        let message = try XCTUnwrap(messages.first?.id)
        let users = try String(contentsOfFile: f.folder + "/bundle-\(f.springfield)/users.csv", encoding: .utf8).split(separator: "\n")
        let user = String(users[1].split(separator: ",")[0]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let routes = f.router.routes.filter { $0.method == .get }.map(\.path.description)
        @Sendable func concrete(_ path: String) -> String {
            let id = path.hasPrefix("/api/v1/courses/") ? course.id : path.hasPrefix("/api/v1/sync-runs/") ? run
                : path.hasPrefix("/api/v1/outbox/") ? message : f.springfield
            return path.replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{sourcedId}", with: user)
                .replacingOccurrences(of: "{baseId}", with: "ALG1").replacingOccurrences(of: "{name}", with: "integration")
        }
        try await f.app.test(.router) { client in
            for caller in ["vendor", "dsp", "school"] {
                for path in routes {
                    let reply = try await client.call(.get, concrete(path), token: f.tokens[caller])
                    if path.hasPrefix("/api/v1/outbox"), caller != "vendor" {
                        assertProblem(reply, 403, code: "forbidden", cause: "role-not-allowed")
                    } else {
                        XCTAssertEqual(reply.status, 200, "\(caller) GET \(path): \(reply.text)")
                        if path.hasSuffix("{sourcedId}") { XCTAssertFalse(reply.items.isEmpty, "the user's history: \(reply.text)") }
                        assertSecurityHeaders(reply)
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(routes.count, 11)
    }
}
