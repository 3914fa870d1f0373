import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestPeers
import XCTest

/// The child processes of a test: each started with its output in a log file, and all of them killed (SIGKILL, also
/// when stopped) and reaped by ``stopAll()``, which the test's tearDown calls whatever happened.
final class ChildProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var children: [(name: String, process: Process, log: String)] = []

    /// Starts `executable` with `arguments` in `folder`, the environment the test's own with `environment` over it,
    /// standard error (and standard output unless `output` is given) appended to `log`.
    @discardableResult
    func start(
        _ name: String, executable: String, _ arguments: [String], environment: [String: String], in folder: String, log: String,
        output: Pipe? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = handle
        if let output { process.standardOutput = output } else { process.standardOutput = handle }
        try process.run()
        lock.withLock { children.append((name, process, log)) }
        return process
    }

    /// Adds a process started elsewhere (a peer), so that it is stopped with the others.
    func adopt(_ name: String, _ process: Process) {
        lock.withLock { children.append((name, process, "")) }
    }

    /// The last `bytes` of each child's log, for a failure message.
    func logTails(bytes: Int = 1_500) -> String {
        lock.withLock { children }.filter { !$0.log.isEmpty }.map { child in
            let text = (try? String(contentsOfFile: child.log, encoding: .utf8)) ?? ""
            return "--- \(child.name) (\(child.process.isRunning ? "running" : "exited \(child.process.terminationStatus)")):\n"
                + String(text.suffix(bytes))
        }.joined(separator: "\n")
    }

    /// SIGKILLs every child still running (a stopped one too) and waits for each.
    func stopAll() {
        for child in lock.withLock({ children }) where child.process.isRunning {
            kill(child.process.processIdentifier, SIGKILL)
            kill(child.process.processIdentifier, SIGCONT)
        }
        for child in lock.withLock({ children }) { child.process.waitUntilExit() }
    }
}

/// The test venv's Standard Webhooks receiver (`scripts/peers/webhook_peer.py`): checks every request's signature with
/// the `standardwebhooks` package and appends one JSON line per request (`id`, `attempt`, `verified`, `status`,
/// `body`) to its output file.
final class WebhookPeer: JSONLinesPeer {
    init(folder: String, secret: String) throws {
        try super.init(folder: folder, script: "webhook_peer.py", arguments: ["--secret", secret], silent: true)
    }
}

/// One HTTP answer.
struct HTTPAnswer: Sendable {
    var status: Int
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: body) as? [String: Any], "not a JSON object: \(text.prefix(500))")
    }
}

/// A client of several `rosterflow serve` processes on loopback. A request that could not be answered for a passing
/// reason — the connection failed, 503 busy, 409 `idempotency-key-in-flight` — is sent again (with the same
/// `Idempotency-Key` or `webhook-id`, so nothing is applied twice) for up to `patience` seconds.
struct ScaleOutClient: Sendable {
    let servers: [String]
    let session: URLSession
    let patience: Double

    init(servers: [String], patience: Double = 90) {
        self.servers = servers
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 32
        configuration.timeoutIntervalForRequest = 60
        session = URLSession(configuration: configuration)
        self.patience = patience
    }

    /// Sends one request to server `server % servers.count`.
    func send(
        _ method: String, _ path: String, server: Int, token: String? = nil, json: [String: Any]? = nil, body: Data? = nil,
        headers: [String: String] = [:], sign: (() -> [String: String])? = nil
    ) async throws -> HTTPAnswer {
        let base = servers[server % servers.count]
        var payload = body
        if payload == nil, let json { payload = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]) }
        let deadline = Date().addingTimeInterval(patience)
        var lastProblem = ""
        while true {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            if let payload {
                request.httpBody = payload
                request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            }
            for (key, value) in headers { request.setValue(value, forHTTPHeaderField: key) }
            // Signed hooks are signed afresh at each attempt (their timestamp must be recent).
            for (key, value) in sign?() ?? [:] { request.setValue(value, forHTTPHeaderField: key) }
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let answer = HTTPAnswer(status: status, body: data)
                let inFlight = status == 409 && answer.text.contains("idempotency-key-in-flight")
                guard status == 503 || inFlight else { return answer }
                lastProblem = "\(status) \(answer.text.prefix(300))"
            } catch {
                lastProblem = "\(error)"
            }
            guard Date() < deadline else {
                throw ScaleOutFailure("\(method) \(base)\(path) was not answered in \(Int(patience)) s: \(lastProblem)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// A failure of the scale-out test with what it found.
struct ScaleOutFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Standard Webhooks signatures for the test's inbound hooks: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`
/// keyed with the bytes of the sender's `whsec_` secret.
struct HookSigner: Sendable {
    let key: Data

    init(secret: String) throws {
        key = try XCTUnwrap(Data(base64Encoded: String(secret.dropFirst("whsec_".count))), "not a whsec_ secret")
    }

    func headers(id: String, body: Data) -> [String: String] {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        let mac = Data(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key)))
        return ["webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": "v1," + mac.base64EncodedString()]
    }
}

/// Runs `body` for each index in `0..<count` on `lanes` concurrent tasks (index `i` on lane `i % lanes`), and rethrows
/// the first error.
func concurrently(_ count: Int, lanes: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<min(lanes, max(count, 1)) {
            group.addTask {
                for index in stride(from: lane, to: count, by: lanes) { try await body(index) }
            }
        }
        try await group.waitForAll()
    }
}

/// A value handed to another thread that its type does not declare safe to send (a `Process` the test only signals).
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
}

/// A value collected from concurrent tasks.
final class Collected<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&value) } }
    var current: Value { lock.withLock { value } }
}
