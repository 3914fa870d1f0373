import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPTypes
import HummingbirdTesting
import OneRosterREST
import TestPeers
import XCTest

/// Sign in with ClassLink against an independent OpenID provider, `oidc-provider-mock` (PyPI, pinned in
/// scripts/install-test-peers): its discovery document, authorize form, code, token endpoint (client_secret_post),
/// JWKS-signed id_token with the nonce it requires, and its user-info endpoint carrying ClassLink's fields.
final class OIDCProviderMockTests: XCTestCase {
    func testATeacherSignsInThroughOIDCProviderMock() async throws {
        let root = APIFixture.repositoryRoot
        let python = root + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { return XCTFail("\(python) is missing: run scripts/install-test-peers") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [root + "/Tests/RosterFlowServerTests/Peers/oidc_mock_peer.py"]
        let stdin = Pipe()
        process.standardInput = stdin
        let port = try ReadyPeer.start(process)
        defer {
            try? stdin.fileHandleForWriting.close()
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let issuer = "http://127.0.0.1:\(port)"
        let world = try await ClassLinkWorld(issuer: issuer, clientID: "rosterflow-client", secret: "mock-secret", userInfoURL: nil)
        defer { world.fixture.remove() }
        let http = CurlHTTPTransport(connectTimeout: 5, timeout: 20)
        // The provider's user, with ClassLink's user-info fields as claims.
        let claims: [String: Any] = [
            "UserId": "1001", "TenantId": "t-1", "SourcedId": world.teacher.sourcedID, "LoginId": world.teacher.loginID,
            "Email": world.teacher.email, "DisplayName": world.teacher.name,
        ]
        var put = URLRequest(url: URL(string: issuer + "/users/1001")!)
        put.httpMethod = "PUT"
        put.setValue("application/json", forHTTPHeaderField: "Content-Type")
        put.httpBody = try JSONSerialization.data(withJSONObject: claims)
        let (_, answer) = try await URLSession.shared.data(for: put)
        XCTAssertEqual((answer as? HTTPURLResponse)?.statusCode, 204)

        try await world.app.test(.router) { client in
            let browser = Browser()
            let start = try await browser.get(client, "/sign-in/classlink?integration=\(world.integration)")
            XCTAssertEqual(start.status, 302, start.text)
            let authorize = try XCTUnwrap(start.headers[.location])
            XCTAssertTrue(authorize.hasPrefix(issuer), authorize)
            // The person approves on the provider's form.
            let approved = try http.send(HTTPRequest(
                method: "POST", url: authorize, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Data("sub=1001".utf8)))
            XCTAssertEqual(approved.status / 100, 3, String(decoding: approved.body, as: UTF8.self))
            let back = try XCTUnwrap(approved.headers["location"])
            XCTAssertTrue(back.hasPrefix(ClassLinkWorld.base + "/sign-in/classlink/callback?"), back)
            let signedIn = try await browser.get(client, ClassLinkWorld.path(back))
            XCTAssertEqual(signedIn.status, 303, signedIn.text)
            XCTAssertEqual(signedIn.headers[.location], "/dashboard/teacher")
            let page = try await browser.get(client, "/dashboard/teacher")
            XCTAssertTrue(page.text.contains(world.classTitle), page.text)
            // Its code works once: the same callback again does not sign in anyone new.
            let again = try await Browser().get(client, ClassLinkWorld.path(back))
            XCTAssertEqual(again.headers[.location], "/sign-in/classlink?integration=\(world.integration)")
        }
    }
}
