import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OneRoster
import RosterFlowCore
import RosterFlowServer
import XCTest

/// An on-demand district with a synced roster and Sign in with ClassLink set up against a provider, and the people of
/// its roster as ClassLink knows them.
struct ClassLinkWorld {
    let fixture: APIFixture
    let integration: String
    /// A teacher of cls-1, a student of cls-1, a class taught by someone else.
    let teacher: FakeClassLink.Person
    let teacherName: String
    let student: FakeClassLink.Person
    let classTitle: String
    let othersClass: String
    let secretEnv: String
    static let base = "http://rosterflow.test"

    /// `issuer` etc. of the provider; `secret` is put in a fresh environment variable.
    init(issuer: String, clientID: String, secret: String, userInfoURL: String?, fixture given: APIFixture? = nil) async throws {
        let f: APIFixture
        if let given { f = given } else { f = try await APIFixture() }
        fixture = f
        integration = f.springfield
        try await f.schedule(f.springfield)
        _ = try await f.service.setProvisioningMode(integrationID: f.springfield, mode: .onDemand, actor: "test")
        let bundle = f.folder + "/district"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 120, classes: 6, enrollments: 400, version: "1.2", seed: 7)
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        func rows(_ file: String) throws -> [[String: String]] {
            let lines = try String(contentsOfFile: bundle + "/" + file, encoding: .utf8).split(separator: "\n").map {
                $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            }
            return lines.dropFirst().map { Dictionary(zip(lines[0], $0), uniquingKeysWith: { a, _ in a }) }
        }
        let enrollments = try rows("enrollments.csv"), users = try rows("users.csv"), classes = try rows("classes.csv")
        let teacherID = try XCTUnwrap(enrollments.first { $0["classSourcedId"] == "cls-1" && $0["role"] == "teacher" }?["userSourcedId"])
        let mine = Set(enrollments.filter { $0["userSourcedId"] == teacherID && $0["role"] == "teacher" }.compactMap { $0["classSourcedId"] })
        othersClass = try XCTUnwrap(enrollments.first { $0["role"] == "teacher" && !mine.contains($0["classSourcedId"] ?? "") }?["classSourcedId"])
        let studentID = try XCTUnwrap(enrollments.first { $0["classSourcedId"] == "cls-1" && $0["role"] == "student" }?["userSourcedId"])
        classTitle = try XCTUnwrap(classes.first { $0["sourcedId"] == "cls-1" }?["title"])
        func person(_ id: String, userID: String) throws -> FakeClassLink.Person {
            let row = try XCTUnwrap(users.first { $0["sourcedId"] == id })
            return FakeClassLink.Person(
                userID: userID, tenantID: "t-1", sourcedID: id, loginID: row["username"] ?? "", email: row["email"] ?? "",
                name: "\(row["givenName"] ?? "") \(row["familyName"] ?? "")")
        }
        teacher = try person(teacherID, userID: "1001")
        student = try person(studentID, userID: "2002")
        teacherName = teacher.name
        secretEnv = "RF_TEST_CLASSLINK_SECRET_" + UUID().uuidString.prefix(8).replacingOccurrences(of: "-", with: "")
        setenv(secretEnv, secret, 1)
        _ = try await f.service.setClassLinkSignIn(
            integrationID: f.springfield, issuer: issuer, clientID: clientID, secretEnv: secretEnv, scopes: ["openid", "profile", "oneroster"],
            userInfoURL: userInfoURL, actor: "test")
    }

    var app: some ApplicationProtocol {
        let router = RosterFlowServer.router(
            service: fixture.service, logger: Logger(label: "test"), dashboard: DashboardOptions(publicURL: Self.base))
        return Application(responder: RosterFlowServer.responder(for: router, logger: Logger(label: "test")))
    }

    /// The path part of a RosterFlow URL.
    static func path(_ url: String) -> String { String(url.dropFirst(base.count)) }
}

