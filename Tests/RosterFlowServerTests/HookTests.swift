import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OneRoster
import RosterFlowCore
import RosterFlowServer
import WorkflowEngine
import XCTest

/// Inbound hooks (`/hooks/v1/…`), router-level on a real temporary SQLite database: each route changes the store as
/// its CLI counterpart does; every way a hook can be wrong is a problem document and applies nothing.
final class HookTests: XCTestCase {
    var fixture: APIFixture!
    /// The `classlink` sender's secret (every district).
    var secret = ""

    override func setUp() async throws {
        fixture = try await APIFixture()
        secret = try await fixture.service.addHookSender(name: "classlink", districts: [], actor: "test").secret
    }

    override func tearDown() async throws {
        fixture?.remove()
    }

    /// The Standard Webhooks headers for `body`, signed with `secrets` (each adds a `v1,` signature).
    static func signed(
        _ body: String, id: String = "msg_" + UUID().uuidString, secrets: [String], timestamp: Int = Int(Date().timeIntervalSince1970)
    ) -> HTTPFields {
        let signatures = secrets.map { secret -> String in
            let key = Data(base64Encoded: String(secret.dropFirst("whsec_".count)))!
            var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
            mac.update(data: Data("\(id).\(timestamp).\(body)".utf8))
            return "v1," + Data(mac.finalize()).base64EncodedString()
        }
        return [
            HTTPField.Name("webhook-id")!: id, HTTPField.Name("webhook-timestamp")!: String(timestamp),
            HTTPField.Name("webhook-signature")!: signatures.joined(separator: " "), .contentType: "application/json",
        ]
    }

    static let enabled = #"{"tenantId":"t-9","district":{"sourcedId":"d-9","name":"Ogdenville USD"},"permissionType":"Rule-Based","contact":{"name":"Olga","email":"it@ogdenville.example"}}"#

    static func post(
        _ client: some TestClientProtocol, _ route: String, _ body: String, sender: String = "classlink", headers: HTTPFields
    ) async throws -> Reply {
        try await client.call(.post, "/hooks/v1/\(route)?sender=\(sender)", body: body, headers: headers)
    }

    func testAppEnabledRequestsAnIntegrationAsTheSenderAndTellsTheVendorAdmins() async throws {
        let f = fixture!
        let secret = self.secret
        let before = try f.service.integrations().count
        try await f.app.test(.router) { client in
            let reply = try await Self.post(client, "app-enabled", Self.enabled, headers: Self.signed(Self.enabled, secrets: [secret]))
            XCTAssertEqual(reply.status, 200, reply.text)
            XCTAssertEqual(reply.json["hook"] as? String, "app-enabled")
            let change = try XCTUnwrap((reply.json["changes"] as? [[String: Any]])?.first)
            XCTAssertEqual(change["to"] as? String, "requested")
            let id = try XCTUnwrap(change["instanceId"] as? String)
            let integration = try f.service.integration(id: id)
            XCTAssertEqual(integration.tenantID, "t-9")
            XCTAssertEqual(integration.district, "Ogdenville USD")
            XCTAssertEqual(integration.permission, "rule-based")
            XCTAssertEqual(integration.contactEmail, "it@ogdenville.example")
            XCTAssertEqual(integration.history.first?.actor, "hook:classlink")
            XCTAssertTrue(integration.history.first?.reason?.contains("district sourcedId d-9") ?? false)
            XCTAssertTrue(integration.history.first?.reason?.contains("contact Olga") ?? false)
            let messages = try await f.service.outboxMessages().filter { $0.instanceID == id }
            XCTAssertEqual(messages.map(\.template), ["integration-requested"], "the vendor admins get the request's e-mail")
        }
        XCTAssertEqual(try f.service.integrations().count, before + 1)
    }

    func testAppDisabledDisablesTheDistrictsOpenIntegration() async throws {
        let f = fixture!
        let secret = self.secret
        let body = #"{"tenantId":"t-1","reason":"contract ended"}"#
        try await f.app.test(.router) { client in
            let reply = try await Self.post(client, "app-disabled", body, headers: Self.signed(body, secrets: [secret]))
            XCTAssertEqual(reply.status, 200, reply.text)
            let shown = try f.service.integration(id: f.springfield)
            XCTAssertEqual(shown.state, "disabled")
            XCTAssertEqual(shown.history.last?.event, "disable")
            XCTAssertEqual(shown.history.last?.actor, "hook:classlink")
            XCTAssertTrue(shown.history.last?.reason?.contains("contract ended") ?? false)
            XCTAssertEqual(try f.service.integration(id: f.shelbyville).state, "requested", "another district is untouched")
            // Nothing is left to disable: the next one (a new id) is not found.
            let again = try await Self.post(client, "app-disabled", body, headers: Self.signed(body, secrets: [secret]))
            assertProblem(again, 404, code: "not-found")
        }
    }

