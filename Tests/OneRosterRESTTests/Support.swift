import Foundation
import TestPeers
import OneRosterREST
import XCTest

/// Paths and peers of the REST tests.
enum Peers {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The test venv's python; fails the test (it does not skip) when `scripts/install-test-peers` has not run.
    static func python(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = repositoryRoot + "/.venv-test/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("\(path) is missing: run scripts/install-test-peers", file: file, line: line)
            throw XCTSkip("unreachable: failed above")
        }
        return path
    }
}

/// `scripts/peers/oneroster_provider.py` on loopback, killed when the test ends.
final class Provider {
    let process = Process()
    let port: Int
    let log: String
    let secret: String
    let clientID: String

    init(_ arguments: [String] = [], secret: String = "s3cr&t \"x\"", clientID: String = "client-1") throws {
        self.secret = secret
        self.clientID = clientID
        log = NSTemporaryDirectory() + "provider-\(UUID().uuidString).jsonl"
        process.executableURL = URL(fileURLWithPath: try Peers.python())
        process.arguments = [Peers.repositoryRoot + "/scripts/peers/oneroster_provider.py", "--out", log,
                             "--secret", secret, "--client-id", clientID] + arguments
        do {
            port = try ReadyPeer.start(process)
        } catch let failed as ReadyPeer.DidNotStart {
            throw OneRosterRESTError(.unreachable, "the provider did not start: '\(failed.line)'")
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: log)
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// The requests the provider answered, one object each (method, path, query, auth, status, page, fault, count).
    func requests() throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The GETs of one collection, in order.
    func gets(_ entity: String) throws -> [[String: Any]] {
        try requests().filter { ($0["method"] as? String) == "GET" && (($0["path"] as? String) ?? "").hasSuffix("/" + entity) }
    }

    /// Changes a record (and bumps its dateLastModified), through the provider's unauthenticated control endpoint.
    func touch(_ entity: String, _ sourcedId: String, field: String, value: String) throws {
        let query = oauthQueryString([("entity", entity), ("sourcedId", sourcedId), ("field", field), ("value", value)])
        let response = try CurlHTTPTransport().send(HTTPRequest(method: "GET", url: url + "/control/touch?" + query))
        XCTAssertEqual(response.status, 200)
    }

    /// A configuration for this provider: OAuth 1.0a for 1.1, OAuth 2 (token at /token) for 1.2.
    func config(version: RESTSourceConfig.Version = .v1_1, pageSize: Int = 20, scope: String? = nil) -> RESTSourceConfig {
        RESTSourceConfig(url: url, version: version, clientID: clientID, secretEnv: "OR_SECRET",
                         tokenURL: version == .v1_2 ? url + "/token" : nil, scope: scope, pageSize: pageSize)
    }

    /// A source for this provider with fast retries.
    func source(_ config: RESTSourceConfig, changedSince: Date? = nil, secret: String? = nil) -> RESTRosterSource {
        RESTRosterSource(config: config, changedSince: changedSince, retry: RetryPolicy(attempts: 4, baseDelay: 0.05, maxDelay: 2),
                         environment: ["OR_SECRET": secret ?? self.secret])
    }
}
