import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RosterFlowCore
import RosterFlowServer
import WorkflowEngine
import XCTest

/// The `/api/v1/` routes, router-level (in process) on a real temporary SQLite database, for each kind of caller.
final class APITests: XCTestCase {
    var fixture: APIFixture!

    override func setUp() async throws {
        fixture = try await APIFixture()
    }

    override func tearDown() async throws {
        fixture?.remove()
    }

    func testTheVendorAdminImportsTheCatalogAsCSVAndOthersMayNot() async throws {
        let f = fixture!
        try await f.app.test(.router) { client in
            let csv: HTTPFields = [.contentType: "text/csv"]
            let refused = try await client.call(.post, "/api/v1/catalog", token: f.tokens["dsp"], body: "base_id,title\nALG1,Algebra I\n", headers: csv)
            assertProblem(refused, 403)
            let wrong = try await client.call(
                .post, "/api/v1/catalog", token: f.tokens["vendor"], body: "base_id,title\nALG1,Algebra I\nALG1,Algebra One\n", headers: csv)
            XCTAssertTrue([400, 422].contains(wrong.status), wrong.text)
            XCTAssertEqual(try f.service.catalog(includeRetired: true).count, 0, "all rows or none")
            let imported = try await client.call(
                .post, "/api/v1/catalog", token: f.tokens["vendor"], body: "base_id,title\nALG1,Algebra I\nBIO1,Biology\n", headers: csv)
            XCTAssertEqual(imported.status, 200, imported.text)
            XCTAssertEqual(imported.json["added"] as? Int, 2, imported.text)
            let list = try await client.call(.get, "/api/v1/catalog", token: f.tokens["school"])
            XCTAssertEqual((list.json["items"] as? [[String: Any]])?.count, 2, list.text)
        }
    }

    func testListsAndShowsOnlyTheCallersDistricts() async throws {
        let f = fixture!
        try await f.app.test(.router) { client in
            let all = try await client.call(.get, "/api/v1/integrations", token: f.tokens["vendor"])
            XCTAssertEqual(all.status, 200, all.text)
            XCTAssertEqual(all.contentType, "application/json")
            assertSecurityHeaders(all)
            XCTAssertEqual(Set(all.items.compactMap { $0["id"] as? String }), [f.springfield, f.shelbyville])
            for caller in ["dsp", "school"] {
                let mine = try await client.call(.get, "/api/v1/integrations", token: f.tokens[caller])
                XCTAssertEqual(mine.items.compactMap { $0["id"] as? String }, [f.springfield], caller)
                let customers = try await client.call(.get, "/api/v1/customers", token: f.tokens[caller])
                XCTAssertEqual(customers.items.compactMap { $0["tenantID"] as? String }, ["t-1"], caller)
                assertProblem(try await client.call(.get, "/api/v1/integrations/\(f.shelbyville)", token: f.tokens[caller]), 404,
                              code: "not-found")
                assertProblem(try await client.call(.get, "/api/v1/integrations/\(f.shelbyville)/courses", token: f.tokens[caller]), 404)
            }
            let other = try await client.call(.get, "/api/v1/integrations", token: f.tokens["otherSchool"])
            XCTAssertEqual(other.items.compactMap { $0["id"] as? String }, [f.shelbyville])
            // Another district's object and one that does not exist get the same answer.
            let foreign = try await client.call(.get, "/api/v1/integrations/\(f.springfield)", token: f.tokens["otherSchool"])
            let missing = try await client.call(.get, "/api/v1/integrations/int_nothere", token: f.tokens["otherSchool"])
            assertProblem(foreign, 404, code: "not-found")
            assertProblem(missing, 404, code: "not-found")

            let shown = try await client.call(.get, "/api/v1/integrations/\(f.springfield)", token: f.tokens["school"])
            XCTAssertEqual(shown.status, 200)
            XCTAssertEqual(shown.json["state"] as? String, "requested")
            XCTAssertEqual(shown.headers[.eTag], "\"\(shown.json["rowVersion"] as? Int ?? -1)\"")
            let me = try await client.call(.get, "/api/v1/me", token: f.tokens["dsp"])
            XCTAssertEqual(me.json["email"] as? String, "dsp@example.org")
            XCTAssertEqual(me.json["districts"] as? [String], ["t-1"])

            let tasks = try await client.call(.get, "/api/v1/tasks", token: f.tokens["otherSchool"])
            XCTAssertEqual(Set(tasks.items.compactMap { $0["integrationID"] as? String }), [f.shelbyville])
            assertProblem(try await client.call(.get, "/api/v1/tasks?integration=\(f.springfield)", token: f.tokens["otherSchool"]), 404)
        }
    }

