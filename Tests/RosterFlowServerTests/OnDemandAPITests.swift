import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OneRoster
import RosterFlowCore
import RosterFlowServer
import XCTest

/// The on-demand routes: the provisioning mode (vendor admins), a teacher's classes and class imports, in scope only.
final class OnDemandAPITests: XCTestCase {
    func testModeTeacherClassesAndImportsThroughTheAPI() async throws {
        let f = try await APIFixture()
        defer { f.remove() }
        try await f.schedule(f.springfield)
        let bundle = f.folder + "/district"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 120, classes: 6, enrollments: 400, version: "1.2", seed: 7)
        let rows = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let teacher = try XCTUnwrap(rows.first { $0[3] == "cls-1" && $0[6] == "teacher" }?[5])
        let other = try XCTUnwrap(rows.first { $0[6] == "teacher" && $0[5] != teacher }?[3])

        try await f.app.test(.router) { client in
            let path = "/api/v1/integrations/\(f.springfield)/mode"
            assertProblem(try await client.call(.put, path, token: f.tokens["school"], body: #"{"mode":"on-demand"}"#), 403, cause: "role-not-allowed")
            assertProblem(try await client.call(.put, path, token: f.tokens["vendor"], body: #"{"mode":"sideways"}"#), 422)
            let set = try await client.call(.put, path, token: f.tokens["vendor"], body: #"{"mode":"on-demand"}"#)
            XCTAssertEqual(set.status, 200, set.text)
            XCTAssertEqual(set.json["provisioningMode"] as? String, "on-demand")
            let shown = try await client.call(.get, "/api/v1/integrations/\(f.springfield)", token: f.tokens["school"])
            XCTAssertEqual(shown.json["provisioningMode"] as? String, "on-demand")
        }
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")

        try await f.app.test(.router) { client in
            let classes = try await client.call(.get, "/api/v1/teachers/\(teacher)/classes", token: f.tokens["school"])
            XCTAssertEqual(classes.status, 200, classes.text)
            let terms = classes.json["terms"] as? [[String: Any]] ?? []
            let listed = terms.flatMap { ($0["classes"] as? [[String: Any]] ?? []).compactMap { $0["classSourcedID"] as? String } }
            XCTAssertTrue(listed.contains("cls-1"), classes.text)
            // Another district's caller sees nothing of Springfield's roster.
            assertProblem(try await client.call(.get, "/api/v1/teachers/\(teacher)/classes", token: f.tokens["otherSchool"]), 404)

            let body = #"{"teacher":"\#(teacher)","classes":["cls-1","\#(other)"]}"#
            let imported = try await client.call(.post, "/api/v1/classes/imports", token: f.tokens["school"], body: body)
            XCTAssertEqual(imported.status, 200, imported.text)
            XCTAssertEqual(imported.items.compactMap { $0["outcome"] as? String }, ["imported", "refused"])
            assertProblem(try await client.call(.post, "/api/v1/classes/imports", token: f.tokens["otherSchool"], body: body), 404)
            let again = try await client.call(.post, "/api/v1/classes/imports", token: f.tokens["school"], body: body)
            XCTAssertEqual(again.items.compactMap { $0["outcome"] as? String }, ["unchanged", "refused"], "never duplicated")
        }
    }
}
