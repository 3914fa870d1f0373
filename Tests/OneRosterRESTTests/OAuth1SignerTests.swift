import Foundation
@testable import OneRosterREST
import XCTest

final class OAuth1SignerTests: XCTestCase {
    func testPercentEncodingIsRFC3986WithUpperCaseHex() {
        XCTAssertEqual(oauthPercentEncode("abcXYZ019-._~"), "abcXYZ019-._~")
        XCTAssertEqual(oauthPercentEncode("a b+c/d'e>f=g&h"), "a%20b%2Bc%2Fd%27e%3Ef%3Dg%26h")
        XCTAssertEqual(oauthPercentEncode("é☃"), "%C3%A9%E2%98%83")
    }

    /// RFC 5849 §3.4.1.1's example: the base string of a request with a query, body parameters and oauth parameters.
    func testTheBaseStringOfRFC5849sExample() {
        let base = OAuth1Signer.baseString(
            method: "post", url: "http://EXAMPLE.COM:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b",
            oauthParameters: [("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"),
                              ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "137131201"),
                              ("oauth_nonce", "7d8f3e4a"), ("c2", ""), ("a3", "2 q")])
        XCTAssertEqual(base, "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7")
    }

    /// A known vector (computed once with oauthlib 3.2.2): a delta filter, a secret with `&` (the key is the encoded
    /// secret and `&`).
    func testAKnownHMACSHA256Vector() {
        let signer = OAuth1Signer(clientID: "client-1", secret: "s3cr&t")
        let url = "https://oneroster.example.com/ims/oneroster/v1p1/users?limit=100&offset=0&filter="
            + oauthPercentEncode("dateLastModified>'2026-11-01T00:00:00Z'")
        let header = signer.authorization(method: "GET", url: url, nonce: "abc123XYZ", timestamp: 1_764_460_800)
        XCTAssertTrue(header.contains("oauth_signature=\"YIB4zYXEYCV243jsOS7UvB3ipF8WZIIDL4MPVT2GPrg%3D\""), header)
        XCTAssertTrue(header.hasPrefix("OAuth oauth_consumer_key=\"client-1\""), header)
        XCTAssertTrue(header.contains("oauth_signature_method=\"HMAC-SHA256\""))
        XCTAssertFalse(header.contains("s3cr"), "the secret is never in the header")
        XCTAssertFalse(signer.description.contains("s3cr"))
    }

    func testEachRequestGetsAFreshNonce() {
        let signer = OAuth1Signer(clientID: "c", secret: "s")
        let nonces = (0..<50).map { _ in
            signer.authorization(method: "GET", url: "http://h/x").split(separator: ",").first { $0.contains("oauth_nonce") }!
        }
        XCTAssertEqual(Set(nonces).count, 50)
    }

    /// Our signatures equal oauthlib's (an independent implementation) for the same requests: filters with quotes,
    /// spaces, `>`, `AND`, non-ASCII, repeated and empty parameters, a port, upper-case host, a secret needing encoding.
    func testSignaturesMatchOauthlib() throws {
        let filters = [
            "dateLastModified>'2026-11-01T00:00:00Z'",
            "status='active' AND familyName~'O'Brien, Jr.'",
            "givenName='José María' OR role>='teacher'",
        ]
        var requests: [(url: String, key: String, secret: String, nonce: String, timestamp: Int)] = []
        for (i, filter) in filters.enumerated() {
            let query = oauthQueryString([("limit", "1000"), ("offset", String(i * 1000)), ("filter", filter)])
            requests.append(("https://Rostering.Example.com:8443/ims/oneroster/v1p1/users?" + query, "client id \(i)",
                             "sec ret&\"é\(i)", "nonce\(i)", 1_764_460_800 + i))
        }
        requests.append(("http://127.0.0.1:9/ims/oneroster/v1p1/enrollments?limit=5&a=&a=2&sort=sourcedId", "k", "s", "n", 1))
        let input = try requests.map { r -> String in
            String(decoding: try JSONSerialization.data(withJSONObject: [
                "method": "GET", "url": r.url, "key": r.key, "secret": r.secret, "nonce": r.nonce, "timestamp": r.timestamp,
            ]), as: UTF8.self)
        }.joined(separator: "\n") + "\n"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Peers.python())
        process.arguments = [Peers.repositoryRoot + "/scripts/peers/oauth1_sign.py"]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(lines.count, requests.count)
        for (request, line) in zip(requests, lines) {
            let theirs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
            let ours = OAuth1Signer(clientID: request.key, secret: request.secret).sign(
                method: "GET", url: request.url,
                oauthParameters: [("oauth_consumer_key", request.key), ("oauth_nonce", request.nonce),
                                  ("oauth_signature_method", "HMAC-SHA256"), ("oauth_timestamp", String(request.timestamp)),
                                  ("oauth_version", "1.0")])
            XCTAssertEqual(ours, theirs["signature"], request.url)
            let header = OAuth1Signer(clientID: request.key, secret: request.secret)
                .authorization(method: "GET", url: request.url, nonce: request.nonce, timestamp: request.timestamp)
            XCTAssertTrue(header.contains("oauth_signature=\"\(oauthPercentEncode(ours))\""))
        }
    }
}
