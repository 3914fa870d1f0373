import RosterFlowApp
import Foundation
@testable import Notifications
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

final class DispatcherTests: XCTestCase {
    func testNothingIsSentBeforeTheWorkerAndSpoolGetsOneEmlPerMessage() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        let id = try await Fixture.requestObrien(service)
        let messages = try service.store.readNow { try $0.outbox(instanceID: id) }
        XCTAssertEqual(messages.map(\.status), [.pending])
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/spool"))

        let dispatcher = try Fixture.dispatcher(service, config: Fixture.config(), folder: folder)
        let report = try dispatcher.drain()
        XCTAssertEqual(report.sent, 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/spool")
        XCTAssertEqual(files.count, 1)
        let eml = try String(contentsOfFile: folder + "/spool/" + files[0], encoding: .utf8)
        XCTAssertTrue(eml.contains("Message-ID: <\(messages[0].id)@rosterflow.test>"), eml)
        XCTAssertTrue(eml.contains("To: ana@vendor.test, bo@vendor.test"))
        XCTAssertTrue(eml.contains("Content-Type: multipart/alternative"))
        let stored = try service.store.readNow { try $0.outboxMessage(id: messages[0].id) }
        XCTAssertEqual(stored?.status, .sent)
        // A second pass finds nothing.
        XCTAssertEqual(try dispatcher.runOnce().claimed, 0)
    }

    func testMissingAddressIsSkippedWithAHintAndRetryResendsOnceConfigured() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        var config = Fixture.config()
        config.recipients = [:]
        _ = try Fixture.dispatcher(service, config: config, folder: folder).drain()
        let message = try XCTUnwrap(try service.store.readNow { try $0.outboxMessages() }.first)
        XCTAssertEqual(message.status, .skipped)
        XCTAssertTrue(message.lastError?.contains("ROSTERFLOW_VENDOR_ADMINS") == true)