    func testEventsAreSentInTheAccountsRoleAndRecordTheAccount() async throws {
        let f = fixture!
        try await f.app.test(.router) { client in
            // Authenticating is the vendor admin's step: the school admin is refused by the workflow, with what it allows.
            let refused = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["school"], body: #"{"event":"authenticate"}"#)
            assertProblem(refused, 403, code: "refused", cause: "role-not-allowed")
            XCTAssertTrue((refused.json["detail"] as? String ?? "").contains("it is for the vendor admin"), refused.text)
            // Another district's school admin cannot even see it.
            assertProblem(try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["otherSchool"], body: #"{"event":"authenticate"}"#), 404)

            let step = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"], body: #"{"event":"authenticate"}"#)
            XCTAssertEqual(step.status, 200, step.text)
            XCTAssertEqual(step.json["to"] as? String, "authenticated")
            XCTAssertEqual(step.json["actor"] as? String, "account:vendor@example.org")
            XCTAssertEqual(step.json["role"] as? String, "vendor_admin")

            let scheduled = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["school"],
                body: #"{"event":"schedule","time":"02:30","timezone":"America/Chicago"}"#)
            XCTAssertEqual(scheduled.status, 200, scheduled.text)
            XCTAssertEqual(scheduled.json["to"] as? String, "scheduled")
            assertProblem(try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["school"],
                body: #"{"event":"schedule","time":"25:99","timezone":"America/Chicago"}"#), 422, code: "invalid-input")
            // An event the state does not take: 409 with the allowed events.
            let wrong = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"], body: #"{"event":"authenticate"}"#)
            assertProblem(wrong, 409, code: "refused")
            XCTAssertFalse((wrong.json["allowedEvents"] as? [String] ?? []).isEmpty, wrong.text)

            let history = try f.service.integration(id: f.springfield).history
            XCTAssertEqual(history.suffix(2).map(\.actor), ["account:vendor@example.org", "account:school@example.org"])
            XCTAssertEqual(history.suffix(2).map(\.role), ["vendor_admin", "school_admin"])
        }
    }

    func testCourseEventsFollowTheCourseWorkflowsRoles() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let course = try await f.service.addCourse(
            integrationID: f.springfield, sourcedID: "crs-1", title: "Algebra I", sender: Sender(actor: "test", role: .system))
        try await f.app.test(.router) { client in
            let list = try await client.call(.get, "/api/v1/integrations/\(f.springfield)/courses", token: f.tokens["dsp"])
            XCTAssertEqual(list.items.compactMap { $0["id"] as? String }, [course.id])
            assertProblem(try await client.call(.get, "/api/v1/courses/\(course.id)", token: f.tokens["otherSchool"]), 404)
            let mapped = try await client.call(
                .post, "/api/v1/courses/\(course.id)/events", token: f.tokens["dsp"],
                body: #"{"event":"map","catalog":"Algebra I (2026)","baseID":"ALG1-26"}"#)
            XCTAssertEqual(mapped.status, 200, mapped.text)
            // Verifying is the school admin's: the DSP is refused by the workflow.
            assertProblem(try await client.call(
                .post, "/api/v1/courses/\(course.id)/events", token: f.tokens["dsp"], body: #"{"event":"verify"}"#), 403,
                cause: "role-not-allowed")
            let verified = try await client.call(
                .post, "/api/v1/courses/\(course.id)/events", token: f.tokens["school"], body: #"{"event":"verify"}"#)
            XCTAssertEqual(verified.status, 200, verified.text)
            XCTAssertEqual(verified.json["to"] as? String, "verified")
            let shown = try await client.call(.get, "/api/v1/courses/\(course.id)", token: f.tokens["school"])
            XCTAssertEqual(shown.json["state"] as? String, "verified")
            assertProblem(try await client.call(
                .post, "/api/v1/courses/\(course.id)/events", token: f.tokens["dsp"], body: #"{"event":"map"}"#), 400, cause: "missing-field")
        }
    }

    func testIfMatchRefusesAStaleVersionAndIdempotencyKeysAnswerOnce() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        try await f.app.test(.router) { client in
            let shown = try await client.call(.get, "/api/v1/integrations/\(f.springfield)", token: f.tokens["vendor"])
            let etag = try XCTUnwrap(shown.headers[.eTag])
            let version = try XCTUnwrap(shown.json["rowVersion"] as? Int)
            let stale = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"], body: #"{"event":"hold"}"#,
                headers: [.ifMatch: "\"\(version - 1)\""])
            assertProblem(stale, 412, code: "stale-instance")
            XCTAssertEqual(try f.service.integration(id: f.springfield).state, "scheduled", "nothing was applied")
            assertProblem(try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"], body: #"{"event":"hold"}"#,
                headers: [.ifMatch: "yesterday"]), 400, cause: "bad-if-match")

            let key = HTTPField.Name("Idempotency-Key")!
            let first = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"],
                body: #"{"event":"hold","reason":"checking"}"#, headers: [.ifMatch: etag, key: "k-1"])
            XCTAssertEqual(first.status, 200, first.text)
            XCTAssertEqual(first.json["to"] as? String, "on_hold")
            let again = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"],
                body: #"{"event":"hold","reason":"checking"}"#, headers: [.ifMatch: etag, key: "k-1"])
            XCTAssertEqual(again.status, 200)
            XCTAssertEqual(again.text, first.text, "the first answer, again")
            XCTAssertEqual(again.headers[HTTPField.Name("Idempotent-Replayed")!], "true")
            XCTAssertEqual(try f.service.integration(id: f.springfield).history.filter { $0.event == "hold" }.count, 1, "applied once")
            assertProblem(try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"],
                body: #"{"event":"resume"}"#, headers: [key: "k-1"]), 422, cause: "idempotency-key-reused")
            // A refusal is an answer too: the same request gets the same problem.
            let refusedOnce = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"], body: #"{"event":"go_live"}"#,
                headers: [key: "k-2"])
            let refusedTwice = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["vendor"], body: #"{"event":"go_live"}"#,
                headers: [key: "k-2"])
            assertProblem(refusedOnce, 409)
            XCTAssertEqual(refusedTwice.status, 409)
            XCTAssertEqual(refusedTwice.text, refusedOnce.text)
            // Keys are the account's own: another account's same key is a new request.
            let otherAccount = try await client.call(
                .post, "/api/v1/integrations/\(f.springfield)/events", token: f.tokens["school"], body: #"{"event":"hold"}"#,
                headers: [key: "k-1"])
            XCTAssertNotEqual(otherAccount.headers[HTTPField.Name("Idempotent-Replayed")!], "true")
        }
    }

    /// A request whose key is held by a first request still being answered (or by one that died before answering) is
    /// told to try again, not applied a second time.
    func testARequestUnderAKeyStillInFlightIsToldToRetryAndAnAbandonedClaimIsTakenOver() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let path = "/api/v1/integrations/\(f.springfield)/events", body = #"{"event":"hold"}"#
        let fingerprint = SHA256.hash(data: Data("POST \(path)\n\n\(body)".utf8)).map { String(format: "%02x", $0) }.joined()
        let vendor = try XCTUnwrap(f.accounts["vendor"])
        let claim = try await f.service.claimIdempotencyKey(accountID: vendor.id, key: "k-9", fingerprint: fingerprint)
        XCTAssertEqual(claim, .claimed)
        try await f.app.test(.router) { client in
            let busy = try await client.call(.post, path, token: f.tokens["vendor"], body: body, headers: [HTTPField.Name("Idempotency-Key")!: "k-9"])
            assertProblem(busy, 409, cause: "idempotency-key-in-flight")
            XCTAssertEqual(busy.headers[.retryAfter], "1")
        }
        XCTAssertEqual(try f.service.integration(id: f.springfield).state, "scheduled", "not applied")
        // A claim nobody answered for a minute (its request died) is taken over, and the request is applied once.
        f.clock.advance(RosterFlowService.idempotencyClaimLease + 1)
        try await f.app.test(.router) { client in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "k-9"]
            let taken = try await client.call(.post, path, token: f.tokens["vendor"], body: body, headers: key)
            XCTAssertEqual(taken.status, 200, taken.text)
            let replayed = try await client.call(.post, path, token: f.tokens["vendor"], body: body, headers: key)
            XCTAssertEqual(replayed.headers[HTTPField.Name("Idempotent-Replayed")!], "true")
            XCTAssertEqual(replayed.text, taken.text)
        }
        XCTAssertEqual(try f.service.integration(id: f.springfield).history.filter { $0.event == "hold" }.count, 1)
    }

