import ArgumentParser
import Foundation
import Notifications
import RosterFlowCore
import StorageCore
import StorageSQLite

#if canImport(Glibc)
import Glibc
#endif

extension RosterFlowBench {
    /// `rosterflow-bench notify`: the outbox dispatcher against local peers, compared with a plain Python loop.
    struct NotifyBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "notify",
            abstract: "Send N e-mails to a local aiosmtpd and N signed webhooks to a local receiver, through the outbox and through a plain Python loop.",
            discussion: """
                Needs the test venv (scripts/install-test-peers). The RosterFlow figures include the whole outbox \
                path: fan-out, claims, rendering, sending and recording each outcome in SQLite. The Python loop sends \
                the same number of messages with smtplib on one connection and urllib one request at a time.
                """)

        @Option(help: "Messages per channel.") var messages = 10_000
        @Option(help: "SMTP sending threads, each with its own reused connection.") var concurrency = 8
        @Option(help: "Webhook requests in flight at once to the receiver, each on a reused connection.") var webhookConcurrency = 16
        @Option(help: "Deliveries claimed per dispatcher pass.") var batch = 2_048
        @Option(help: "Python with aiosmtpd and standardwebhooks.") var python = ".venv-test/bin/python3"
        @Option(help: "Folder of the peer scripts (smtp_peer.py, webhook_peer.py, python_loop.py, verify_sample.py).") var peers = "scripts/peers"
        @Option(help: "E-mail templates.") var templates = "Templates"
        @Option(help: "Webhook receiver: `rosterflow` (this binary's `receiver`, verifies every signature) or `python` (webhook_peer.py --trust).")
        var receiver = "rosterflow"
        @Option(help: "Received webhooks kept as a sample and verified again with Python's standardwebhooks.") var sample = 200
        @Flag(help: "Skip the e-mail half.") var skipEmail = false
        @Flag(help: .hidden) var skipPython = false
        @Flag(help: .hidden) var outboxOnly = false
        @Flag(help: .hidden) var skipFloor = false
        @Flag(help: .hidden) var floorOnly = false
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Report: Encodable {
            var messages: Int
            var concurrency: Int
            var webhookConcurrency: Int
            var emailPerSecond: Double?
            var pythonEmailPerSecond: Double?
            var emailRatio: Double?
            var webhookReceiver: String
            var webhooksPerSecond: Double
            var pythonWebhooksPerSecond: Double
            var webhookRatio: Double
            /// The same number of pre-signed requests through the same transport, without the outbox.
            var webhookTransportFloorPerSecond: Double
            /// CPU microseconds per webhook: RosterFlow's whole process through the outbox, the receiver meanwhile, and
            /// RosterFlow's process for the transport alone. On a machine with few cores they share, these bound the rate.
            var webhookCPUMicroseconds: Double
            var receiverCPUMicroseconds: Double
            var webhookTransportCPUMicroseconds: Double
            /// Requests the receiver counted, and how many of them verified, in the RosterFlow run.
            var receiverCounted: Int?
            var receiverVerified: Int?
            var sampledSignatures: Int?
            var sampledVerifiedIndependently: Int?
        }

        func run() async throws {
            try await Output.run(json: json) {
                guard FileManager.default.isExecutableFile(atPath: python) else {
                    throw RosterFlowError(.invalidInput, "\(python) is missing: run scripts/install-test-peers first")
                }
                guard ["rosterflow", "python"].contains(receiver) else {
                    throw RosterFlowError(.invalidInput, "--receiver is rosterflow or python, not '\(receiver)'")
                }
                let workspace = try BenchFolder(dir: nil, name: "notify")
                defer { workspace.remove() }
                let folder = workspace.path
                let secret = "whsec_" + Data("rosterflow-bench-secret-0123456789".utf8).base64EncodedString()
                let catalog = try TemplateCatalog(folder: templates)

                var email: Double?
                var pythonEmail: Double?
                if !skipEmail {
                    let smtp = try BenchPeer(python: python, arguments: [peers + "/smtp_peer.py", "--quiet"])
                    defer { smtp.stop() }
                    var mailConfig = NotificationConfig()
                    mailConfig.from = "RosterFlow <notify@rosterflow.test>"
                    mailConfig.smtp = SMTPSettings(url: "smtp://127.0.0.1:\(smtp.port)")
                    mailConfig.recipients = ["vendor_admins": ["ana@vendor.test"]]
                    mailConfig.concurrency = concurrency
                    let mail = try Self.outboxRun(folder: folder + "/mail", config: mailConfig, catalog: catalog, messages: messages, batch: batch)
                    let rate = mail.rate
                    log("rosterflow e-mail: \(Int(rate)) messages/s, \(Int(mail.cpu)) µs CPU each")
                    let pythonRate = try Self.python(python, peers + "/python_loop.py", ["smtp", "--port", "\(smtp.port)", "--count", "\(messages)"])
                    log("python smtplib loop: \(Int(pythonRate)) messages/s")
                    (email, pythonEmail) = (rate, pythonRate)
                }

                let samplePath = folder + "/webhook-sample.jsonl"
                // Each run (transport alone, outbox, Python loop) gets a receiver of its own, started for it and
                // stopped after it: no run inherits the connections, ids or memory another one left in the receiver.
                func startReceiver(sampling: Bool) throws -> BenchPeer {
                    if receiver == "python" {
                        return try BenchPeer(python: python, arguments: [peers + "/webhook_peer.py", "--quiet", "--trust", "--secret", secret])
                    }
                    var arguments = ["receiver", "--port", "0", "--secret", secret]
                    if sampling {
                        arguments += ["--sample", "\(sample)", "--sample-every", "\(max(1, messages / max(1, sample)))", "--sample-out", samplePath]
                    }
                    return try BenchPeer(executable: Self.executablePath, arguments: arguments)
                }
                /// The receiver's counts once a run is over; every request it received must have verified.
                func checkedStats(_ peer: BenchPeer, expecting: Int, run: String) throws -> ReceiverStats? {
                    guard receiver == "rosterflow" else { return nil }
                    let stats = try ReceiverStats.fetch(port: peer.port)
                    guard stats.verified == stats.received, stats.verified >= expecting else {
                        throw RosterFlowError(
                            .storage, "\(run): the receiver verified \(stats.verified) of \(stats.received) requests (expected \(expecting))")
                    }
                    return stats
                }

                var hookConfig = NotificationConfig()
                hookConfig.emailEnabled = false
                hookConfig.concurrency = webhookConcurrency
                if outboxOnly {
                    // The database path alone: every webhook is taken as delivered without being sent.
                    hookConfig.webhooks = [WebhookSubscriber(name: "bench", url: "http://127.0.0.1:9/hooks", secret: Secret(secret))]
                    let alone = try Self.outboxRun(
                        folder: folder + "/outbox-only", config: hookConfig, catalog: catalog, messages: messages, batch: batch,
                        transport: { AcceptingWebhookTransport() })
                    log("outbox alone (webhooks signed, not sent): \(Int(alone.rate)) messages/s, \(Int(alone.cpu)) µs CPU each")
                    return
                }

                var floor = Measured()
                if !skipFloor {
                    let peer = try startReceiver(sampling: false)
                    defer { peer.stop() }
                    floor = try Self.transportFloor(
                        url: "http://127.0.0.1:\(peer.port)/hooks", secret: secret, messages: messages, concurrency: webhookConcurrency,
                        peer: peer.process.processIdentifier)
                    _ = try checkedStats(peer, expecting: messages, run: "transport alone")
                    log("webhook transport alone (pre-signed requests, no outbox): \(Int(floor.rate)) messages/s, "
                        + "\(Int(floor.cpu)) µs CPU each, receiver \(Int(floor.peerCPU)) µs")
                }
                if floorOnly { return }

                let outbox: Measured
                var counted: Int?
                var verified: Int?
                do {
                    let peer = try startReceiver(sampling: true)
                    defer { peer.stop() }
                    hookConfig.webhooks = [WebhookSubscriber(name: "bench", url: "http://127.0.0.1:\(peer.port)/hooks", secret: Secret(secret))]
                    outbox = try Self.outboxRun(
                        folder: folder + "/hooks", config: hookConfig, catalog: catalog, messages: messages, batch: batch,
                        peer: peer.process.processIdentifier)
                    if let stats = try checkedStats(peer, expecting: messages, run: "outbox") {
                        (counted, verified) = (stats.received, stats.verified)
                        log("receiver: \(stats.received) requests, \(stats.verified) signatures verified, \(stats.unique) distinct webhook-ids")
                    }
                }
                let webhooks = outbox.rate
                log("rosterflow webhooks: \(Int(webhooks)) messages/s, \(Int(outbox.cpu)) µs CPU each, receiver \(Int(outbox.peerCPU)) µs")

                var pythonHooks = 0.0
                if !skipPython {
                    let peer = try startReceiver(sampling: false)
                    defer { peer.stop() }
                    pythonHooks = try Self.python(
                        python, peers + "/python_loop.py", ["webhook", "--port", "\(peer.port)", "--count", "\(messages)", "--secret", secret])
                    _ = try checkedStats(peer, expecting: messages, run: "Python loop")
                    log("python urllib loop: \(Int(pythonHooks)) messages/s")
                }

                var sampled: Int?
                var sampledVerified: Int?
                if receiver == "rosterflow" {
                    let (good, all) = try Self.verifySample(python, peers + "/verify_sample.py", samplePath, secret: secret)
                    log("\(good)/\(all) sampled signatures verified independently (Python standardwebhooks)")
                    guard all > 0, good == all else {
                        throw RosterFlowError(.storage, "only \(good) of \(all) sampled signatures verified independently")
                    }
                    (sampled, sampledVerified) = (all, good)
                }

                let report = Report(
                    messages: messages, concurrency: concurrency, webhookConcurrency: webhookConcurrency, emailPerSecond: email, pythonEmailPerSecond: pythonEmail,
                    emailRatio: email.flatMap { e in pythonEmail.map { e / $0 } }, webhookReceiver: receiver,
                    webhooksPerSecond: webhooks, pythonWebhooksPerSecond: pythonHooks, webhookRatio: pythonHooks > 0 ? webhooks / pythonHooks : 0,
                    webhookTransportFloorPerSecond: floor.rate,
                    webhookCPUMicroseconds: outbox.cpu, receiverCPUMicroseconds: outbox.peerCPU, webhookTransportCPUMicroseconds: floor.cpu,
                    receiverCounted: counted, receiverVerified: verified,
                    sampledSignatures: sampled, sampledVerifiedIndependently: sampledVerified)
                try Output.emit(report, json: json) { r in
                    var lines = [
                        "| channel | rosterflow outbox (msg/s) | python loop (msg/s) | ratio |",
                        "|---|---:|---:|---:|",
                    ]
                    if let e = r.emailPerSecond, let p = r.pythonEmailPerSecond, let ratio = r.emailRatio {
                        lines.append("| e-mail (SMTP, \(r.concurrency) connections vs 1) | \(Int(e)) | \(Int(p)) | \(String(format: "%.2f", ratio)) × |")
                    }
                    lines.append("| webhooks (HTTP, \(r.webhookConcurrency) connections vs 1, \(r.webhookReceiver) receiver) | \(Int(r.webhooksPerSecond)) | \(Int(r.pythonWebhooksPerSecond)) | \(String(format: "%.2f", r.webhookRatio)) × |")
                    lines.append("")
                    lines.append("webhook transport alone (pre-signed, no outbox): \(Int(r.webhookTransportFloorPerSecond)) msg/s")
                    lines.append("CPU per webhook: \(Int(r.webhookCPUMicroseconds)) µs in RosterFlow through the outbox "
                        + "(\(Int(r.webhookTransportCPUMicroseconds)) µs for the transport alone), \(Int(r.receiverCPUMicroseconds)) µs in the receiver; "
                        + "\(ProcessInfo.processInfo.activeProcessorCount) CPUs")
                    if let s = r.sampledSignatures, let v = r.sampledVerifiedIndependently {
                        lines.append("\(v)/\(s) sampled signatures verified independently")
                    }
                    return lines.joined(separator: "\n")
                }
            }
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data((text + "\n").utf8)) }
        }

        /// Writes `messages` outbox rows, then times the dispatcher until every delivery is sent.
        static func outboxRun(
            folder: String, config: NotificationConfig, catalog: TemplateCatalog, messages: Int, batch: Int,
            transport: (@Sendable () throws -> any WebhookTransport)? = nil, peer: Int32? = nil
        ) throws -> Measured {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let store = try SQLiteStore(path: folder + "/bench.sqlite", durability: .normal)
            let now = Date().timeIntervalSince1970
            try store.writeNow { tx in
                for index in 0..<messages {
                    let payload = #"{"contact_email":"it@d\#(index).example","district":"District \#(index)","integration_id":"int_\#(index)","tenant_id":"t\#(index)"}"#
                    try tx.insertOutbox(OutboxRecord(
                        id: String(format: "msg_bench%07d", index), instanceID: "int_\(index)", transitionSeq: nil, channel: .email,
                        recipient: "vendor_admins", template: "integration-requested", payload: payload, nextAttemptAt: now,
                        createdAt: now))
                }
            }
            let dispatcher = OutboxDispatcher(
                store: store, config: config, templates: catalog, workerID: "bench", spoolFolder: folder + "/spool",
                webhookTransport: transport)
            let started = Date()
            let cpu = CPUUse.sample(peer: peer)
            let report = try dispatcher.drain(limit: batch, maxPasses: Int.max)
            let elapsed = Date().timeIntervalSince(started)
            let used = CPUUse.sample(peer: peer).perMessage(since: cpu, messages: messages)
            guard report.sent == messages else {
                throw RosterFlowError(.storage, "the bench sent \(report.sent) of \(messages) messages; is the peer running?")
            }
            return Measured(rate: Double(messages) / elapsed, cpu: used.own, peerCPU: used.peer)
        }

        /// The sending floor: `messages` signed requests, made beforehand, through the dispatcher's transport with the
        /// same concurrency, and no outbox.
        static func transportFloor(url: String, secret: String, messages: Int, concurrency: Int, peer: Int32? = nil) throws -> Measured {
            let signer = try WebhookSigner(secret: Secret(secret)).session()
            let timestamp = Int(Date().timeIntervalSince1970)
            let requests = (0..<messages).map { index in
                let id = "floor\(index)"
                let body = Data(#"{"data":{"id":"\#(id)","values":{"district":"District \#(index)"}},"type":"rosterflow.notification.integration-requested"}"#.utf8)
                return WebhookRequest(url: url, headers: signer.headers(id: id, timestamp: timestamp, body: body), body: body, timeoutSeconds: 10)
            }
            let transport = try CurlWebhookTransport(maxConnectionsPerHost: concurrency)
            let started = Date()
            let cpu = CPUUse.sample(peer: peer)
            var delivered = 0
            for start in stride(from: 0, to: messages, by: 1_024) {
                let outcomes = transport.post(Array(requests[start..<min(messages, start + 1_024)]), concurrencyPerHost: concurrency)
                delivered += outcomes.filter { if case .delivered = $0 { true } else { false } }.count
            }
            let rate = Double(messages) / Date().timeIntervalSince(started)
            let used = CPUUse.sample(peer: peer).perMessage(since: cpu, messages: messages)
            guard delivered == messages else {
                throw RosterFlowError(.storage, "the transport floor delivered \(delivered) of \(messages) requests")
            }
            return Measured(rate: rate, cpu: used.own, peerCPU: used.peer)
        }

        /// Runs verify_sample.py: (verified, sampled).
        static func verifySample(_ python: String, _ script: String, _ sample: String, secret: String) throws -> (Int, Int) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script, sample, "--secret", secret]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VERIFIED ") }) else {
                throw RosterFlowError(.storage, "verify_sample.py failed: \(text)")
            }
            let numbers = line.split(separator: " ").dropFirst().compactMap { Int($0) }
            guard numbers.count == 2 else { throw RosterFlowError(.storage, "verify_sample.py said: \(line)") }
            return (numbers[0], numbers[1])
        }

        /// This executable (the receiver runs as `rosterflow-bench receiver`).
        static var executablePath: String {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        }

        static func python(_ python: String, _ script: String, _ arguments: [String]) throws -> Double {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [script] + arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RATE ") }), let rate = Double(line.dropFirst(5)) else {
                throw RosterFlowError(.storage, "the Python loop failed: \(text)")
            }
            return rate
        }
    }
}

