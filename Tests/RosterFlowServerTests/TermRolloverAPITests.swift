import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OneRoster
import RosterFlowCore
import RosterFlowServer
import XCTest

/// Term rollover through the API: a teacher's next-term offer read and accepted in one click, and an archived class
/// restored, in scope and in the caller's role.
final class TermRolloverAPITests: XCTestCase {
    /// The sample district (20 classes) with its fall term ending today and its spring term starting in three days,
    /// by `now`; cls-8 (fall) and cls-3 (spring) share a course, and the teacher of cls-8 teaches cls-3 too.
    static func district(folder: String, now: Double) throws -> (bundle: String, teacher: String) {
        let bundle = folder + "/district"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 200, classes: 20, enrollments: 800, version: "1.2", seed: 7)
        func day(_ offset: Double) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            return formatter.string(from: Date(timeIntervalSince1970: now + offset * 86_400))
        }
        let y = SampleBundle.baseSchoolYear
        try """
            sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
            as-\(y),,,School Year,schoolYear,\(day(-60)),\(day(120)),,\(y)
            as-\(y)-s1,,,Fall,semester,\(day(-60)),\(day(0)),as-\(y),\(y)
            as-\(y)-s2,,,Spring,semester,\(day(3)),\(day(120)),as-\(y),\(y)

            """.write(toFile: bundle + "/academicSessions.csv", atomically: true, encoding: .utf8)
        var rows = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let fields = rows.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let teacher = try XCTUnwrap(fields.first { $0[3] == "cls-8" && $0[6] == "teacher" }?[5])
        let school = try XCTUnwrap(fields.first { $0[3] == "cls-3" }?[4])
        rows.append("enr-api-1,,,cls-3,\(school),\(teacher),teacher,false,,")
        try (rows.joined(separator: "\n") + "\n").write(toFile: bundle + "/enrollments.csv", atomically: true, encoding: .utf8)
        return (bundle, teacher)
    }

    func testANextTermOfferIsReadAndAcceptedAndAnArchivedClassRestoredThroughTheAPI() async throws {
        let f = try await APIFixture()
        defer { f.remove() }
        try await f.schedule(f.springfield)
        let (bundle, teacher) = try Self.district(folder: f.folder, now: f.clock.now)
        _ = try await f.service.setProvisioningMode(integrationID: f.springfield, mode: .onDemand, actor: "test")
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        let imported = try await f.service.importClasses(teacher: teacher, classes: ["cls-8"], integrationID: f.springfield, actor: "t")
        XCTAssertEqual(imported.map(\.outcome), ["imported"])
        let offerPath = "/api/v1/teachers/\(teacher)/next-term-offer"
        let restorePath = "/api/v1/integrations/\(f.springfield)/classes/cls-8/restore"

        try await f.app.test(.router) { client in
            let none = try await client.call(.get, offerPath, token: f.tokens["school"])
            XCTAssertEqual(none.status, 200, none.text)
            XCTAssertEqual((none.json["offers"] as? [Any])?.count, 0)
            assertProblem(try await client.call(.post, offerPath, token: f.tokens["school"], body: #"{"accept":true}"#), 404)
            assertProblem(try await client.call(.post, restorePath, token: f.tokens["vendor"]), 409)
        }

        // The fall term ends: within a few daily checks the class has ended and its teacher has an offer.
        for _ in 0..<4 {
            f.clock.advance(86_400)
            _ = try await f.service.fireDueTimers()
        }
        try await f.app.test(.router) { client in
            let read = try await client.call(.get, offerPath, token: f.tokens["school"])
            XCTAssertEqual(read.status, 200, read.text)
            let offers = read.json["offers"] as? [[String: Any]] ?? []
            XCTAssertEqual(offers.count, 1, read.text)
            XCTAssertEqual(offers.first?["status"] as? String, "open")
            XCTAssertEqual((offers.first?["classes"] as? [[String: Any]])?.compactMap { $0["classSourcedID"] as? String }, ["cls-3"])
            assertProblem(try await client.call(.get, offerPath, token: f.tokens["otherSchool"]), 404)
            assertProblem(try await client.call(.post, offerPath, token: f.tokens["otherSchool"], body: #"{"accept":true}"#), 404)
            assertProblem(try await client.call(.post, offerPath, token: f.tokens["school"], body: #"{"accept":"yes"}"#), 400)

            let accepted = try await client.call(.post, offerPath, token: f.tokens["school"], body: #"{"accept":true}"#)
            XCTAssertEqual(accepted.status, 200, accepted.text)
            XCTAssertEqual((accepted.json["offer"] as? [String: Any])?["status"] as? String, "accepted")
            XCTAssertEqual((accepted.json["imports"] as? [[String: Any]])?.compactMap { $0["outcome"] as? String }, ["imported"])
            assertProblem(try await client.call(.post, offerPath, token: f.tokens["school"], body: #"{"accept":true}"#), 404)
        }

        // After the grace period the ended class is archived; the school admin restores it, the DSP may not.
        for _ in 0..<15 {
            f.clock.advance(86_400)
            _ = try await f.service.fireDueTimers()
        }
        try await f.app.test(.router) { client in
            assertProblem(try await client.call(.post, restorePath, token: f.tokens["dsp"]), 403, cause: "role-not-allowed")
            assertProblem(try await client.call(.post, "/api/v1/integrations/\(f.springfield)/classes/cls-9/restore", token: f.tokens["school"]), 404)
            assertProblem(try await client.call(.post, restorePath, token: f.tokens["otherSchool"]), 404)
            let restored = try await client.call(.post, restorePath, token: f.tokens["school"])
            XCTAssertEqual(restored.status, 200, restored.text)
            XCTAssertEqual(restored.json["state"] as? String, "restored")
        }
    }
}
