import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Notifications
import OneRoster
import RosterFlowApp
import RosterFlowCore
import RosterFlowServer
import WorkflowEngine
import XCTest

/// A browser's view of the dashboard: its cookies and the CSRF token of the last page it read.
final class Browser: @unchecked Sendable {
    var cookies: [String: String] = [:]
    var csrf: String?

    var cookieHeader: HTTPFields {
        cookies.isEmpty ? [:] : [.cookie: cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
    }

    /// Keeps the cookies a reply sets (a Max-Age=0 one is removed) and the CSRF token of its page.
    func read(_ reply: Reply) {
        for field in reply.headers where field.name == .setCookie {
            let pair = field.value.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
            if field.value.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        if let range = reply.text.range(of: #"name="csrf" value=""#) {
            csrf = String(reply.text[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    func get(_ client: some TestClientProtocol, _ uri: String) async throws -> Reply {
        let reply = try await client.call(.get, uri, headers: cookieHeader)
        read(reply)
        return reply
    }

    /// Posts a form; `csrf: nil` leaves the token out, otherwise the page's token is sent unless one is given.
    func post(_ client: some TestClientProtocol, _ uri: String, _ fields: [String: String], csrf: String?? = .some(nil)) async throws -> Reply {
        var fields = fields
        switch csrf {
        case .none: break
        case .some(.none): fields["csrf"] = self.csrf ?? ""
        case let .some(.some(value)): fields["csrf"] = value
        }
        let body = fields.sorted { $0.key < $1.key }.map { key, value in
            "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }.joined(separator: "&")
        var headers = cookieHeader
        headers[.contentType] = "application/x-www-form-urlencoded"
        let reply = try await client.call(.post, uri, body: body, headers: headers)
        read(reply)
        return reply
    }
}

/// The dashboard, router-level on a real temporary SQLite database: sign-in by link and token, sessions, CSRF, the
/// rate limit, each role's pages and actions.
final class DashboardTests: XCTestCase {
    var fixture: APIFixture!
    static let base = "http://rosterflow.test"

    override func setUp() async throws {
        fixture = try await APIFixture()
    }

    override func tearDown() async throws {
        fixture?.remove()
    }

    func app(publicURL: String = base, service: RosterFlowService? = nil) -> some ApplicationProtocol {
        let router = RosterFlowServer.router(
            service: service ?? fixture.service, logger: Logger(label: "test"), dashboard: DashboardOptions(publicURL: publicURL))
        return Application(responder: RosterFlowServer.responder(for: router, logger: Logger(label: "test")))
    }

    /// The sign-in e-mails queued so far: (recipient, link), read from the e-mails the worker writes to its spool.
    static func signInMails(_ fixture: APIFixture, webhooks: Bool = true) async throws -> [(String, String)] {
        let spool = fixture.folder + "/spool"
        var config = NotificationConfig()
        config.from = "RosterFlow Tests <notify@rosterflow.test>"
        config.spoolFolder = spool
        // A webhook subscriber (nothing listens there): sign-in links must never be sent to it.
        config.webhooks = !webhooks ? [] : [WebhookSubscriber(
            name: "crm", url: "http://127.0.0.1:9/hooks", secret: Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))]
        let worker = try RosterFlowApp(AppConfiguration(
            databasePath: fixture.folder + "/api.sqlite", workflowsPath: nil, notifications: config,
            templatesPath: APIFixture.repositoryRoot + "/Templates"))
        _ = try worker.dispatcher.drain()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []
        var mails: [(String, String)] = []
        for file in files.sorted() {
            let text = try String(contentsOfFile: spool + "/" + file, encoding: .utf8)
                .replacingOccurrences(of: "=\r\n", with: "").replacingOccurrences(of: "=3D", with: "=")
            guard text.contains("Subject: Your RosterFlow sign-in link"),
                  let to = text.split(separator: "\r\n").first(where: { $0.hasPrefix("To: ") }),
                  let start = text.range(of: Self.base + "/sign-in/")
            else { continue }
            let link = Self.base + "/sign-in/" + text[start.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
            mails.append((to.dropFirst(4).trimmingCharacters(in: CharacterSet(charactersIn: "<> ")), link))
        }
        return mails
    }

    /// Signs `browser` in as the fixture's `who` with a link issued for the demo/operator path.
    static func signIn(_ fixture: APIFixture, _ browser: Browser, _ who: String, _ client: some TestClientProtocol) async throws {
        let link = try await fixture.service.issueSignInLink(accountEmail: "\(who)@example.org", baseURL: Self.base)
        let path = String(link.absoluteString.dropFirst(Self.base.count))
        _ = try await browser.get(client, path)
        let signedIn = try await browser.post(client, path, [:])
        XCTAssertEqual(signedIn.status, 303, signedIn.text)
        XCTAssertNotNil(browser.cookies["rf_session"])
        _ = try await browser.get(client, "/dashboard")
    }

    static func assertHTMLHeaders(_ reply: Reply, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(reply.contentType, "text/html; charset=utf-8", file: file, line: line)
        XCTAssertEqual(
            reply.headers[.contentSecurityPolicy], "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            file: file, line: line)
        XCTAssertEqual(reply.headers[.xContentTypeOptions], "nosniff", file: file, line: line)
        XCTAssertEqual(reply.headers[HTTPField.Name("Referrer-Policy")!], "no-referrer", file: file, line: line)
        XCTAssertFalse(reply.text.contains("<script"), file: file, line: line)
        XCTAssertFalse(reply.text.contains("style="), file: file, line: line)
    }

    // MARK: Sign-in

    func testAnEmailedLinkShowsAConfirmPageSignsInOnceAndSetsASafeCookie() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let browser = Browser()
            let form = try await browser.get(client, "/sign-in")
            XCTAssertEqual(form.status, 200)
            Self.assertHTMLHeaders(form)
            XCTAssertNotNil(browser.csrf)
            let sent = try await browser.post(client, "/sign-in", ["email": "School@Example.org"])
            XCTAssertEqual(sent.status, 200, sent.text)
            XCTAssertTrue(sent.text.contains("a sign-in link is on its way"))
            // An address without an account gets the same answer, and no e-mail.
            let unknown = try await browser.post(client, "/sign-in", ["email": "nobody@example.org"])
            XCTAssertEqual(unknown.status, 200)
            XCTAssertTrue(unknown.text.contains("a sign-in link is on its way"))
            let mails = try await Self.signInMails(f)
            XCTAssertEqual(mails.map(\.0), ["school@example.org"])
            // E-mail only: never to webhook subscribers (other messages are), and the link is not shown to operators.
            for message in try await f.service.outboxMessages() {
                let shown = try await f.service.outboxMessage(id: message.id)
                let channels = Set((shown.deliveries ?? []).map(\.channel.rawValue))
                if message.template == "sign-in-link" {
                    XCTAssertEqual(channels, ["email"])
                    XCTAssertEqual(shown.payload?["sign_in_url"], "(a one-time sign-in link: sent to the account only)")
                } else {
                    XCTAssertTrue(channels.contains("webhook"), "\(message.template): \(channels)")
                }
            }
            let link = try XCTUnwrap(mails.first?.1)
            XCTAssertTrue(link.hasPrefix(Self.base + "/sign-in/rfl_"), link)
            let path = String(link.dropFirst(Self.base.count))
            // The link is stored only as a hash.
            let token = String(path.dropFirst("/sign-in/".count))
            let database = try Data(contentsOf: URL(fileURLWithPath: f.folder + "/api.sqlite"))
            XCTAssertNil(database.range(of: Data(token.utf8)), "the link's token is stored in clear")

            // Opening it (a mail scanner would) does not use it.
            for _ in 0..<2 {
                let confirm = try await browser.get(client, path)
                XCTAssertEqual(confirm.status, 200)
                XCTAssertTrue(confirm.text.contains("Sign in to RosterFlow as <strong>school@example.org</strong>"), confirm.text)
                Self.assertHTMLHeaders(confirm)
            }
            let signedIn = try await browser.post(client, path, [:])
            XCTAssertEqual(signedIn.status, 303, signedIn.text)
            XCTAssertEqual(signedIn.headers[.location], "/dashboard")
            let cookie = try XCTUnwrap(signedIn.headers[values: .setCookie].first { $0.hasPrefix("rf_session=") })
            for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] { XCTAssertTrue(cookie.contains(attribute), cookie) }
            XCTAssertFalse(cookie.contains("Secure"), "Secure on a plain-http public URL: \(cookie)")
            let session = try XCTUnwrap(browser.cookies["rf_session"])
            XCTAssertNotEqual(session, token)
            XCTAssertNil(database.range(of: Data(session.utf8)))
            let home = try await browser.get(client, "/dashboard")
            XCTAssertEqual(home.status, 200)
            XCTAssertTrue(home.text.contains("Your onboarding"), home.text)
            Self.assertHTMLHeaders(home)

            // Single use: the same link again is refused, readable, with its code.
            let other = Browser()
            _ = try await other.get(client, "/sign-in")
            _ = try await other.get(client, path)
            let value1 = try await other.get(client, path).text.contains("was used already")
            XCTAssertTrue(value1)
            let again = try await other.post(client, path, [:])
            XCTAssertEqual(again.status, 401)
            XCTAssertTrue(again.text.contains("link-used"), again.text)
            XCTAssertNil(other.cookies["rf_session"])
        }
        let actions = try f.service.audit().map(\.action)
        XCTAssertTrue(actions.contains("sign-in"), "\(actions)")
    }

    func testALinkExpiresAfterFifteenMinutesAndSignsInOnlyItsOwnAccount() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let late = try await f.service.issueSignInLink(accountEmail: "school@example.org", baseURL: Self.base)
            let dspLink = try await f.service.issueSignInLink(accountEmail: "dsp@example.org", baseURL: Self.base)
            f.clock.advance(14 * 60)
            let browser = Browser()
            let dspPath = String(dspLink.absoluteString.dropFirst(Self.base.count))
            _ = try await browser.get(client, dspPath)
            let value2 = try await browser.post(client, dspPath, [:]).status
            XCTAssertEqual(value2, 303)
            let home = try await browser.get(client, "/dashboard")
            XCTAssertTrue(home.text.contains("Your queue"), "the DSP's link signed in someone else: \(home.text)")
            XCTAssertTrue(home.text.contains("dsp (DSP)"))

            f.clock.advance(2 * 60)
            let other = Browser()
            _ = try await other.get(client, "/sign-in")
            let path = String(late.absoluteString.dropFirst(Self.base.count))
            let value3 = try await other.get(client, path).text.contains("has expired")
            XCTAssertTrue(value3)
            let expired = try await other.post(client, path, [:])
            XCTAssertEqual(expired.status, 401)
            XCTAssertTrue(expired.text.contains("link-expired"))
            XCTAssertNil(other.cookies["rf_session"])
            // A made-up link is refused the same way.
            let forged = try await other.post(client, "/sign-in/rfl_" + String(repeating: "A", count: 43), [:])
            XCTAssertEqual(forged.status, 401)
            XCTAssertTrue(forged.text.contains("link-unknown"))
        }
    }

    func testSigningInRotatesTheSessionAndAnHTTPSPublicURLMakesCookiesSecure() async throws {
        let f = fixture!
        try await app(publicURL: "https://rosterflow.example").test(.router) { client in
            let browser = Browser()
            let first = try await f.service.issueSignInLink(accountEmail: "school@example.org", baseURL: "https://rosterflow.example")
            let path = String(first.absoluteString.dropFirst("https://rosterflow.example".count))
            let pre = try await client.call(.get, path)
            XCTAssertTrue(pre.headers[values: .setCookie].allSatisfy { $0.contains("; Secure") }, "\(pre.headers)")
            browser.read(pre)
            let signedIn = try await browser.post(client, path, [:])
            XCTAssertTrue(try XCTUnwrap(signedIn.headers[values: .setCookie].first { $0.hasPrefix("rf_session=") }).contains("; Secure"))
            let oldSession = try XCTUnwrap(browser.cookies["rf_session"])
            // Signing in again (with a token) in the same browser gives a new session and ends the old one.
            let token = try await f.service.createToken(account: "school@example.org", name: "paste", expiresAt: nil, actor: "test")
            let form = try await browser.get(client, "/sign-in")
            XCTAssertEqual(form.status, 303, "a signed-in browser goes to the dashboard")
            browser.cookies["rf_presession"] = "pre-value"
            let again = try await browser.post(client, "/sign-in/token", ["token": token.token], csrf: "pre-value")
            XCTAssertEqual(again.status, 303, again.text)
            XCTAssertNotEqual(browser.cookies["rf_session"], oldSession)
            let value4 = try await f.service.checkSession(oldSession)
            XCTAssertNil(value4, "the old session survived a new sign-in")
        }
    }

    func testSignInAttemptsAreRateLimitedPerEmailAndPerClient() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let browser = Browser()
            _ = try await browser.get(client, "/sign-in")
            for _ in 0..<5 {
                let value5 = try await browser.post(client, "/sign-in", ["email": "school@example.org"]).status
                XCTAssertEqual(value5, 200)
            }
            let limited = try await browser.post(client, "/sign-in", ["email": "school@example.org"])
            XCTAssertEqual(limited.status, 429, limited.text)
            XCTAssertEqual(limited.headers[.retryAfter].flatMap(Int.init).map { $0 > 0 && $0 <= 900 }, true)
            XCTAssertTrue(limited.text.contains("rate-limited"))
            Self.assertHTMLHeaders(limited)
            // The same client is limited for other addresses and for tokens too.
            let value6 = try await browser.post(client, "/sign-in", ["email": "dsp@example.org"]).status
            XCTAssertEqual(value6, 429)
            let value7 = try await browser.post(client, "/sign-in/token", ["token": f.tokens["school"]!]).status
            XCTAssertEqual(value7, 429)
            let value8 = try await Self.signInMails(f).count
            XCTAssertEqual(value8, 5)
            // After the window, it works again.
            f.clock.advance(15 * 60 + 1)
            let value9 = try await browser.post(client, "/sign-in", ["email": "dsp@example.org"]).status
            XCTAssertEqual(value9, 200)
        }
    }

    func testSignInWithAPastedAPITokenAndBadTokensAreRefused() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let browser = Browser()
            _ = try await browser.get(client, "/sign-in")
            let bad = try await browser.post(client, "/sign-in/token", ["token": "rf_nope"])
            XCTAssertEqual(bad.status, 401)
            XCTAssertTrue(bad.text.contains("unknown-token"))
            let good = try await browser.post(client, "/sign-in/token", ["token": f.tokens["vendor"]!])
            XCTAssertEqual(good.status, 303, good.text)
            let board = try await browser.get(client, "/dashboard")
            XCTAssertTrue(board.text.contains("<h1>Integrations</h1>"), board.text)
        }
    }

    // MARK: Sessions and CSRF

    func testFormsWithoutTheSessionsCSRFTokenAreRefusedAndNothingIsApplied() async throws {
        let f = fixture!
        _ = try await f.service.authenticate(integrationID: f.springfield, role: .vendorAdmin, actor: "test")
        try await app().test(.router) { client in
            let browser = Browser()
            try await Self.signIn(f, browser, "school", client)
            let uri = "/dashboard/integrations/\(f.springfield)/schedule"
            let fields = ["time": "06:15", "timezone": "America/Denver"]
            for csrf: String?? in [.none, .some("wrong"), .some("")] {
                let refused = try await browser.post(client, uri, fields, csrf: csrf)
                XCTAssertEqual(refused.status, 403, refused.text)
                XCTAssertTrue(refused.text.contains("csrf"))
                Self.assertHTMLHeaders(refused)
            }
            // Another session's token does not do either.
            let other = Browser()
            try await Self.signIn(f, other, "school", client)
            XCTAssertNotEqual(other.csrf, browser.csrf)
            let value10 = try await browser.post(client, uri, fields, csrf: .some(other.csrf)).status
            XCTAssertEqual(value10, 403)
            // The sign-in form needs its own token too.
            let stranger = Browser()
            let value11 = try await stranger.post(client, "/sign-in", ["email": "school@example.org"], csrf: .some("x")).status
            XCTAssertEqual(value11, 403)
        }
        XCTAssertEqual(try f.service.integration(id: f.springfield).state, "authenticated")
    }

    func testWithoutASessionPagesGoToSignInAndSigningOutOrDisablingTheAccountEndsIt() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let anonymous = try await client.call(.get, "/dashboard")
            XCTAssertEqual(anonymous.status, 303)
            XCTAssertEqual(anonymous.headers[.location], "/sign-in")
            let value12 = try await client.call(.post, "/dashboard/outbox/x/retry").status
            XCTAssertEqual(value12, 401)
            let css = try await client.call(.get, "/assets/dashboard.css")
            XCTAssertEqual(css.status, 200)
            XCTAssertEqual(css.contentType, "text/css; charset=utf-8")
            XCTAssertTrue(css.text.contains(":focus-visible"))

            let browser = Browser()
            try await Self.signIn(f, browser, "school", client)
            let session = try XCTUnwrap(browser.cookies["rf_session"])
            let out = try await browser.post(client, "/sign-out", [:])
            XCTAssertEqual(out.status, 303)
            XCTAssertNil(browser.cookies["rf_session"])
            let value13 = try await f.service.checkSession(session)
            XCTAssertNil(value13)
            browser.cookies["rf_session"] = session
            let value14 = try await browser.get(client, "/dashboard").status
            XCTAssertEqual(value14, 303, "a signed-out session still works")

            let dsp = Browser()
            try await Self.signIn(f, dsp, "dsp", client)
            let value15 = try await dsp.get(client, "/dashboard").status
            XCTAssertEqual(value15, 200)
            _ = try await f.service.disableAccount("dsp@example.org", actor: "test")
            let value16 = try await dsp.get(client, "/dashboard").status
            XCTAssertEqual(value16, 303, "a disabled account kept its session")
        }
    }

    func testSessionsEndWhenIdleAndAtTheirAbsoluteEnd() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let browser = Browser()
            try await Self.signIn(f, browser, "school", client)
            f.clock.advance(61 * 60)
            let value17 = try await browser.get(client, "/dashboard").status
            XCTAssertEqual(value17, 303, "an idle session survived")
            let busy = Browser()
            try await Self.signIn(f, busy, "school", client)
            for _ in 0..<24 {
                f.clock.advance(30 * 60)
                _ = try await busy.get(client, "/dashboard")
            }
            let value18 = try await busy.get(client, "/dashboard").status
            XCTAssertEqual(value18, 303, "a session outlived its 12 hours")
        }
    }

    // MARK: Each role's pages

    func testEachRoleSeesItsOwnHomeAndNeverAnotherDistrict() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        try await app().test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let board = try await vendor.get(client, "/dashboard")
            XCTAssertTrue(board.text.contains("Springfield USD") && board.text.contains("Shelbyville USD"), board.text)
            XCTAssertTrue(board.text.contains("Scheduled") && board.text.contains("Requested"), board.text)
            XCTAssertTrue(board.text.contains("Check that Shelbyville USD is an existing customer"), "the task's owner and todo: \(board.text)")
            XCTAssertTrue(board.text.contains(##"href="#main""##), "no skip link")
            let value19 = try await vendor.get(client, "/dashboard/outbox").status
            XCTAssertEqual(value19, 200)
            let page = try await vendor.get(client, "/dashboard/integrations/\(f.shelbyville)")
            XCTAssertTrue(page.text.contains(">Authenticate</button>"), page.text)
            // The workflow diagram the page shows loads with the session (an <img>, so no token), as SVG.
            XCTAssertTrue(page.text.contains("/dashboard/workflows/integration/diagram.svg?version="), page.text)
            let diagram = try await vendor.get(client, "/dashboard/workflows/integration/diagram.svg")
            XCTAssertEqual(diagram.status, 200)
            XCTAssertTrue(diagram.text.hasPrefix("<svg") || diagram.text.hasPrefix("<?xml"), String(diagram.text.prefix(80)))
            XCTAssertTrue(diagram.text.contains("shells_created"))
            let anonymous = try await Browser().get(client, "/dashboard/workflows/integration/diagram.svg")
            XCTAssertNotEqual(anonymous.status, 200, "the diagram without a session")

            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let home = try await school.get(client, "/dashboard")
            XCTAssertTrue(home.text.contains("Springfield USD"))
            XCTAssertFalse(home.text.contains("Shelbyville USD"), "another district on the school's page")
            let other = try await school.get(client, "/dashboard/integrations/\(f.shelbyville)")
            XCTAssertEqual(other.status, 404)
            Self.assertHTMLHeaders(other)
            XCTAssertTrue(other.text.contains("not-found"))
            let outbox = try await school.get(client, "/dashboard/outbox")
            XCTAssertEqual(outbox.status, 403)
            XCTAssertTrue(outbox.text.contains("role-not-allowed"))
            let mine = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertEqual(mine.status, 200)
            XCTAssertFalse(mine.text.contains(">Authenticate</button>"), "a vendor action offered to the school")
            XCTAssertTrue(mine.text.contains("Daily sync at 02:30 (America/Chicago)"), mine.text)
            // Another district's action is refused as "not found", and nothing happens.
            let post = try await school.post(client, "/dashboard/integrations/\(f.shelbyville)/events", ["event": "reject"])
            XCTAssertEqual(post.status, 404)

            let dsp = Browser()
            try await Self.signIn(f, dsp, "dsp", client)
            let queue = try await dsp.get(client, "/dashboard")
            XCTAssertTrue(queue.text.contains("<h1>Your queue</h1>"), queue.text)
            let value20 = try await dsp.get(client, "/dashboard/integrations/\(f.shelbyville)").status
            XCTAssertEqual(value20, 404)
        }
        XCTAssertEqual(try f.service.integration(id: f.shelbyville).state, "requested")
    }

    func testARefusedActionIsAReadablePageWithItsCode() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            _ = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            let refused = try await school.post(client, "/dashboard/integrations/\(f.springfield)/events", ["event": "go_live"])
            XCTAssertTrue([403, 409].contains(refused.status), "\(refused.status): \(refused.text)")
            XCTAssertEqual(refused.contentType, "text/html; charset=utf-8")
            XCTAssertTrue(refused.text.contains("<code>refused</code>"), refused.text)
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let page = try await vendor.get(client, "/dashboard/integrations/\(f.springfield)")
            let stale = try await vendor.post(
                client, "/dashboard/integrations/\(f.springfield)/events", ["event": "authenticate", "version": "99"])
            XCTAssertEqual(stale.status, 409, stale.text)
            XCTAssertTrue(stale.text.contains("stale-instance"), stale.text)
            XCTAssertTrue(page.text.contains(">Authenticate</button>"))
            // The button itself works, and the account is the actor.
            let done = try await vendor.post(client, "/dashboard/integrations/\(f.springfield)/events", ["event": "authenticate"])
            XCTAssertEqual(done.status, 303, done.text)
        }
        let view = try f.service.integration(id: f.springfield)
        XCTAssertEqual(view.state, "authenticated")
        XCTAssertEqual(view.history.last?.actor, "account:vendor@example.org")
    }

    func testASchoolAdminSetsTheSyncTimeThroughTheFormAndTheIntegrationIsScheduled() async throws {
        let f = fixture!
        _ = try await f.service.authenticate(integrationID: f.springfield, role: .vendorAdmin, actor: "test")
        try await app().test(.router) { client in
            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let home = try await school.get(client, "/dashboard")
            XCTAssertTrue(home.text.contains("choose the daily sync time"), home.text)
            let page = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains(#"<label for="timezone">"#))
            XCTAssertTrue(page.text.contains(#"<option value="America/Denver">"#), "the zone picker lists IANA zones")
            let saved = try await school.post(
                client, "/dashboard/integrations/\(f.springfield)/schedule", ["time": "06:15", "timezone": "America/Denver"])
            XCTAssertEqual(saved.status, 303, saved.text)
            let after = try await school.get(client, try XCTUnwrap(saved.headers[.location]))
            XCTAssertTrue(after.text.contains("Daily sync at 06:15 (America/Denver); next run"), after.text)
            XCTAssertTrue(after.text.contains("(America/Denver)."), after.text)
            let bad = try await school.post(
                client, "/dashboard/integrations/\(f.springfield)/schedule", ["time": "25:99", "timezone": "Mars/Olympus"])
            XCTAssertEqual(bad.status, 422, bad.text)
            XCTAssertTrue(bad.text.contains("invalid-input"))
        }
        let view = try f.service.integration(id: f.springfield)
        XCTAssertEqual(view.state, "scheduled")
        XCTAssertEqual(view.syncTime, "06:15")
        XCTAssertEqual(view.timezone, "America/Denver")
        XCTAssertEqual(view.history.last?.actor, "account:school@example.org")
    }

    func testAHeldSyncIsReviewedAndApprovedFromTheIntegrationPage() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let run = try await f.heldRun(f.springfield)
        try await app().test(.router) { client in
            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let seen = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(seen.text.contains("Held syncs"))
            XCTAssertFalse(seen.text.contains(#"value="approve""#), "the school may not decide held runs")

            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let page = try await vendor.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains("Sync \(run)"), page.text)
            XCTAssertTrue(page.text.contains("This sync stopped before changing anything"))
            XCTAssertTrue(page.text.contains(#"value="approve-without-deletes""#))
            let approved = try await vendor.post(client, "/dashboard/sync-runs/\(run)/decide", ["decision": "approve"])
            XCTAssertEqual(approved.status, 303, approved.text)
            XCTAssertEqual(approved.headers[.location], "/dashboard/integrations/\(f.springfield)?done=approve")
            let after = try await vendor.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertFalse(after.text.contains("Held syncs"))
        }
        XCTAssertEqual(try f.service.syncRun(id: run).decision, "approved")
        // Resumed: back in the state it was held in (the first sync had created the shells).
        XCTAssertEqual(try f.service.integration(id: f.springfield).state, "shells_created")
    }

    /// A held run proposing a merge of a re-keyed student offers the two choices it needs (a plain approval is refused
    /// for it), and merging from the page applies it.
    func testAHeldMergeOffersItsChoiceOnTheIntegrationPage() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let run = try await f.heldMerge(f.springfield)
        try await app().test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let page = try await vendor.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains(#"value="merge""#) && page.text.contains(#"value="no-merge""#), page.text)
            XCTAssertFalse(page.text.contains(#"value="carry-forward""#), "no rollover, no carry-forward")
            let merged = try await vendor.post(client, "/dashboard/sync-runs/\(run)/decide", ["decision": "merge"])
            XCTAssertEqual(merged.status, 303, merged.text)
        }
        XCTAssertEqual(try f.service.syncRun(id: run).decision, "approved")
        XCTAssertEqual(Set(try f.service.syncRun(id: run).merges.map(\.status)), ["merged"])
    }

    /// A held rollover shows last year's course map carried forward and offers both approvals; carrying it forward
    /// starts the matching new courses mapped.
    func testARolloverIsApprovedFromTheIntegrationPageWithItsCourseMapCarriedForward() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let (run, carried) = try await f.heldRollover(f.springfield)
        try await app().test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let page = try await vendor.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains("school-year rollover"), page.text)
            XCTAssertTrue(page.text.contains("Changes it would make: academicSessions: 3 added, 3 deleted; classes: 10 added, 10 deleted;"),
                          page.text)
            XCTAssertFalse(page.text.contains("EntityCounts"), page.text)
            XCTAssertTrue(page.text.contains(#"value="carry-forward""#), page.text)
            XCTAssertTrue(page.text.contains("Approve and map every new course anew"), page.text)
            XCTAssertTrue(page.text.contains("<li>\(carried) "), "the carry-forward is listed: \(page.text)")
            let approved = try await vendor.post(client, "/dashboard/sync-runs/\(run)/decide", ["decision": "carry-forward"])
            XCTAssertEqual(approved.status, 303, approved.text)
            XCTAssertEqual(approved.headers[.location], "/dashboard/integrations/\(f.springfield)?done=carry-forward")
        }
        XCTAssertEqual(try f.service.syncRun(id: run).decision, "approved")
        let course = try XCTUnwrap(try f.service.courses(integrationID: f.springfield).first { $0.sourcedID == carried })
        XCTAssertEqual(course.state, "mapped")
    }

    func testTheWorkflowsPageCountsVersionsAndItsMigrationFormChecksThePlanAndTheConfirmation() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let page = try await vendor.get(client, "/dashboard/workflows")
            XCTAssertEqual(page.status, 200, page.text)
            XCTAssertTrue(page.text.contains("<th scope=\"row\">integration</th>") && page.text.contains("(current)"), page.text)
            XCTAssertTrue(page.text.contains("name=\"plan\""), "no migration form: \(page.text)")

            // A plan naming a version the database does not hold: a page with the problem and its code.
            let unknown = try await vendor.post(
                client, "/dashboard/workflows/migrations", ["plan": "workflow: course-mapping\nfrom: 1\nto: 3\n", "action": "dry-run"])
            XCTAssertEqual(unknown.status, 422, unknown.text)
            XCTAssertTrue(unknown.text.contains("unknown-version"), unknown.text)
            // The real run needs the confirmation box.
            let unconfirmed = try await vendor.post(
                client, "/dashboard/workflows/migrations", ["plan": "workflow: course-mapping\nfrom: 1\nto: 3\n", "action": "migrate"])
            XCTAssertEqual(unconfirmed.status, 422, unconfirmed.text)
            XCTAssertTrue(unconfirmed.text.contains("confirmation-needed"), unconfirmed.text)
            let forged = try await vendor.post(
                client, "/dashboard/workflows/migrations", ["plan": "x", "action": "dry-run"], csrf: .some("forged"))
            XCTAssertEqual(forged.status, 403)

            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let refused = try await school.get(client, "/dashboard/workflows")
            XCTAssertEqual(refused.status, 403)
            let home = try await school.get(client, "/dashboard")
            XCTAssertFalse(home.text.contains("/dashboard/workflows"), "the link shown to a school")
        }
    }

    func testTheWorkflowsPageRunsAPlansDryRunThenTheConfirmedMigration() async throws {
        // The districts start on integration version 6 (the shipped file as version 6, without version 7's event);
        // the server then runs the repository's definitions, as after an upgrade.
        fixture.remove()
        let old = NSTemporaryDirectory() + "rosterflow-old-workflows-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: old) }
        let shipped = APIFixture.repositoryRoot + "/Workflows"
        let six = try String(contentsOfFile: shipped + "/integration.yaml", encoding: .utf8)
            .replacingOccurrences(of: "version: 7", with: "version: 6")
            .split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("content_withdrawn") }.joined(separator: "\n")
        try six.write(toFile: old + "/integration.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: shipped + "/course-mapping.yaml", toPath: old + "/course-mapping.yaml")
        fixture = try await APIFixture(workflows: old)
        let f = fixture!
        let upgraded = try RosterFlowService(databasePath: f.folder + "/api.sqlite", workflowsPath: shipped)
        let plan = try String(contentsOfFile: shipped + "/migrations/integration-6-to-7.yaml", encoding: .utf8)
        try await app(service: upgraded).test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let before = try await vendor.get(client, "/dashboard/workflows")
            XCTAssertTrue(before.text.contains("<td>6</td><td>2</td>"), "two integrations on version 6: \(before.text)")

            let dry = try await vendor.post(client, "/dashboard/workflows/migrations", ["plan": plan, "action": "dry-run"])
            XCTAssertEqual(dry.status, 200, dry.text)
            XCTAssertTrue(dry.text.contains("Dry run: integration-6-to-7: integration 6 → 7: would migrate 2"), dry.text)
            XCTAssertTrue(dry.text.contains("Springfield USD") && dry.text.contains("would-migrate"), dry.text)
            XCTAssertEqual(try upgraded.integration(id: f.springfield).workflowVersion, 6, "a dry run moves nothing")

            let run = try await vendor.post(
                client, "/dashboard/workflows/migrations", ["plan": plan, "action": "migrate", "confirm": "yes"])
            XCTAssertEqual(run.status, 200, run.text)
            XCTAssertTrue(run.text.contains("integration 6 → 7: migrated 2"), run.text)
        }
        let moved = try upgraded.integration(id: f.springfield)
        XCTAssertEqual(moved.workflowVersion, 7)
        XCTAssertEqual(moved.history.last?.event, "migrated 6 → 7")
        XCTAssertEqual(moved.history.last?.actor, "account:vendor@example.org")
    }

    func testTheVendorAdminRetriesAnUndeliveredMessageFromTheOutboxPage() async throws {
        let f = fixture!
        // The worker finds no address for vendor_admins: the integration-requested messages are skipped.
        _ = try await Self.signInMails(f, webhooks: false)
        let undelivered = try await f.service.outboxMessages().filter {
            $0.template == "integration-requested" && ["skipped", "failed", "dead"].contains($0.status)
        }
        let all = try await f.service.outboxMessages().map { "\($0.template) \($0.status)" }
        let message = try XCTUnwrap(undelivered.first, "no undelivered integration-requested message: \(all)")
        try await app().test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let page = try await vendor.get(client, "/dashboard/outbox")
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.text.contains("aria-label=\"Retry \(message.id)\""), page.text)
            let retried = try await vendor.post(client, "/dashboard/outbox/\(message.id)/retry", [:])
            XCTAssertEqual(retried.status, 303, retried.text)
            XCTAssertEqual(retried.headers[.location], "/dashboard/outbox")
        }
        let after = try await f.service.outboxMessage(id: message.id)
        XCTAssertTrue((after.deliveries ?? []).contains { $0.status == .pending }, "\(after)")
        let entry = try XCTUnwrap(try f.service.audit().last { $0.action == "outbox-retry" })
        XCTAssertEqual(entry.actor, "account:vendor@example.org")
    }

    func testTheDSPQueueListsTheCoursesAndTheSchoolVerifiesAMappingFromTheCourseMap() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let bundle = f.folder + "/bundle-map"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 100, classes: 6, enrollments: 300, version: "1.2", seed: 5)
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        let courses = try f.service.courses(integrationID: f.springfield)
        let course = try XCTUnwrap(courses.first)
        _ = try await f.service.importCatalog(csv: "base_id,title\nALG1,Algebra I\n", file: "catalog.csv", actor: "test")
        try await app().test(.router) { client in
            let dsp = Browser()
            try await Self.signIn(f, dsp, "dsp", client)
            let shells = try await dsp.get(client, "/dashboard")
            XCTAssertTrue(shells.text.contains("to a catalog course"), "shells to map: \(shells.text)")
            _ = try await f.service.mapCourse(
                id: course.id, catalogTitle: "Algebra I", baseID: "ALG1", role: .dsp, actor: "test", confirmShared: true,
                confirmGrades: true)
            let queue = try await dsp.get(client, "/dashboard")
            XCTAssertTrue(queue.text.contains("Verify that"), "mappings awaiting the school: \(queue.text)")
            XCTAssertTrue(queue.text.contains("<td>not locked</td>"), queue.text)
            XCTAssertFalse(queue.text.contains("Shelbyville"))
            // The DSP may not verify: the workflow gives verify to the school admin only.
            _ = try await dsp.get(client, "/dashboard/integrations/\(f.springfield)")
            let refused = try await dsp.post(client, "/dashboard/courses/\(course.id)/events", ["event": "verify"])
            XCTAssertEqual(refused.status, 403, refused.text)
            XCTAssertTrue(refused.text.contains("role-not-allowed"), refused.text)

            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let home = try await school.get(client, "/dashboard")
            XCTAssertTrue(home.text.contains("verify 1 course mapping on the course map"), home.text)
            let page = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains(">Verify</button>"), page.text)
            let verified = try await school.post(client, "/dashboard/courses/\(course.id)/events", ["event": "verify"])
            XCTAssertEqual(verified.status, 303, verified.text)
            XCTAssertEqual(verified.headers[.location], "/dashboard/integrations/\(f.springfield)?done=verify")
            let other = Browser()
            try await Self.signIn(f, other, "otherSchool", client)
            let foreign = try await other.post(client, "/dashboard/courses/\(course.id)/events", ["event": "verify"])
            XCTAssertEqual(foreign.status, 404, "another district's course: \(foreign.text)")
        }
        let after = try f.service.course(id: course.id)
        XCTAssertEqual(after.state, "verified")
        XCTAssertEqual(after.history.last?.actor, "account:school@example.org")
    }

    func testTheDSPMapsAShellToACatalogCourseFromTheIntegrationPagesMapForm() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let bundle = f.folder + "/bundle-map-form"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 200, classes: 20, enrollments: 600, version: "1.2", seed: 7)
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        let courses = try f.service.courses(integrationID: f.springfield)
        guard courses.count >= 2 else { return XCTFail("the sample district has \(courses.count) course(s); two are needed") }
        let (course, other) = (courses[0], courses[1])
        try await app().test(.router) { client in
            let dsp = Browser()
            try await Self.signIn(f, dsp, "dsp", client)
            let page = try await dsp.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains("action=\"/dashboard/courses/\(course.id)/events\""), page.text)
            XCTAssertTrue(page.text.contains("<summary>Map \(course.title) to a catalog course</summary>"), page.text)
            XCTAssertTrue(page.text.contains("<label for=\"base-\(course.id)\">Catalog base id</label>"), page.text)
            // No base id: a page that says what to give, nothing applied.
            let missing = try await dsp.post(client, "/dashboard/courses/\(course.id)/events", ["event": "map", "baseID": " "])
            XCTAssertEqual(missing.status, 400, missing.text)
            XCTAssertTrue(missing.text.contains("base id"), missing.text)
            // A stale row version is refused.
            let stale = try await dsp.post(
                client, "/dashboard/courses/\(course.id)/events",
                ["event": "map", "baseID": "ALG-1", "catalog": "Algebra I", "version": String(course.rowVersion + 5)])
            XCTAssertEqual(stale.status, 409, stale.text)
            XCTAssertTrue(stale.text.contains("stale-instance"), stale.text)
            // Without a vendor catalog the title is needed, and the page says so.
            let untitled = try await dsp.post(client, "/dashboard/courses/\(course.id)/events", ["event": "map", "baseID": "ALG-1"])
            XCTAssertEqual(untitled.status, 422, untitled.text)
            XCTAssertTrue(untitled.text.contains("catalog course title is needed"), untitled.text)
            let mapped = try await dsp.post(
                client, "/dashboard/courses/\(course.id)/events",
                ["event": "map", "baseID": "ALG-1", "catalog": "Algebra I", "version": String(course.rowVersion)])
            XCTAssertEqual(mapped.status, 303, mapped.text)
            XCTAssertEqual(mapped.headers[.location], "/dashboard/integrations/\(f.springfield)?done=map")
            let after = try await dsp.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(after.text.contains("Algebra I (ALG-1)"), after.text)
            XCTAssertTrue(after.text.contains("<summary>Map again \(course.title) to a catalog course</summary>"), after.text)

            // With a vendor catalog, the base id alone maps, to the catalog's title.
            _ = try await f.service.importCatalog(csv: "base_id,title\nBIO-1,Biology\n", file: "catalog.csv", actor: "test")
            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            _ = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            let byCatalog = try await school.post(client, "/dashboard/courses/\(other.id)/events", ["event": "map", "baseID": "BIO-1"])
            XCTAssertEqual(byCatalog.status, 303, byCatalog.text)
            // Another district's school cannot map this district's course.
            let stranger = Browser()
            try await Self.signIn(f, stranger, "otherSchool", client)
            let foreign = try await stranger.post(client, "/dashboard/courses/\(other.id)/events", ["event": "map", "baseID": "BIO-1"])
            XCTAssertEqual(foreign.status, 404, foreign.text)
        }
        let first = try f.service.course(id: course.id)
        XCTAssertEqual(first.state, "mapped")
        XCTAssertEqual(first.baseID, "ALG-1")
        XCTAssertEqual(first.catalogTitle, "Algebra I")
        XCTAssertEqual(first.history.last?.actor, "account:dsp@example.org")
        let second = try f.service.course(id: other.id)
        XCTAssertEqual(second.baseID, "BIO-1")
        XCTAssertEqual(second.catalogTitle, "Biology")
        XCTAssertEqual(second.history.last?.actor, "account:school@example.org")
    }

    func testTheSchoolDownloadsTheCourseMapAndUploadsItFilledInWithEachRowsOutcome() async throws {
        let f = fixture!
        try await f.schedule(f.springfield)
        let bundle = f.folder + "/bundle-sheet"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 100, classes: 6, enrollments: 300, version: "1.2", seed: 5)
        _ = try await f.service.runSync(integrationID: f.springfield, bundlePath: bundle, actor: "test")
        let course = try XCTUnwrap(try f.service.courses(integrationID: f.springfield).first)
        _ = try await f.service.importCatalog(csv: "base_id,title\nALG1,Algebra I\n", file: "catalog.csv", actor: "test")
        _ = try await f.service.mapCourse(
            id: course.id, catalogTitle: "Algebra I", baseID: "ALG1", role: .dsp, actor: "test", confirmShared: true, confirmGrades: true)
        try await app().test(.router) { client in
            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let page = try await school.get(client, "/dashboard/integrations/\(f.springfield)")
            XCTAssertTrue(page.text.contains("/dashboard/integrations/\(f.springfield)/course-map.csv"), page.text)
            let sheet = try await school.get(client, "/dashboard/integrations/\(f.springfield)/course-map.csv")
            XCTAssertEqual(sheet.status, 200)
            XCTAssertEqual(sheet.contentType, "text/csv; charset=utf-8")
            XCTAssertTrue(sheet.text.hasPrefix("course_id,sourced_id,school_course"), sheet.text)
            XCTAssertTrue(sheet.text.contains(course.id))
            let other = Browser()
            try await Self.signIn(f, other, "otherSchool", client)
            let foreign = try await other.get(client, "/dashboard/integrations/\(f.springfield)/course-map.csv")
            XCTAssertEqual(foreign.status, 404, "another district's course map")

            // Filled in: the mapped course verified, and a row naming a course this district does not have.
            let filled = "course_id,base_id,verified\r\n\(course.id),ALG1,yes\r\ncrs-nope,ALG1,yes\r\n"
            func upload(_ csv: String, partial: Bool, csrf: String?) async throws -> Reply {
                let boundary = "rfsheet42"
                var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(csrf ?? "")\r\n".utf8)
                if partial { body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"partial\"\r\n\r\nyes\r\n".utf8) }
                body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"sheet\"; filename=\"map.csv\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
                body += Data(csv.utf8) + Data("\r\n--\(boundary)--\r\n".utf8)
                var headers = school.cookieHeader
                headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
                return try await client.execute(
                    uri: "/dashboard/integrations/\(f.springfield)/course-map", method: .post, headers: headers, body: ByteBuffer(bytes: body)
                ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            }
            let forged = try await upload(filled, partial: false, csrf: "forged")
            XCTAssertEqual(forged.status, 403)
            let strict = try await upload(filled, partial: false, csrf: school.csrf)
            XCTAssertNotEqual(strict.status, 200, "a wrong row stops the whole sheet unless partial: \(strict.text)")
            XCTAssertTrue(strict.text.contains("crs-nope"), strict.text)
            XCTAssertEqual(try f.service.course(id: course.id).state, "mapped", "nothing applied")
            let partial = try await upload(filled, partial: true, csrf: school.csrf)
            XCTAssertEqual(partial.status, 200, partial.text)
            XCTAssertTrue(partial.text.contains("Course map upload: 1 applied, 1 refused"), partial.text)
            Self.assertHTMLHeaders(partial)
        }
        let after = try f.service.course(id: course.id)
        XCTAssertEqual(after.state, "verified")
        XCTAssertEqual(after.history.last?.actor, "account:school@example.org")
    }

    func testTheVendorAdminImportsTheCatalogFromThePageAndAWrongFileImportsNothing() async throws {
        let f = fixture!
        try await app().test(.router) { client in
            let vendor = Browser()
            try await Self.signIn(f, vendor, "vendor", client)
            let empty = try await vendor.get(client, "/dashboard/catalog")
            XCTAssertEqual(empty.status, 200, empty.text)
            XCTAssertTrue(empty.text.contains("No catalog is imported yet"), empty.text)
            func upload(_ csv: String, csrf: String?) async throws -> Reply {
                let boundary = "rfcatalog42"
                var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(csrf ?? "")\r\n".utf8)
                body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"catalog\"; filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\n".utf8)
                body += Data(csv.utf8) + Data("\r\n--\(boundary)--\r\n".utf8)
                var headers = vendor.cookieHeader
                headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
                return try await client.execute(uri: "/dashboard/catalog", method: .post, headers: headers, body: ByteBuffer(bytes: body)) {
                    Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body))
                }
            }
            let forged = try await upload("base_id,title\nALG1,Algebra I\n", csrf: "forged")
            XCTAssertEqual(forged.status, 403)
            let duplicate = try await upload("base_id,title\nALG1,Algebra I\nALG1,Algebra One\n", csrf: vendor.csrf)
            XCTAssertEqual(duplicate.status, 422, duplicate.text)
            XCTAssertTrue(duplicate.text.contains("ALG1"), duplicate.text)
            XCTAssertEqual(try f.service.catalog(includeRetired: true).count, 0, "a wrong file imports nothing")
            let imported = try await upload("base_id,title,subject,grades\nALG1,Algebra I,Math,09\nBIO1,Biology,Science,10\n", csrf: vendor.csrf)
            XCTAssertEqual(imported.status, 200, imported.text)
            XCTAssertTrue(imported.text.contains("Imported: 2 added, 0 updated, 0 unchanged."), imported.text)
            XCTAssertTrue(imported.text.contains("<th scope=\"row\">BIO1</th>"), imported.text)

            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let refused = try await school.get(client, "/dashboard/catalog")
            XCTAssertEqual(refused.status, 403)
        }
        XCTAssertEqual(try f.service.catalog().map(\.baseID).sorted(), ["ALG1", "BIO1"])
        XCTAssertEqual(try f.service.audit().last { $0.action.contains("catalog") }?.actor, "account:vendor@example.org")
    }

    func testTheExportCheckRunsTheValidatorStoresNothingAndRefusesOversizeUploads() async throws {
        let f = fixture!
        let zip = f.folder + "/check.zip"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: zip), users: 50, classes: 4, enrollments: 100, version: "1.2", seed: 3)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: zip))
        let before = try f.service.integration(id: f.springfield)
        try await app().test(.router) { client in
            let school = Browser()
            try await Self.signIn(f, school, "school", client)
            let page = try await school.get(client, "/dashboard/check")
            XCTAssertTrue(page.text.contains(#"enctype="multipart/form-data""#))
            let csrf = try XCTUnwrap(school.csrf)
            let boundary = "rfboundary42"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(csrf)\r\n".utf8)
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"bundle\"; filename=\"x.zip\"\r\nContent-Type: application/zip\r\n\r\n".utf8)
            body += bytes
            body += Data("\r\n--\(boundary)--\r\n".utf8)
            var headers = school.cookieHeader
            headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
            let checked = try await client.execute(
                uri: "/dashboard/check", method: .post, headers: headers, body: ByteBuffer(bytes: body)
            ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            XCTAssertEqual(checked.status, 200, checked.text)
            XCTAssertTrue(checked.text.contains("Result: ready (no errors)"), checked.text)

            // A raw zip body with the token in a header; a broken one is explained, not a 500.
            var raw = school.cookieHeader
            raw[.contentType] = "application/zip"
            raw[HTTPField.Name("X-CSRF-Token")!] = csrf
            let broken = try await client.execute(
                uri: "/dashboard/check", method: .post, headers: raw, body: ByteBuffer(bytes: bytes.prefix(100))
            ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            XCTAssertEqual(broken.status, 422, broken.text)
            XCTAssertTrue(broken.text.contains("cannot be read as a OneRoster bundle"))
            raw[HTTPField.Name("X-CSRF-Token")!] = "wrong"
            let forged = try await client.execute(
                uri: "/dashboard/check", method: .post, headers: raw, body: ByteBuffer(bytes: bytes)
            ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            XCTAssertEqual(forged.status, 403)
            raw[HTTPField.Name("X-CSRF-Token")!] = csrf
            let oversize = try await client.execute(
                uri: "/dashboard/check", method: .post, headers: raw, body: ByteBuffer(repeating: 0x50, count: 21 * 1024 * 1024)
            ) { Reply(status: Int($0.status.code), headers: $0.headers, text: String(buffer: $0.body)) }
            XCTAssertEqual(oversize.status, 413)
            XCTAssertEqual(oversize.contentType, "text/html; charset=utf-8")
        }
        let after = try f.service.integration(id: f.springfield)
        XCTAssertEqual(after.rowVersion, before.rowVersion)
        XCTAssertTrue(try f.service.syncRuns(integrationID: f.springfield).isEmpty, "the check stored a sync run")
    }
}