/// Takes every webhook as delivered without sending it (`bench notify --outbox-only`).
final class AcceptingWebhookTransport: WebhookTransport {
    func post(url: String, headers: [(String, String)], body: Data, timeoutSeconds: Double) -> DeliveryOutcome {
        .delivered("HTTP 200")
    }
}

/// A peer process for the bench, on a loopback port it reports as `READY <port>`.
final class BenchPeer {
    let process = Process()
    let port: Int

    convenience init(python: String, arguments: [String]) throws {
        try self.init(executable: python, arguments: arguments)
    }

    /// Starts `executable` and waits (up to 30 s) for its `READY <port>` line; `hint` is added to the error when it
    /// does not come.
    init(executable: String, arguments: [String], hint: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var buffer = Data()
        let deadline = Date().addingTimeInterval(30)
        while !buffer.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty || Date() > deadline { break }
            buffer.append(chunk)
        }
        let line = String(decoding: buffer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("READY "), let port = Int(line.dropFirst(6)) else {
            process.terminate()
            throw RosterFlowError(
                .storage, "\(arguments.first { $0.hasSuffix(".py") } ?? arguments.first ?? executable) did not start: '\(line)'"
                    + (hint.map { "; \($0)" } ?? ""))
        }
        self.port = port
    }

    func stop() {
        if process.isRunning {
            // SIGKILL: a child of Foundation's Process may start with SIGTERM blocked.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// The counts `rosterflow-bench receiver` answers at `GET /_stats`.
struct ReceiverStats: Decodable {
    var received: Int
    var verified: Int
    var rejected: Int
    var unique: Int
    var sampled: Int

    /// One GET over a fresh loopback connection.
    static func fetch(port: Int) throws -> ReceiverStats {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RosterFlowError(.storage, "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw RosterFlowError(.storage, "cannot reach the receiver on port \(port)") }
        let request = Array("GET /_stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4_096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response.append(contentsOf: chunk[0..<count])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let body = text.range(of: "\r\n\r\n").map({ text[$0.upperBound...] }) else {
            throw RosterFlowError(.storage, "the receiver's stats are unreadable: \(text)")
        }
        return try JSONDecoder().decode(ReceiverStats.self, from: Data(body.utf8))
    }
}

/// A timed run: messages per second, and the CPU each message cost this process and the peer, in microseconds.
struct Measured {
    var rate: Double = 0
    var cpu: Double = 0
    var peerCPU: Double = 0
}

/// CPU time used by this process (getrusage) and by a peer process (/proc/<pid>/stat, in clock ticks), so a run
/// can say what each message cost in CPU on both ends of the loopback, not only how long it took.
struct CPUUse {
    var own: Double
    var peer: Double

    static func sample(peer: Int32?) -> CPUUse {
        CPUUse(own: RosterFlowBench.EngineBench.cpuSeconds(), peer: peer.map(peerSeconds) ?? 0)
    }

    /// utime + stime of a process, in seconds.
    static func peerSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Microseconds of CPU per message since `before`: (this process, the peer).
    func perMessage(since before: CPUUse, messages: Int) -> (own: Double, peer: Double) {
        ((own - before.own) * 1e6 / Double(max(1, messages)), (peer - before.peer) * 1e6 / Double(max(1, messages)))
    }
}