/// Sign in with ClassLink against the fake ClassLink on loopback: the whole authorization code flow, linking, the
/// teacher's and student's pages, the unlinked queue, and every refusal as a page with a stable code.
final class ClassLinkSignInTests: XCTestCase {
    /// Starts a sign-in in `browser` and lets ClassLink answer for `person`: the callback's path.
    static func callback(
        _ browser: Browser, _ client: some TestClientProtocol, _ fake: FakeClassLink, _ world: ClassLinkWorld, as person: FakeClassLink.Person
    ) async throws -> String {
        let start = try await browser.get(client, "/sign-in/classlink?integration=\(world.integration)")
        XCTAssertEqual(start.status, 302, start.text)
        let location = try XCTUnwrap(start.headers[.location])
        XCTAssertTrue(location.hasPrefix(fake.issuer + "/oauth2/v2/auth?"), location)
        for part in ["code_challenge_method=S256", "response_type=code", "nonce=", "state=", "client_id=\(fake.clientID)",
                     "redirect_uri=http://rosterflow.test/sign-in/classlink/callback"] {
            XCTAssertTrue(location.removingPercentEncoding!.contains(part), "\(part) missing from \(location)")
        }
        return ClassLinkWorld.path(try fake.authorize(location, as: person))
    }

    func withWorld(_ body: @Sendable (FakeClassLink, ClassLinkWorld) async throws -> Void) async throws {
        let fake = try FakeClassLink()
        try await fake.run { fake in
            let world = try await ClassLinkWorld(issuer: fake.issuer, clientID: fake.clientID, secret: fake.secret, userInfoURL: fake.userInfoURL)
            defer { world.fixture.remove() }
            try await body(fake, world)
        }
    }

