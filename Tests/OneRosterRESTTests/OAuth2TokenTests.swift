import Foundation
@testable import OneRosterREST
import XCTest

/// The token cache, on a scripted transport and clock (a pure unit test; the provider tests cover the wire).
final class OAuth2TokenTests: XCTestCase {
    final class Scripted: HTTPTransport, @unchecked Sendable {
        let lock = NSLock()
        var sent: [HTTPRequest] = []
        func send(_ request: HTTPRequest) throws -> HTTPResponse {
            lock.lock()
            defer { lock.unlock() }
            sent.append(request)
            let body = #"{"access_token":"token-\#(sent.count)","token_type":"bearer","expires_in":100}"#
            return HTTPResponse(status: 200, headers: [:], body: Data(body.utf8))
        }
    }

    final class Clock: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_000)
    }

    func testATokenIsKeptUntilShortlyBeforeItExpiresAndForgottenOnRequest() throws {
        let transport = Scripted(), clock = Clock()
        let client = OAuth2TokenClient(tokenURL: "https://p/token", clientID: "id:1", secret: "s&cret", scope: "a b",
                                       transport: transport, clock: { clock.now })
        XCTAssertEqual(try client.currentToken(), "token-1")
        clock.now += 60
        XCTAssertEqual(try client.currentToken(), "token-1", "60 s into a 100 s token: cached")
        clock.now += 15
        XCTAssertEqual(try client.currentToken(), "token-2", "under 30 s left: a new one")
        client.invalidate()
        XCTAssertEqual(try client.currentToken(), "token-3")
        let request = try XCTUnwrap(transport.sent.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(String(decoding: request.body ?? Data(), as: UTF8.self), "grant_type=client_credentials&scope=a%20b")
        let basic = try XCTUnwrap(request.headers.first { $0.0 == "Authorization" }?.1)
        XCTAssertEqual(basic, "Basic " + Data("id%3A1:s%26cret".utf8).base64EncodedString(), "RFC 6749 §2.3.1: form-encoded, then Basic")
        XCTAssertFalse(client.description.contains("s&cret"))
    }
}
