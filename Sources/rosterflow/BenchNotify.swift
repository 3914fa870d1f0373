import ArgumentParser
import Foundation
import Notifications
import RosterFlowCore
import Storage

#if canImport(Glibc)
import Glibc
#endif

extension RosterFlowCommand {
    /// `rosterflow bench notify`: the outbox dispatcher against local peers, compared with a plain Python loop.
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
        @Option(help: "Sending threads (each with its own reused connection).") var concurrency = 8
        @Option(help: "Python with aiosmtpd and standardwebhooks.") var python = ".venv-test/bin/python3"
        @Option(help: "Folder of the peer scripts (smtp_peer.py, webhook_peer.py, python_loop.py).") var peers = "scripts/peers"
        @Option(help: "E-mail templates.") var templates = "Templates"
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Report: Encodable {
            var messages: Int
            var concurrency: Int
            var emailPerSecond: Double
            var pythonEmailPerSecond: Double
            var emailRatio: Double
            var webhooksPerSecond: Double
            var pythonWebhooksPerSecond: Double
            var webhookRatio: Double
        }

        func run() async throws {
            try await Output.run(json: json) {
                guard FileManager.default.isExecutableFile(atPath: python) else {
                    throw RosterFlowError(.invalidInput, "\(python) is missing: run scripts/install-test-peers first")
                }
                let folder = FileManager.default.currentDirectoryPath + "/.rosterflow-bench-notify-\(getpid())"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: folder) }
                let secret = "whsec_" + Data("rosterflow-bench-secret-0123456789".utf8).base64EncodedString()
                let smtp = try BenchPeer(python: python, script: peers + "/smtp_peer.py", arguments: ["--quiet"])
                defer { smtp.stop() }
                let hooks = try BenchPeer(python: python, script: peers + "/webhook_peer.py", arguments: ["--quiet", "--trust", "--secret", secret])
                defer { hooks.stop() }
                let catalog = try TemplateCatalog(folder: templates)

                var mailConfig = NotificationConfig()
                mailConfig.from = "RosterFlow <notify@rosterflow.test>"
                mailConfig.smtp = SMTPSettings(url: "smtp://127.0.0.1:\(smtp.port)")
                mailConfig.recipients = ["vendor_admins": ["ana@vendor.test"]]
                mailConfig.concurrency = concurrency
                let email = try Self.outboxRun(folder: folder + "/mail", config: mailConfig, catalog: catalog, messages: messages)
                log("rosterflow e-mail: \(Int(email)) messages/s")
                let pythonEmail = try Self.python(python, peers + "/python_loop.py", ["smtp", "--port", "\(smtp.port)", "--count", "\(messages)"])
                log("python smtplib loop: \(Int(pythonEmail)) messages/s")

                var hookConfig = NotificationConfig()
                hookConfig.emailEnabled = false
                hookConfig.webhooks = [WebhookSubscriber(name: "bench", url: "http://127.0.0.1:\(hooks.port)/hooks", secret: Secret(secret))]
                hookConfig.concurrency = concurrency
                let webhooks = try Self.outboxRun(folder: folder + "/hooks", config: hookConfig, catalog: catalog, messages: messages)
                log("rosterflow webhooks: \(Int(webhooks)) messages/s")
                let pythonHooks = try Self.python(
                    python, peers + "/python_loop.py", ["webhook", "--port", "\(hooks.port)", "--count", "\(messages)", "--secret", secret])
                log("python urllib loop: \(Int(pythonHooks)) messages/s")

                let report = Report(
                    messages: messages, concurrency: concurrency, emailPerSecond: email, pythonEmailPerSecond: pythonEmail,
                    emailRatio: email / pythonEmail, webhooksPerSecond: webhooks, pythonWebhooksPerSecond: pythonHooks,
                    webhookRatio: webhooks / pythonHooks)
                try Output.emit(report, json: json) { r in
                    """
                    | channel | rosterflow outbox (msg/s) | python loop (msg/s) | ratio |
                    |---|---:|---:|---:|
                    | e-mail (SMTP, \(r.concurrency) connections vs 1) | \(Int(r.emailPerSecond)) | \(Int(r.pythonEmailPerSecond)) | \(String(format: "%.2f", r.emailRatio)) × |
                    | webhooks (HTTP, \(r.concurrency) connections vs 1) | \(Int(r.webhooksPerSecond)) | \(Int(r.pythonWebhooksPerSecond)) | \(String(format: "%.2f", r.webhookRatio)) × |
                    """
                }
            }
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data((text + "\n").utf8)) }
        }

        /// Writes `messages` outbox rows, then times the dispatcher until every delivery is sent.
        static func outboxRun(folder: String, config: NotificationConfig, catalog: TemplateCatalog, messages: Int) throws -> Double {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let store = try SQLiteStore(path: folder + "/bench.sqlite", durability: .normal)
            let now = Date().timeIntervalSince1970
            try store.writeNow { tx in
                for index in 0..<messages {
                    let payload = #"{"contact_email":"it@d\#(index).example","district":"District \#(index)","integration_id":"int_\#(index)","tenant_id":"t\#(index)"}"#
                    try tx.insertOutbox(OutboxRecord(
                        id: String(format: "msg_bench%07d", index), instanceID: "int_\(index)", transitionSeq: nil, channel: "email",
                        recipient: "vendor_admins", template: "integration-requested", payload: payload, nextAttemptAt: now,
                        createdAt: now))
                }
            }
            let dispatcher = OutboxDispatcher(
                store: store, config: config, templates: catalog, workerID: "bench", spoolFolder: folder + "/spool",
                environment: [:])
            let started = Date()
            var sent = 0
            while sent < messages {
                let report = try dispatcher.runOnce(limit: 512)
                sent += report.sent
                if report.claimed == 0 && report.fannedOut == 0 {
                    throw RosterFlowError(.storage, "the bench stalled after \(sent) of \(messages) messages; is the peer running?")
                }
            }
            return Double(messages) / Date().timeIntervalSince(started)
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

/// A peer process for the bench, on a loopback port it reports as `READY <port>`.
final class BenchPeer {
    let process = Process()
    let port: Int

    init(python: String, script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        var buffer = Data()
        while !buffer.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
        }
        let line = String(decoding: buffer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("READY "), let port = Int(line.dropFirst(6)) else {
            process.terminate()
            throw RosterFlowError(.storage, "\(script) did not start: '\(line)'")
        }
        self.port = port
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