    func testStudentStartedLocksTheCourseNamedByCourseOrClassSourcedId() async throws {
        let f = fixture!
        let secret = self.secret
        try await f.schedule(f.springfield)
        let bundle = f.folder + "/bundle"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 60, classes: 4, enrollments: 120, version: "1.2", seed: 3)
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        let courses = try f.service.courses(integrationID: f.springfield)
        // A class of the bundle and its course (classes.csv: sourcedId, …, courseSourcedId).
        let classes = try String(contentsOfFile: bundle + "/classes.csv", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let courseColumn = try XCTUnwrap(classes[0].firstIndex(of: "courseSourcedId"))
        let classID = classes[1][0]
        let byClass = try XCTUnwrap(courses.first { $0.sourcedID == classes[1][courseColumn] })
        let added = Sender(actor: "test", role: .system)
        let byCourse = try await f.service.addCourse(integrationID: f.springfield, sourcedID: "crs-hook-1", title: "Geometry", sender: added)
        let unmapped = try await f.service.addCourse(integrationID: f.springfield, sourcedID: "crs-hook-2", title: "Biology", sender: added)
        for (index, course) in [byClass, byCourse].enumerated() {
            _ = try await f.service.mapCourse(id: course.id, catalogTitle: "Course \(index)", baseID: "BASE-\(index)", role: .dsp, actor: "test")
            _ = try await f.service.send("verify", to: course.id, role: .schoolAdmin, actor: "test")
            _ = try await f.service.send("add_content", to: course.id, role: .dsp, actor: "test")
        }
        try await f.app.test(.router) { client in
            let first = #"{"tenantId":"t-1","classSourcedId":"\#(classID)","userSourcedId":"u-7"}"#
            let reply = try await Self.post(client, "student-started", first, headers: Self.signed(first, secrets: [secret]))
            XCTAssertEqual(reply.status, 200, reply.text)
            let locked = try f.service.course(id: byClass.id)
            XCTAssertEqual(locked.state, "locked")
            XCTAssertTrue(locked.locked)
            XCTAssertEqual(try f.service.course(id: byCourse.id).state, "content_added", "only the class's course")

            let second = #"{"tenantId":"t-1","courseSourcedId":"\#(byCourse.sourcedID)"}"#
            let reply2 = try await Self.post(client, "student-started", second, headers: Self.signed(second, secrets: [secret]))
            XCTAssertEqual(reply2.status, 200, reply2.text)
            XCTAssertEqual(try f.service.course(id: byCourse.id).state, "locked")

            // A course of another state is refused by the workflow (it has no content yet), and an unknown one is 404.
            let early = #"{"tenantId":"t-1","courseSourcedId":"\#(unmapped.sourcedID)"}"#
            assertProblem(try await Self.post(client, "student-started", early, headers: Self.signed(early, secrets: [secret])), 409, code: "refused")
            let unknown = #"{"tenantId":"t-1","courseSourcedId":"no-such-course"}"#
            assertProblem(try await Self.post(client, "student-started", unknown, headers: Self.signed(unknown, secrets: [secret])), 404)
            let neither = #"{"tenantId":"t-1"}"#
            assertProblem(try await Self.post(client, "student-started", neither, headers: Self.signed(neither, secrets: [secret])), 422)
        }
        XCTAssertEqual(try f.service.course(id: byClass.id).state, "locked")
    }

    func testARedeliveryIsAnsweredAsTheFirstTimeAndAnotherBodyUnderItsIdIsRefused() async throws {
        let f = fixture!
        let secret = self.secret
        let before = try f.service.integrations().count
        try await f.app.test(.router) { client in
            let headers = Self.signed(Self.enabled, id: "msg_once", secrets: [secret])
            let first = try await Self.post(client, "app-enabled", Self.enabled, headers: headers)
            XCTAssertEqual(first.status, 200, first.text)
            XCTAssertNil(first.headers[HTTPField.Name("Idempotent-Replayed")!])
            let again = try await Self.post(client, "app-enabled", Self.enabled, headers: headers)
            XCTAssertEqual(again.status, 200, again.text)
            XCTAssertEqual(again.text, first.text, "the first answer again")
            XCTAssertEqual(again.headers[HTTPField.Name("Idempotent-Replayed")!], "true")
            // Re-signed with a new timestamp (a sender's retry) it is still the same hook.
            let retry = try await Self.post(
                client, "app-enabled", Self.enabled,
                headers: Self.signed(Self.enabled, id: "msg_once", secrets: [secret], timestamp: Int(Date().timeIntervalSince1970) + 30))
            XCTAssertEqual(retry.text, first.text)
            let other = Self.enabled.replacingOccurrences(of: "t-9", with: "t-8")
            let reused = try await Self.post(client, "app-enabled", other, headers: Self.signed(other, id: "msg_once", secrets: [secret]))
            assertProblem(reused, 409, code: "conflict", cause: "webhook-id-reused")
        }
        XCTAssertEqual(try f.service.integrations().count, before + 1, "applied once")
    }

