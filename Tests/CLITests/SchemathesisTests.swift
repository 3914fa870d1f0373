import Foundation
import XCTest

/// schemathesis (PyPI, pinned in scripts/install-test-peers) generates requests from `/api/v1/openapi.yaml` and sends
/// them to a live `rosterflow serve --demo` with a vendor admin's token: no answer may be a 5xx, and every answer must
/// conform to the document (status code, content type, body schema). Bounded in examples per operation and in time.
extension CLITests {
    func testSchemathesisFindsNoServerErrorAndNoAnswerOutsideTheDocument() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let schemathesis = root + "/.venv-test/bin/schemathesis"
        guard FileManager.default.isExecutableFile(atPath: schemathesis) else {
            return XCTFail("\(schemathesis) is missing: run scripts/install-test-peers")
        }
        let server = try DemoServer.start(in: folder, extra: ["--no-worker"])
        defer { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        let token = try XCTUnwrap(server.tokens["vendor_admin"])
        // Real ids for the routes that take one (a generated id is only ever "not found").
        func firstID(_ path: String) async throws -> String {
            let answer = try await server.get(path, token: token)
            return try XCTUnwrap((answer.json["items"] as? [[String: Any]])?.first?["id"] as? String, "\(path): \(answer.json)")
        }
        let integration = try await firstID("/api/v1/integrations?state=live")
        let course = try await firstID("/api/v1/integrations/\(integration)/courses")
        let message = try await firstID("/api/v1/outbox")
        let config = folder + "/schemathesis.toml"
        try [("integrations", integration), ("courses", course), ("outbox", message)].map { path, id in
            "[[operations]]\ninclude-path-regex = \"^/\(path)/\\\\{id\\\\}\"\nparameters = { \"path.id\" = \"\(id)\" }\n"
        }.joined(separator: "\n").write(toFile: config, atomically: true, encoding: .utf8)

        var environment = ProcessInfo.processInfo.environment
        environment["SCHEMATHESIS_HOOKS"] = nil
        environment["NO_COLOR"] = "1"
        let (status, output) = try await runPeer(schemathesis, [
            "--config-file", config, "run", server.base + "/api/v1/openapi.yaml", "--url", server.base + "/api/v1",
            "--header", "Authorization: Bearer \(token)",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples", "20", "--max-time", "60", "--seed", "1", "--workers", "2", "--phases", "examples,coverage,fuzzing",
            "--request-timeout", "10", "--no-color",
        ], log: "schemathesis.log", environment: environment)
        XCTAssertEqual(status, 0, "schemathesis found problems:\n\(output.suffix(12_000))")
        XCTAssertTrue(output.contains("API Operations:") && output.contains(" passed"), output.suffix(4_000).description)
        XCTAssertFalse(output.contains("Tested: 0"), "schemathesis tested nothing: \(output.suffix(4_000))")
        let stopped = try await server.stop(SIGTERM, within: 15)
        XCTAssertEqual(stopped, 0)
    }
}