        XCTAssertEqual(try service.store.writeNow { try $0.retryOutbox(id: message.id, now: Date().timeIntervalSince1970) }, 1)
        let mail = RecordingMail()
        _ = try Fixture.dispatcher(service, config: Fixture.config(), folder: folder, mail: { mail }).drain()
        XCTAssertEqual(mail.messageIDs, ["\(message.id)@rosterflow.test"])
        XCTAssertEqual(try service.store.readNow { try $0.outboxMessage(id: message.id) }?.status, .sent)
    }

    func testTwoDispatchersOnOneDatabaseNeverSendTheSameMessageTwice() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        try await Fixture.requestIntegrations(service, count: 40)
        // Each dispatcher opens its own store on the same file, as two worker processes would.
        let mail = RecordingMail(delay: 0.005)
        let first = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: nil)
        let second = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: nil)
        let a = try Fixture.dispatcher(first, config: Fixture.config(), folder: folder, worker: "a", mail: { mail })
        let b = try Fixture.dispatcher(second, config: Fixture.config(), folder: folder, worker: "b", mail: { mail })
        let group = DispatchGroup()
        for dispatcher in [a, b] {
            group.enter()
            DispatchQueue.global().async {
                for _ in 0..<20 { _ = try? dispatcher.runOnce(limit: 5) }
                group.leave()
            }
        }
        group.wait()
        let ids = mail.messageIDs
        XCTAssertEqual(ids.count, 40)
        XCTAssertEqual(Set(ids).count, 40, "a message was sent twice")
        XCTAssertEqual(try service.store.readNow { try $0.deliveries(status: .sent) }.count, 40)
    }

    func testTwoPipelinedDrainsNeverSendTheSameMessageTwiceAndRecordEveryOutcome() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        try await Fixture.requestIntegrations(service, count: 60)
        let mail = RecordingMail(delay: 0.002)
        let first = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: nil)
        let second = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: nil)
        let a = try Fixture.dispatcher(first, config: Fixture.config(), folder: folder, worker: "a", mail: { mail })
        let b = try Fixture.dispatcher(second, config: Fixture.config(), folder: folder, worker: "b", mail: { mail })
        async let sentByA = Task.detached { try a.drain(limit: 7).sent }.value
        async let sentByB = Task.detached { try b.drain(limit: 7).sent }.value
        let total = try await sentByA + sentByB
        XCTAssertEqual(total, 60)
        XCTAssertEqual(mail.messageIDs.count, 60)
        XCTAssertEqual(Set(mail.messageIDs).count, 60, "a message was sent twice")
        XCTAssertEqual(try service.store.readNow { try $0.deliveries(status: .sent) }.count, 60)
        XCTAssertEqual(try service.store.readNow { try $0.outboxMessages(status: .sent) }.count, 60)
        XCTAssertTrue(try service.store.readNow { try $0.deliveries(status: nil) }.allSatisfy { $0.claimedBy == nil && $0.attempts == 1 })
    }

    /// One sending thread, 0.3 s a message (of at most 0.4 s: the SMTP timeout, as the transport stands in for the
    /// server), a 1.5 s lease: a delivery may start in the first 0.95 s of its lease, so a batch of more than four is
    /// partly given back.
    static func slowSends() -> (NotificationConfig, RecordingMail) {
        var config = Fixture.config()
        config.smtp = SMTPSettings(url: "smtp://127.0.0.1:9")
        config.smtp?.timeoutSeconds = 0.4
        config.concurrency = 1
        config.leaseSeconds = 1.5
        return (config, RecordingMail(delay: 0.3))
    }

    func testDeliveriesWhoseLeaseWouldRunOutBeforeTheirTurnAreGivenBackNotSentTwice() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        try await Fixture.requestIntegrations(service, count: 12)
        // A worker that claims all twelve can start three or four before the rest's lease would run out, while another
        // worker waits to take over whatever is not recorded.
        let (config, mail) = Self.slowSends()
        let first = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: nil)
        let second = try RosterFlowService(databasePath: folder + "/rf.sqlite", workflowsPath: nil)
        let a = try Fixture.dispatcher(first, config: config, folder: folder, worker: "a", mail: { mail })
        let b = try Fixture.dispatcher(second, config: config, folder: folder, worker: "b", mail: { mail })
        // "a" claims all twelve; "b" starts 0.1 s later and takes whatever becomes free. Both go on until all are sent.
        let stop = Date().addingTimeInterval(60)
        @Sendable func work(_ dispatcher: OutboxDispatcher, after delay: Double) throws -> DispatchReport {
            Thread.sleep(forTimeInterval: delay)
            var report = DispatchReport()
            while Date() < stop, try dispatcher.store.readNow({ try $0.deliveries(status: .sent) }).count < 12 {
                report.add(try dispatcher.drain(limit: 12))
                Thread.sleep(forTimeInterval: 0.01)
            }
            return report
        }
        async let byA = Task.detached { try work(a, after: 0) }.value
        async let byB = Task.detached { try work(b, after: 0.1) }.value
        let reports = try await [byA, byB]
        XCTAssertEqual(mail.messageIDs.count, 12, "sent: \(mail.messageIDs)")
        XCTAssertEqual(Set(mail.messageIDs).count, 12, "a message was sent twice")
        XCTAssertEqual(reports.map(\.lostLeases).reduce(0, +), 0)
        XCTAssertGreaterThan(reports[0].released, 0, "every message fit in one lease: the test proves nothing")
        let deliveries = try service.store.readNow { try $0.deliveries(status: nil) }
        XCTAssertEqual(deliveries.map(\.status), Array(repeating: .sent, count: 12))
        XCTAssertEqual(deliveries.map(\.attempts), Array(repeating: 1, count: 12), "a delivery given back counted an attempt")
    }

    func testOneDrainSendsWhatItGaveBackToo() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        try await Fixture.requestIntegrations(service, count: 8)
        let (config, mail) = Self.slowSends()
        // What `rosterflow worker --once` does: one drain, which must leave nothing due behind.
        let report = try Fixture.dispatcher(service, config: config, folder: folder, mail: { mail }).drain(limit: 8)
        XCTAssertGreaterThan(report.released, 0, "every message fit in one lease: the test proves nothing")
        XCTAssertEqual(report.sent, 8)
        XCTAssertEqual(mail.messageIDs.count, 8)
        XCTAssertEqual(Set(mail.messageIDs).count, 8, "a message was sent twice")
        XCTAssertEqual(try service.store.readNow { try $0.deliveries(status: .sent) }.count, 8)
    }

    func testALeaseTooShortForOneSendIsRefusedWithWhatToChange() throws {
        var config = Fixture.config()
        config.smtp = SMTPSettings(url: "smtp://127.0.0.1:2525")
        config.leaseSeconds = 30
        XCTAssertThrowsError(try config.validate(source: "rosterflow.json")) { error in
            XCTAssertEqual((error as? NotificationError)?.code, .configuration)
            XCTAssertEqual("\(error)".contains("lease_seconds (30 s) must be longer than smtp.timeout_seconds (60 s) plus 3 s"), true, "\(error)")
        }
        config.smtp?.timeoutSeconds = 20
        XCTAssertNoThrow(try config.validate(source: "rosterflow.json"))
        // Webhooks only: the SMTP timeout does not count when e-mail is off.
        config.emailEnabled = false
        config.smtp?.timeoutSeconds = 60
        config.webhooks = [WebhookSubscriber(name: "crm", url: "http://127.0.0.1:9/hooks", secret: Secret(testSecret))]
        config.webhookTimeoutSeconds = 28
        XCTAssertThrowsError(try config.validate(source: "rosterflow.json")) { error in
            XCTAssertTrue("\(error)".contains("webhook_timeout_seconds (28 s)"), "\(error)")
        }
        config.webhookTimeoutSeconds = 26.5
        XCTAssertNoThrow(try config.validate(source: "rosterflow.json"))
        // The defaults fit.
        var defaults = NotificationConfig()
        defaults.smtp = SMTPSettings(url: "smtp://127.0.0.1:2525")
        XCTAssertNoThrow(try defaults.validate(source: "defaults"))
    }

    func testAnExpiredLeaseIsTakenOverAndResentUnderTheSameID() async throws {
        let folder = try Paths.folder()
        let service = try await Fixture.service(folder: folder)
        _ = try await Fixture.requestObrien(service)
        let now = Date().timeIntervalSince1970
        // Worker "crashed" claims the delivery and never records an outcome.
        _ = try service.store.writeNow { tx in
            try tx.fanOutOutbox(limit: 10, now: now) { [(channel: .email, destination: $0.recipient)] }
        }
        let claimed = try service.store.writeNow { try $0.claimDeliveries(worker: "crashed", now: now, leaseSeconds: 60, limit: 10) }
        XCTAssertEqual(claimed.count, 1)
        let mail = RecordingMail()
        // While the lease holds, nobody else takes it.
        let early = try Fixture.dispatcher(service, config: Fixture.config(), folder: folder, worker: "b", mail: { mail }, clock: { now + 30 })
        XCTAssertEqual(try early.runOnce().claimed, 0)
        // Once it ran out, the delivery is sent again with the message's id.
        let late = try Fixture.dispatcher(service, config: Fixture.config(), folder: folder, worker: "b", mail: { mail }, clock: { now + 61 })
        XCTAssertEqual(try late.runOnce().sent, 1)
        XCTAssertEqual(mail.messageIDs, ["\(claimed[0].message.id)@rosterflow.test"])
        // The crashed worker's late outcome is ignored.
        XCTAssertFalse(try service.store.writeNow {
            try $0.completeDelivery(id: claimed[0].delivery.id, worker: "crashed", status: .failed, error: "late", nextAttemptAt: nil, now: now + 62)
        })
        XCTAssertEqual(try service.store.readNow { try $0.deliveries(outboxID: claimed[0].message.id) }.first?.status, .sent)
    }

    func testRetryPolicyBacksOffExponentiallyWithJitterAndHonoursRetryAfter() {
        let policy = RetryPolicy(baseSeconds: 10, maxSeconds: 100, maxAttempts: 5)
        for attempts in 1...6 {
            let ceiling = min(100, 10 * pow(2, Double(attempts - 1)))
            let delay = policy.delay(afterAttempts: attempts)
            XCTAssertGreaterThanOrEqual(delay, ceiling / 2)
            XCTAssertLessThanOrEqual(delay, ceiling)
        }
        XCTAssertGreaterThanOrEqual(policy.delay(afterAttempts: 1, retryAfter: 50), 50)
        XCTAssertEqual(policy.delay(afterAttempts: 1, retryAfter: 5_000), 100)
    }
}