    func testBadSignaturesWrongSecretsStaleTimestampsAndBadBodiesAreRefusedAndApplyNothing() async throws {
        let f = fixture!
        let secret = self.secret
        let before = try f.service.integrations().count
        let now = Int(Date().timeIntervalSince1970)
        let other = try await f.service.addHookSender(name: "platform", districts: [], actor: "test").secret
        _ = try await f.service.addHookSender(name: "retired", districts: [], actor: "test")
        _ = try await f.service.disableHookSender(name: "retired", actor: "test")
        try await f.app.test(.router) { client in
            let good = Self.signed(Self.enabled, secrets: [secret])
            // The body changed after signing.
            let tampered = Self.enabled.replacingOccurrences(of: "Ogdenville", with: "Evilville")
            let badSignature = try await Self.post(client, "app-enabled", tampered, headers: good)
            assertProblem(badSignature, 401, code: "unauthenticated", cause: "bad-signature")
            XCTAssertEqual(badSignature.headers[.wwwAuthenticate], "StandardWebhooks realm=\"rosterflow-hooks\"")
            // Signed with another sender's secret, or a made-up one, or not a v1 signature at all.
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled, headers: Self.signed(Self.enabled, secrets: [other])), 401,
                          cause: "bad-signature")
            let madeUp = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled, headers: Self.signed(Self.enabled, secrets: [madeUp])), 401,
                          cause: "bad-signature")
            var garbage = good
            garbage[HTTPField.Name("webhook-signature")!] = "v1,not-base64!! v2,abc"
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled, headers: garbage), 401, cause: "bad-signature")
            // Unknown and disabled senders; no sender named.
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled, sender: "nobody", headers: good), 401, cause: "unknown-sender")
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled, sender: "retired", headers: good), 401, cause: "sender-disabled")
            assertProblem(try await client.call(.post, "/hooks/v1/app-enabled", body: Self.enabled, headers: good), 400, cause: "missing-sender")
            // Stale and future timestamps, even when correctly signed.
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled,
                                         headers: Self.signed(Self.enabled, secrets: [secret], timestamp: now - 301)), 400, cause: "stale-timestamp")
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled,
                                         headers: Self.signed(Self.enabled, secrets: [secret], timestamp: now + 400)), 400, cause: "future-timestamp")
            var words = good
            words[HTTPField.Name("webhook-timestamp")!] = "yesterday"
            assertProblem(try await Self.post(client, "app-enabled", Self.enabled, headers: words), 400, cause: "bad-timestamp")
            // Each missing header.
            for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
                var missing = good
                missing[HTTPField.Name(name)!] = nil
                assertProblem(try await Self.post(client, "app-enabled", Self.enabled, headers: missing), 400, cause: "missing-webhook-headers")
            }
            // Oversize, and malformed JSON that is correctly signed.
            let big = "{\"tenantId\":\"" + String(repeating: "x", count: 20 * 1024) + "\"}"
            assertProblem(try await Self.post(client, "app-enabled", big, headers: Self.signed(big, secrets: [secret])), 413, code: "too-large")
            let malformed = "{\"tenantId\":"
            assertProblem(try await Self.post(client, "app-enabled", malformed, headers: Self.signed(malformed, secrets: [secret])), 400,
                          cause: "malformed-json")
            let missingField = #"{"tenantId":"t-9"}"#
            assertProblem(try await Self.post(client, "app-enabled", missingField, headers: Self.signed(missingField, secrets: [secret])), 400,
                          cause: "missing-field")
            let badPermission = Self.enabled.replacingOccurrences(of: "Rule-Based", with: "Everything")
            assertProblem(try await Self.post(client, "app-enabled", badPermission, headers: Self.signed(badPermission, secrets: [secret])), 422)
            // Another method on a hook route is 405, an unknown hook 404.
            assertProblem(try await client.call(.get, "/hooks/v1/app-enabled"), 405)
            assertProblem(try await client.call(.post, "/hooks/v1/app-exploded", body: "{}"), 404)
        }
        XCTAssertEqual(try f.service.integrations().count, before, "nothing was applied")
    }

    func testARotatedSecretIsAcceptedBesideTheNewOneUntilItsGraceEnds() async throws {
        let f = fixture!
        let secret = self.secret
        let old = secret
        let rotated = try await f.service.rotateHookSender(name: "classlink", grace: 3_600, actor: "test")
        XCTAssertNotEqual(rotated.secret, old)
        XCTAssertNotNil(rotated.sender.previousSecretValidUntil)
        try await f.app.test(.router) { client in
            for (index, secrets) in [[old], [rotated.secret], [old, rotated.secret]].enumerated() {
                let body = Self.enabled.replacingOccurrences(of: "t-9", with: "t-9\(index)")
                let reply = try await Self.post(client, "app-enabled", body, headers: Self.signed(body, secrets: secrets))
                XCTAssertEqual(reply.status, 200, "secrets #\(index): \(reply.text)")
            }
            f.clock.advance(3_601)
            let late = Self.enabled.replacingOccurrences(of: "t-9", with: "t-99")
            assertProblem(try await Self.post(client, "app-enabled", late, headers: Self.signed(late, secrets: [old])), 401, cause: "bad-signature")
            let reply = try await Self.post(client, "app-enabled", late, headers: Self.signed(late, secrets: [rotated.secret]))
            XCTAssertEqual(reply.status, 200, reply.text)
        }
        XCTAssertNil(try f.service.hookSenders().first?.previousSecretValidUntil, "the grace period is over")
    }

    func testASenderScopedToDistrictsCannotActOnAnother() async throws {
        let f = fixture!
        let scoped = try await f.service.addHookSender(name: "springfield-sis", districts: ["t-1"], actor: "test").secret
        try await f.app.test(.router) { client in
            let other = #"{"tenantId":"t-2"}"#
            let refused = try await Self.post(client, "app-disabled", other, sender: "springfield-sis", headers: Self.signed(other, secrets: [scoped]))
            assertProblem(refused, 403, code: "forbidden", cause: "district-not-allowed")
            XCTAssertEqual(try f.service.integration(id: f.shelbyville).state, "requested")
            let own = #"{"tenantId":"t-1"}"#
            let allowed = try await Self.post(client, "app-disabled", own, sender: "springfield-sis", headers: Self.signed(own, secrets: [scoped]))
            XCTAssertEqual(allowed.status, 200, allowed.text)
            XCTAssertEqual(try f.service.integration(id: f.springfield).state, "disabled")
            XCTAssertEqual(try f.service.integration(id: f.springfield).history.last?.actor, "hook:springfield-sis")
        }
    }
}