    func testSyncRunsAreScopedAndDecidedByTheRolesThatMayResume() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let held = try await f.heldRun(f.springfield)
        try await f.app.test(.router) { client in
            let runs = try await client.call(.get, "/api/v1/sync-runs", token: f.tokens["school"])
            XCTAssertEqual(runs.items.count, 2, runs.text)
            let none = try await client.call(.get, "/api/v1/sync-runs", token: f.tokens["otherSchool"])
            XCTAssertEqual(none.items.count, 0)
            assertProblem(try await client.call(.get, "/api/v1/sync-runs/\(held)", token: f.tokens["otherSchool"]), 404)
            let shown = try await client.call(.get, "/api/v1/sync-runs/\(held)", token: f.tokens["school"])
            XCTAssertEqual(shown.json["decision"] as? String, "held")
            XCTAssertNotNil(shown.json["report"] as? [String: Any], "the report is shown")

            let roles = f.service.rolesDecidingHeldRuns()
            XCTAssertFalse(roles.isEmpty)
            XCTAssertFalse(roles.contains(.schoolAdmin), "the workflow does not let a school admin resume")
            assertProblem(try await client.call(.post, "/api/v1/sync-runs/\(held)/approve", token: f.tokens["school"]), 403,
                          cause: "role-not-allowed")
            assertProblem(try await client.call(.post, "/api/v1/sync-runs/\(held)/reject", token: f.tokens["otherSchool"]), 404)
            // Re-planned against today's roster: a new held run, this one superseded.
            let replanned = try await client.call(
                .post, "/api/v1/sync-runs/\(held)/approve", token: f.tokens["vendor"], body: #"{"replan":true}"#)
            XCTAssertEqual(replanned.status, 200, replanned.text)
            XCTAssertEqual(replanned.json["decision"] as? String, "held")
            let newRun = try XCTUnwrap(replanned.json["id"] as? String)
            XCTAssertNotEqual(newRun, held)
            let superseded = try await client.call(.get, "/api/v1/sync-runs/\(held)", token: f.tokens["vendor"])
            XCTAssertEqual(superseded.json["decision"] as? String, "superseded", superseded.text)
            let approved = try await client.call(
                .post, "/api/v1/sync-runs/\(newRun)/approve", token: f.tokens["vendor"], body: #"{"withoutDeletes":true}"#)
            XCTAssertEqual(approved.status, 200, approved.text)
            XCTAssertEqual(approved.json["decision"] as? String, "approved-without-deletes")
            assertProblem(try await client.call(.post, "/api/v1/sync-runs/\(newRun)/reject", token: f.tokens["vendor"]), 409, code: "refused")
            let audit = try f.service.audit(integrationID: f.springfield).filter { $0.action == "sync-approve" }
            XCTAssertEqual(audit.map(\.actor), ["account:vendor@example.org"])
        }
    }

    /// A rollover is approved over the API with its course map carried forward, as `sync approve --carry-forward` does;
    /// asking to carry forward a run that is no rollover is refused and applies nothing.
    func testARolloverIsApprovedWithItsCourseMapCarriedForward() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        try await f.schedule(f.shelbyville)
        let other = try await f.heldRun(f.shelbyville)
        let (run, carried) = try await f.heldRollover(f.springfield)
        try await f.app.test(.router) { client in
            assertProblem(try await client.call(
                .post, "/api/v1/sync-runs/\(other)/approve", token: f.tokens["vendor"], body: #"{"carryForward":true}"#), 422)
            XCTAssertEqual(try f.service.syncRun(id: other).decision, "held", "nothing applied")
            let approved = try await client.call(
                .post, "/api/v1/sync-runs/\(run)/approve", token: f.tokens["vendor"], body: #"{"carryForward":true}"#)
            XCTAssertEqual(approved.status, 200, approved.text)
            XCTAssertEqual(approved.json["decision"] as? String, "approved")
        }
        let course = try XCTUnwrap(try f.service.courses(integrationID: f.springfield).first { $0.sourcedID == carried })
        XCTAssertEqual(course.state, "mapped", "carried forward, awaiting the school's verification")
        XCTAssertNotNil(course.baseID)
    }

    func testTheOutboxIsTheVendorAdminsOnly() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        try await f.app.test(.router) { client in
            let list = try await client.call(.get, "/api/v1/outbox", token: f.tokens["vendor"])
            XCTAssertEqual(list.status, 200, list.text)
            let first = try XCTUnwrap(list.items.first?["id"] as? String, "the workflow sent notices")
            let shown = try await client.call(.get, "/api/v1/outbox/\(first)", token: f.tokens["vendor"])
            XCTAssertNotNil(shown.json["deliveries"] as? [Any], shown.text)
            let retried = try await client.call(.post, "/api/v1/outbox/\(first)/retry", token: f.tokens["vendor"])
            XCTAssertEqual(retried.json["deliveriesRetried"] as? Int, 0, "nothing failed")
            assertProblem(try await client.call(.get, "/api/v1/outbox/msg_nothere", token: f.tokens["vendor"]), 404)
            assertProblem(try await client.call(.get, "/api/v1/outbox?status=lost", token: f.tokens["vendor"]), 400, cause: "bad-query")
            for caller in ["dsp", "school"] {
                assertProblem(try await client.call(.get, "/api/v1/outbox", token: f.tokens[caller]), 403, code: "forbidden")
                assertProblem(try await client.call(.get, "/api/v1/outbox/\(first)", token: f.tokens[caller]), 403)
                assertProblem(try await client.call(.post, "/api/v1/outbox/\(first)/retry", token: f.tokens[caller]), 403)
            }
        }
    }

    /// The list is kept between requests only while nothing is committed: a change made by another process (another
    /// store on the same file) or through this one shows on the next request.
    func testTheIntegrationsListShowsEveryCommitOnTheNextRequest() async throws {
        let f = fixture!
        try await f.app.test(.router) { client in
            func states() async throws -> [String: String] {
                let list = try await client.call(.get, "/api/v1/integrations", token: f.tokens["vendor"])
                XCTAssertEqual(list.status, 200, list.text)
                return Dictionary(uniqueKeysWithValues: list.items.map { ($0["id"] as! String, $0["state"] as! String) })
            }
            let first = try await states()
            XCTAssertEqual(first[f.springfield], "requested")
            let again = try await states()
            XCTAssertEqual(again, first, "unchanged: the same answer")

            // Another process: its own service and store on the same database file.
            let other = try RosterFlowService(
                databasePath: f.folder + "/api.sqlite", workflowsPath: APIFixture.repositoryRoot + "/Workflows", clock: { f.clock.now })
            _ = try await other.authenticate(integrationID: f.springfield, role: .vendorAdmin, actor: "other-process")
            let afterOther = try await states()
            XCTAssertEqual(afterOther[f.springfield], "authenticated")

            _ = try await f.service.schedule(
                integrationID: f.springfield, time: "02:30", timezone: "America/Chicago", role: .schoolAdmin, actor: "test")
            let afterSchedule = try await states()
            XCTAssertEqual(afterSchedule[f.springfield], "scheduled")
            let scoped = try await client.call(.get, "/api/v1/integrations", token: f.tokens["school"])
            XCTAssertEqual(scoped.items.compactMap { $0["id"] as? String }, [f.springfield], "each scope its own answer")
            let other2 = try await client.call(.get, "/api/v1/integrations", token: f.tokens["otherSchool"])
            XCTAssertEqual(other2.items.compactMap { $0["id"] as? String }, [f.shelbyville], "each scope its own answer")
        }
    }

    /// A token checked once is not trusted past a revocation, a disabled account or its expiry, wherever the change is
    /// made (here by another process: its own service on the same database file).
    func testATokenStopsWorkingOnTheNextRequestAfterItIsRevokedElsewhere() async throws {
        let f = fixture!
        let other = try RosterFlowService(
            databasePath: f.folder + "/api.sqlite", workflowsPath: APIFixture.repositoryRoot + "/Workflows", clock: { f.clock.now })
        let revocable = try await other.createToken(account: f.accounts["dsp"]!.id, name: "short", expiresAt: f.clock.now + 60, actor: "test")
        let disabled = try await other.addAccount(email: "leaver@example.org", name: "Leaver", role: .dsp, districts: ["t-1"], actor: "test")
        let leaverToken = try await other.createToken(account: disabled.id, name: "leaver", expiresAt: nil, actor: "test").token
        try await f.app.test(.router) { client in
            for _ in 0..<2 {
                let me = try await client.call(.get, "/api/v1/me", token: revocable.token)
                XCTAssertEqual(me.status, 200, me.text)
                let leaver = try await client.call(.get, "/api/v1/me", token: leaverToken)
                XCTAssertEqual(leaver.status, 200)
            }
            _ = try await other.revokeToken(id: revocable.details.id, actor: "test")
            assertProblem(try await client.call(.get, "/api/v1/me", token: revocable.token), 401)
            _ = try await other.disableAccount(disabled.id, actor: "test")
            assertProblem(try await client.call(.get, "/api/v1/me", token: leaverToken), 401)

            let expiring = try await other.createToken(account: f.accounts["dsp"]!.id, name: "expiring", expiresAt: f.clock.now + 60, actor: "test")
            let beforeExpiry = try await client.call(.get, "/api/v1/me", token: expiring.token)
            XCTAssertEqual(beforeExpiry.status, 200)
            f.clock.advance(61)
            assertProblem(try await client.call(.get, "/api/v1/me", token: expiring.token), 401)
        }
    }

    func testListsPageWithACursor() async throws {
        let f = fixture!
        for index in 0..<3 {
            _ = try await f.service.requestIntegration(
                tenantID: "t-9\(index)", district: "District \(index)", permission: "full", contactEmail: "a@d\(index).example",
                sender: Sender(actor: "test", role: .schoolAdmin))
        }
        try await f.app.test(.router) { client in
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await client.call(
                    .get, "/api/v1/integrations?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: f.tokens["vendor"])
                XCTAssertEqual(page.status, 200, page.text)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.json["nextCursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            XCTAssertEqual(pages, 3)
            XCTAssertEqual(seen, try f.service.integrations().map(\.id))
            assertProblem(try await client.call(.get, "/api/v1/integrations?limit=0", token: f.tokens["vendor"]), 400, cause: "bad-query")
            assertProblem(try await client.call(.get, "/api/v1/integrations?limit=ten", token: f.tokens["vendor"]), 400)
            assertProblem(try await client.call(.get, "/api/v1/integrations?cursor=bm9wZQ", token: f.tokens["vendor"]), 400,
                          cause: "bad-cursor")
            assertProblem(try await client.call(.get, "/api/v1/integrations?state=sleeping", token: f.tokens["vendor"]), 422)
        }
    }
}
