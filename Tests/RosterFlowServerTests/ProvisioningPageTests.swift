import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OneRoster
import RosterFlowCore
import RosterFlowServer
import StorageCore
import XCTest

/// On-demand rostering on the staff's integration page: the provisioning mode (set by the vendor admin) and "why isn't
/// this student in this class?".
final class ProvisioningPageTests: XCTestCase {
    func testTheVendorSetsTheModeOnTheIntegrationPageAndStaffInScopeAskWhyAStudentIsNotInAClass() async throws {
        let f = try await APIFixture()
        defer { f.remove() }
        try await f.schedule(f.springfield)
        let router = RosterFlowServer.router(
            service: f.service, logger: Logger(label: "test"), dashboard: DashboardOptions(publicURL: DashboardTests.base))
        let app = Application(responder: RosterFlowServer.responder(for: router, logger: Logger(label: "test")))
        let page = "/dashboard/integrations/\(f.springfield)"
        try await app.test(.router) { client in
            let vendor = Browser(), school = Browser(), other = Browser()
            try await DashboardTests.signIn(f, vendor, "vendor", client)
            try await DashboardTests.signIn(f, school, "school", client)
            try await DashboardTests.signIn(f, other, "otherSchool", client)

            let shown = try await vendor.get(client, page)
            XCTAssertEqual(shown.status, 200, shown.text)
            XCTAssertTrue(shown.text.contains("Mode: <strong>pre-provisioned</strong>"), shown.text)
            XCTAssertTrue(shown.text.contains("action=\"\(page)/mode\""), "the vendor admin has no mode form")
            let forged = try await vendor.post(client, page + "/mode", ["mode": "on-demand"], csrf: "forged")
            XCTAssertEqual(forged.status, 403)
            XCTAssertEqual(try f.service.provisioningMode(integrationID: f.springfield), .preProvisioned)

            // The school admin sees the mode but may not set it; another district's admin does not see the integration.
            let schoolPage = try await school.get(client, page)
            XCTAssertTrue(schoolPage.text.contains("Mode: <strong>pre-provisioned</strong>"), schoolPage.text)
            XCTAssertFalse(schoolPage.text.contains("action=\"\(page)/mode\""), "a school admin got the mode form")
            let refused = try await school.post(client, page + "/mode", ["mode": "on-demand"])
            XCTAssertEqual(refused.status, 403, refused.text)
            XCTAssertTrue(refused.text.contains("role-not-allowed"), refused.text)
            let hidden = try await other.post(client, page + "/mode", ["mode": "on-demand"])
            XCTAssertEqual(hidden.status, 404, hidden.text)
            XCTAssertEqual(try f.service.provisioningMode(integrationID: f.springfield), .preProvisioned)
            let bad = try await vendor.post(client, page + "/mode", ["mode": "sometimes"])
            XCTAssertEqual(bad.status, 400, bad.text)

            let set = try await vendor.post(client, page + "/mode", ["mode": "on-demand"])
            XCTAssertEqual(set.status, 303, set.text)
            XCTAssertEqual(set.headers[.location], page + "?done=mode")
            XCTAssertEqual(try f.service.provisioningMode(integrationID: f.springfield), .onDemand)
        }

        // An on-demand roster: the school admin asks why a student is not in a class nobody imported.
        let bundle = f.folder + "/district"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 120, classes: 6, enrollments: 400, version: "1.2", seed: 7)
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        let rows = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        let student = try XCTUnwrap(rows.first { $0.count > 6 && $0[3] == "cls-1" && $0[6] == "student" }?[5])
        try await app.test(.router) { client in
            let school = Browser(), other = Browser()
            try await DashboardTests.signIn(f, school, "school", client)
            try await DashboardTests.signIn(f, other, "otherSchool", client)
            let shown = try await school.get(client, page)
            XCTAssertTrue(shown.text.contains("action=\"\(page)/explain\""), "no explain form on an on-demand integration")
            let explained = try await school.get(client, page + "/explain?student=\(student)&class=cls-1")
            XCTAssertEqual(explained.status, 200, explained.text)
            XCTAssertTrue(explained.text.contains("Why \(student) is or isn&#39;t in cls-1") || explained.text.contains("Why \(student) is or isn't in cls-1"),
                          explained.text)
            XCTAssertTrue(explained.text.contains("No teacher has imported"), explained.text)
            let hidden = try await other.get(client, page + "/explain?student=\(student)&class=cls-1")
            XCTAssertEqual(hidden.status, 404, hidden.text)
            let empty = try await school.get(client, page + "/explain?student=&class=cls-1")
            XCTAssertEqual(empty.status, 400, empty.text)
        }
    }
}