/// The Standard Webhooks verifier on its own: the specification's test vector, several signatures, the window.
final class StandardWebhooksTests: XCTestCase {
    // From the Standard Webhooks reference libraries' tests (libraries/go/webhook_test.go).
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    let id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    let timestamp = "1614265330"
    let body = Data(#"{"test": 2432232314}"#.utf8)
    let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

    func testTheSpecificationsVectorVerifiesAloneOrAmongOthers() throws {
        try StandardWebhooks.verify(id: id, timestamp: timestamp, signatures: signature, body: body, secrets: [secret])
        try StandardWebhooks.verify(
            id: id, timestamp: timestamp, signatures: "v1a,ed25519sig v1,AAAA " + signature, body: body, secrets: [secret])
        try StandardWebhooks.verify(
            id: id, timestamp: timestamp, signatures: signature, body: body,
            secrets: ["whsec_" + Data(repeating: 1, count: 24).base64EncodedString(), secret])
        for (changedID, changedTimestamp, changedBody) in [
            ("msg_other", timestamp, body), (id, "1614265331", body), (id, timestamp, Data(#"{"test": 2432232315}"#.utf8)),
        ] {
            XCTAssertThrowsError(try StandardWebhooks.verify(
                id: changedID, timestamp: changedTimestamp, signatures: signature, body: changedBody, secrets: [secret]))
        }
        XCTAssertThrowsError(try StandardWebhooks.verify(id: id, timestamp: timestamp, signatures: signature, body: body, secrets: []))
        XCTAssertThrowsError(try StandardWebhooks.verify(
            id: id, timestamp: timestamp, signatures: "v1," + String(signature.dropFirst(3).dropLast(4)) + "AAA=", body: body,
            secrets: [secret]))
    }

    func testTheTimestampWindowIsFiveMinutesEitherWay() throws {
        let now = 1_614_265_330.0
        try StandardWebhooks.checkTimestamp("1614265330", now: now)
        try StandardWebhooks.checkTimestamp("1614265030", now: now)
        try StandardWebhooks.checkTimestamp("1614265630", now: now)
        for (text, cause) in [("1614265029", "stale-timestamp"), ("1614265631", "future-timestamp"), ("1.5e9", "bad-timestamp"), ("", "bad-timestamp")] {
            XCTAssertThrowsError(try StandardWebhooks.checkTimestamp(text, now: now)) { error in
                XCTAssertEqual((error as? APIProblem)?.cause, cause, text)
            }
        }
    }
}
