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
        for index in 0..<40 {
            _ = try await service.requestIntegration(
                tenantID: "t-\(index)", district: "District \(index)", permission: "full", contactEmail: "c\(index)@d.example",
                sender: .system)
        }
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
        for index in 0..<60 {
            _ = try await service.requestIntegration(
                tenantID: "t-\(index)", district: "District \(index)", permission: "full", contactEmail: "c\(index)@d.example",
                sender: .system)
        }
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