    func testATeachersFirstSignInShowsTheirClassesByTermAndImportsOnlyTheirOwn() async throws {
        try await withWorld { fake, world in
            try await world.app.test(.router) { client in
                let browser = Browser()
                let signedIn = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: world.teacher))
                XCTAssertEqual(signedIn.status, 303, signedIn.text)
                XCTAssertEqual(signedIn.headers[.location], "/dashboard/teacher")
                let cookie = try XCTUnwrap(signedIn.headers[values: .setCookie].first { $0.hasPrefix("rf_session=") })
                for attribute in ["HttpOnly", "SameSite=Lax"] { XCTAssertTrue(cookie.contains(attribute), cookie) }
                // The code went back with the secret in the body (client_secret_post) and the PKCE verifier.
                let token = try XCTUnwrap(fake.lastTokenRequest)
                XCTAssertEqual(token.fields["client_secret"], fake.secret)
                XCTAssertFalse(token.basicAuth, "client_secret_post: no Authorization header")
                XCTAssertFalse((token.fields["code_verifier"] ?? "").isEmpty)

                let page = try await browser.get(client, "/dashboard/teacher")
                XCTAssertEqual(page.status, 200, page.text)
                XCTAssertTrue(page.text.contains(world.classTitle), page.text)
                XCTAssertTrue(page.text.contains("current term"), page.text)
                XCTAssertTrue(page.text.contains(world.teacherName), "the layout names who is signed in")
                XCTAssertFalse(page.text.contains(world.othersClass), "another teacher's class is listed")

                // The form without its CSRF token does nothing.
                let forged = try await browser.post(client, "/dashboard/teacher/import", ["class": "cls-1"], csrf: "forged")
                XCTAssertEqual(forged.status, 403)
                XCTAssertEqual(try world.fixture.service.availableClasses(teacher: world.teacher.sourcedID, integrationID: world.integration)
                    .flatMap(\.classes).first { $0.classSourcedID == "cls-1" }?.state, "available")

                // Ticking their class and (by a crafted form) another teacher's: the first is imported, the second refused.
                var headers = browser.cookieHeader
                headers[.contentType] = "application/x-www-form-urlencoded"
                let body = "csrf=\(browser.csrf ?? "")&class=cls-1&class=\(world.othersClass)"
                let imported = try await client.call(.post, "/dashboard/teacher/import", body: body, headers: headers)
                XCTAssertEqual(imported.status, 200, imported.text)
                XCTAssertTrue(imported.text.contains("\(world.classTitle): imported"), imported.text)
                XCTAssertFalse(imported.text.contains("imported ()"), "an empty reason was shown")
                XCTAssertTrue(imported.text.contains("refused"), imported.text)
                XCTAssertTrue(imported.text.contains("imported by you"), imported.text)
                let held = try world.fixture.service.explainPlacement(student: world.student.sourcedID, classID: world.othersClass, integrationID: world.integration)
                XCTAssertTrue(held.steps.contains { $0.contains("No teacher has imported") }, "\(held.steps)")

                // A teacher reaches none of the staff pages, the student page, or the API.
                for path in ["/dashboard", "/dashboard/outbox", "/dashboard/unlinked", "/dashboard/integrations/\(world.integration)"] {
                    let reply = try await client.call(.get, path, headers: browser.cookieHeader)
                    XCTAssertEqual(reply.status, 303, path)
                    XCTAssertEqual(reply.headers[.location], "/sign-in", path)
                }
                let student = try await client.call(.get, "/dashboard/student", headers: browser.cookieHeader)
                XCTAssertEqual(student.status, 403)
                XCTAssertTrue(student.text.contains("role-not-allowed"), student.text)
                let api = try await client.call(.get, "/api/v1/integrations", headers: browser.cookieHeader)
                XCTAssertEqual(api.status, 401)
                let resolve = try await client.call(
                    .post, "/dashboard/unlinked/RF-X/resolve", body: "csrf=\(browser.csrf ?? "")&sourcedId=x", headers: headers)
                XCTAssertEqual(resolve.status, 401, "a teacher's session resolved an unlinked sign-in")
            }
        }
    }

    func testAStudentIsToldWhichTeacherAClassWaitsForAndIsPlacedWhenTheTeacherImports() async throws {
        try await withWorld { fake, world in
            try await world.app.test(.router) { client in
                let student = Browser()
                let signedIn = try await student.get(client, try await Self.callback(student, client, fake, world, as: world.student))
                XCTAssertEqual(signedIn.headers[.location], "/dashboard/student", signedIn.text)
                let waiting = try await student.get(client, "/dashboard/student")
                XCTAssertEqual(waiting.status, 200, waiting.text)
                XCTAssertTrue(waiting.text.contains("waiting for \(world.teacherName)"), waiting.text)
                XCTAssertTrue(waiting.text.contains("to import \(world.classTitle)"), waiting.text)
                let teacherPage = try await client.call(.get, "/dashboard/teacher", headers: student.cookieHeader)
                XCTAssertEqual(teacherPage.status, 403, "a student reached the teacher's page")

                let teacher = Browser()
                _ = try await teacher.get(client, try await Self.callback(teacher, client, fake, world, as: world.teacher))
                _ = try await teacher.get(client, "/dashboard/teacher")
                let imported = try await teacher.post(client, "/dashboard/teacher/import", ["class": "cls-1"])
                XCTAssertTrue(imported.text.contains("waiting students placed"), imported.text)

                let placed = try await student.get(client, "/dashboard/student")
                XCTAssertTrue(placed.text.contains("You are in \(world.classTitle)."), placed.text)
            }
        }
    }

    func testTheSameCallbackTwiceAPortalTileAndAnUnknownStateNeverExchangeACodeAgain() async throws {
        try await withWorld { fake, world in
            try await world.app.test(.router) { client in
                let browser = Browser()
                let callback = try await Self.callback(browser, client, fake, world, as: world.teacher)
                let first = try await browser.get(client, callback)
                XCTAssertEqual(first.headers[.location], "/dashboard/teacher")
                let session = browser.cookies["rf_session"]
                // A double submit: the person's session stands, nothing is exchanged or made again.
                let again = try await browser.get(client, callback)
                XCTAssertEqual(again.status, 303)
                XCTAssertEqual(again.headers[.location], "/dashboard/teacher")
                XCTAssertEqual(browser.cookies["rf_session"], session)
                XCTAssertEqual(fake.tokenRequestCount, 1, "the code was exchanged twice")
                // The same callback in a browser without the session: it starts again from RosterFlow.
                let elsewhere = try await Browser().get(client, callback)
                XCTAssertEqual(elsewhere.headers[.location], "/sign-in/classlink?integration=\(world.integration)")

                // A LaunchPad tile: a code RosterFlow did not ask for, without a state, or with one it never issued.
                let code = fake.portalCode(for: world.teacher, redirectURI: ClassLinkWorld.base + "/sign-in/classlink/callback")
                for path in ["/sign-in/classlink/callback?code=\(code)", "/sign-in/classlink/callback?code=\(code)&state=forged"] {
                    let tile = try await Browser().get(client, path)
                    XCTAssertEqual(tile.status, 303, path)
                    XCTAssertEqual(tile.headers[.location], "/sign-in/classlink?integration=\(world.integration)", path)
                    XCTAssertNil(tile.headers[.setCookie], "a session came from a code RosterFlow did not request")
                }
                XCTAssertEqual(fake.tokenRequestCount, 1, "a code RosterFlow did not request was exchanged")
                // Outside the sign-in's ten minutes, the state is dead: start again.
                let late = Browser()
                let stale = try await Self.callback(late, client, fake, world, as: world.teacher)
                world.fixture.clock.advance(11 * 60)
                let restarted = try await late.get(client, stale)
                XCTAssertEqual(restarted.headers[.location], "/sign-in/classlink?integration=\(world.integration)")
                XCTAssertEqual(fake.tokenRequestCount, 1)
            }
        }
    }

    func testSigningInOnASharedChromebookEndsThePreviousPersonsSession() async throws {
        try await withWorld { fake, world in
            try await world.app.test(.router) { client in
                let browser = Browser()
                _ = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: world.teacher))
                let teachersCookie = try XCTUnwrap(browser.cookies["rf_session"])
                let student = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: world.student))
                XCTAssertEqual(student.headers[.location], "/dashboard/student")
                XCTAssertNotEqual(browser.cookies["rf_session"], teachersCookie)
                let old = try await client.call(.get, "/dashboard/teacher", headers: [.cookie: "rf_session=\(teachersCookie)"])
                XCTAssertEqual(old.status, 401, "the teacher's session survived the next person's sign-in")
                // Sign-out ends the student's session too.
                let studentsCookie = try XCTUnwrap(browser.cookies["rf_session"])
                _ = try await browser.get(client, "/dashboard/student")
                let out = try await browser.post(client, "/dashboard/me/sign-out", [:])
                XCTAssertEqual(out.status, 200, out.text)
                XCTAssertNil(browser.cookies["rf_session"])
                let after = try await client.call(.get, "/dashboard/student", headers: [.cookie: "rf_session=\(studentsCookie)"])
                XCTAssertEqual(after.status, 401)
            }
        }
    }

    func testEveryRefusalIsAPageWithAStableCodeAndMakesNothing() async throws {
        try await withWorld { fake, world in
            let cases: [(String, @Sendable (FakeClassLink) throws -> Void, FakeClassLink.Person?)] = [
                ("bad-signature", { $0.tamperSignature = true }, nil),
                ("unknown-key", { $0.signWithUnpublishedKey = true }, nil),
                ("wrong-audience", { $0.claimsTweak = { $0["aud"] = "someone-else" } }, nil),
                ("wrong-issuer", { $0.claimsTweak = { $0["iss"] = "https://evil.example" } }, nil),
                ("token-expired", { $0.claimsTweak = { $0["exp"] = Int(Date().timeIntervalSince1970) - 3600 } }, nil),
                ("nonce-mismatch", { $0.claimsTweak = { $0["nonce"] = "replayed-nonce" } }, nil),
                ("code-refused", { $0.clockOffset = 301 }, nil),
                ("code-refused", { $0.spoilChallenges() }, nil),
                ("wrong-tenant", { _ in }, FakeClassLink.Person(
                    userID: "3003", tenantID: "t-2", sourcedID: world.teacher.sourcedID, loginID: "", email: "", name: "Visitor")),
            ]
            let before = try world.fixture.service.unlinkedIdentities().count
            try await world.app.test(.router) { client in
                for (cause, spoil, person) in cases {
                    fake.tamperSignature = false
                    fake.signWithUnpublishedKey = false
                    fake.claimsTweak = nil
                    fake.clockOffset = 0
                    let browser = Browser()
                    let callback = try await Self.callback(browser, client, fake, world, as: person ?? world.teacher)
                    try spoil(fake)
                    let reply = try await browser.get(client, callback)
                    XCTAssertEqual(reply.status, 401, "\(cause): \(reply.text)")
                    XCTAssertTrue(reply.text.contains("<code>\(cause)</code>"), "\(cause): \(reply.text)")
                    XCTAssertEqual(reply.headers[.contentType], "text/html; charset=utf-8")
                    XCTAssertNil(browser.cookies["rf_session"], "\(cause): a session was made")
                }
            }
            XCTAssertEqual(try world.fixture.service.unlinkedIdentities().count, before, "a refused sign-in was queued")
            let created = try await world.fixture.service.outboxMessages(status: nil, limit: 500).filter { $0.template == "account-created" }
            XCTAssertEqual(created.count, 0, "a refused sign-in told the platform of an account")
        }
    }

    func testAnEmptySourcedIdFallsBackToTheUsernameAndAnUnknownPersonGetsASupportCodeTheVendorResolves() async throws {
        try await withWorld { fake, world in
            try await world.app.test(.router) { client in
                var withoutSourcedID = world.teacher
                withoutSourcedID.sourcedID = ""
                let browser = Browser()
                let linked = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: withoutSourcedID))
                XCTAssertEqual(linked.headers[.location], "/dashboard/teacher", linked.text)

                let stranger = FakeClassLink.Person(
                    userID: "4004", tenantID: "t-1", sourcedID: "", loginID: "nobody.here", email: "nobody@elsewhere.example", name: "New Person")
                let visitor = Browser()
                let unlinked = try await visitor.get(client, try await Self.callback(visitor, client, fake, world, as: stranger))
                XCTAssertEqual(unlinked.status, 403, unlinked.text)
                XCTAssertNil(visitor.cookies["rf_session"])
                let code = try XCTUnwrap(unlinked.text.range(of: #"RF-[A-Z0-9]+"#, options: .regularExpression).map { String(unlinked.text[$0]) })
                XCTAssertTrue(unlinked.text.contains("support code"), unlinked.text)

                // The vendor admin sees it in the unlinked queue and links it to the student; a school admin cannot.
                let school = Browser()
                try await DashboardTests.signIn(world.fixture, school, "school", client)
                let refused = try await school.get(client, "/dashboard/unlinked")
                XCTAssertEqual(refused.status, 403, refused.text)
                let vendor = Browser()
                try await DashboardTests.signIn(world.fixture, vendor, "vendor", client)
                let queue = try await vendor.get(client, "/dashboard/unlinked")
                XCTAssertEqual(queue.status, 200, queue.text)
                XCTAssertTrue(queue.text.contains(code), queue.text)
                XCTAssertTrue(queue.text.contains("nobody.here"), queue.text)
                let noCSRF = try await vendor.post(client, "/dashboard/unlinked/\(code)/resolve", ["sourcedId": world.student.sourcedID], csrf: "forged")
                XCTAssertEqual(noCSRF.status, 403)
                let resolved = try await vendor.post(client, "/dashboard/unlinked/\(code)/resolve", ["sourcedId": world.student.sourcedID])
                XCTAssertEqual(resolved.status, 303, resolved.text)
                let after = try await vendor.get(client, "/dashboard/unlinked")
                XCTAssertFalse(after.text.contains(code), "a resolved code stays in the queue")

                let again = try await visitor.get(client, try await Self.callback(visitor, client, fake, world, as: stranger))
                XCTAssertEqual(again.headers[.location], "/dashboard/student", "the resolved link was not used")
            }
        }
    }

    func testARotatedKeyIsFetchedOnceWhenAnIdTokenNamesIt() async throws {
        try await withWorld { fake, world in
            try await world.app.test(.router) { client in
                let browser = Browser()
                _ = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: world.teacher))
                XCTAssertEqual(fake.jwksFetchCount, 1)
                _ = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: world.student))
                XCTAssertEqual(fake.jwksFetchCount, 1, "known keys were fetched again")
                try fake.rotate()
                let rotated = try await browser.get(client, try await Self.callback(browser, client, fake, world, as: world.teacher))
                XCTAssertEqual(rotated.headers[.location], "/dashboard/teacher", rotated.text)
                XCTAssertEqual(fake.jwksFetchCount, 2, "the new key was not fetched (or fetched more than once)")
            }
        }
    }
}
