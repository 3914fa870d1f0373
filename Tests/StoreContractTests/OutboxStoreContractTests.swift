import Foundation
import StorageCore
import StoragePostgres
import StorageSQLite
import XCTest

/// The store contract for the outbox when several dispatchers share one database: two stores opened on the same
/// database (two processes, as far as the database can tell), each driven from many tasks at once. Every delivery is
/// claimed once, every message fanned out once, a lease that ran out is taken over and the stale holder's outcome is
/// refused. Also the fan-out's claim form, the message summary and the listings' orders. Run against every backend in
/// ``StoreConformers/all``.
final class OutboxStoreContractTests: StoreContractCase {
    // MARK: Helpers

    /// A second store on the database `store` uses (the same SQLite file; the same PostgreSQL URL and schema), as
    /// another process would open it.
    private static func secondStore(on store: any RosterFlowStore) throws -> any RosterFlowStore {
        if let sqlite = store as? SQLiteStore {
            return try SQLiteStore(path: sqlite.path, durability: sqlite.durability)
        }
        if let postgres = store as? PostgresStore {
            return try PostgresStore(configuration: postgres.configuration)
        }
        throw XCTSkip("no way to open a second \(type(of: store)) on the same database")
    }

    private static func message(_ id: String, at: Double = 10, template: String = "integration-requested") -> OutboxRecord {
        OutboxRecord(
            id: id, instanceID: "int-1", transitionSeq: 3, channel: .email, recipient: "vendor_admin", template: template,
            payload: "{\"district\":\"D\"}", nextAttemptAt: at, createdAt: at)
    }

    /// E-mail to the recipient and a webhook to `hooks`: two deliveries per message.
    private static func twoTargets(_ message: OutboxRecord) -> [(channel: OutboxChannel, destination: String)] {
        [(.email, message.recipient), (.webhook, "hooks")]
    }

    private static func seedMessages(_ store: any RosterFlowStore, _ count: Int) throws {
        try store.writeNow { tx in
            for index in 0..<count { try tx.insertOutbox(Self.message(String(format: "msg-%04d", index), at: 10 + Double(index % 7))) }
        }
    }

    // MARK: Two stores, many tasks

    func testEveryDeliveryIsClaimedByExactlyOneWorkerAcrossTwoStores() async throws {
        try await forEachStore { first in
            let second = try Self.secondStore(on: first)
            try Self.seedMessages(first, 60)
            XCTAssertEqual(try first.writeNow { tx in try tx.fanOutOutbox(limit: 100, now: 20, destinations: Self.twoTargets) }, 60)

            // Eight workers, four on each store, claim five at a time until nothing is left for them.
            let claims = try await withThrowingTaskGroup(of: [(worker: String, id: String)].self) { group in
                for index in 0..<8 {
                    let store = index % 2 == 0 ? first : second
                    let worker = "worker-\(index)"
                    group.addTask {
                        var got: [(worker: String, id: String)] = []
                        while true {
                            let batch = try await store.write { tx in
                                try tx.claimDeliveries(worker: worker, now: 30, leaseSeconds: 60, limit: 5)
                            }
                            if batch.isEmpty { return got }
                            XCTAssertTrue(batch.allSatisfy { $0.delivery.claimedBy == worker && $0.delivery.leaseUntil == 90 })
                            got += batch.map { (worker, $0.delivery.id) }
                        }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            XCTAssertEqual(claims.count, 120, "deliveries claimed (a delivery claimed twice counts twice)")
            XCTAssertEqual(Set(claims.map(\.id)).count, 120, "a delivery was claimed by two workers")
            let held = try first.readNow { tx in try tx.deliveries(status: .pending, limit: 1_000) }
            XCTAssertEqual(held.count, 120)
            let holder = Dictionary(claims.map { ($0.id, $0.worker) }, uniquingKeysWith: { first, _ in first })
            for delivery in held {
                XCTAssertEqual(delivery.claimedBy, holder[delivery.id], "\(delivery.id) is held by another worker than claimed it")
            }
            XCTAssertEqual(try second.writeNow { try $0.claimDeliveries(worker: "late", now: 31, leaseSeconds: 60, limit: 500) }.count, 0,
                           "a leased delivery was claimed again")
        }
    }

    func testConcurrentFanOutsFromTwoStoresFanOutEachMessageOnce() async throws {
        try await forEachStore { first in
            let second = try Self.secondStore(on: first)
            try Self.seedMessages(first, 150)
            // Six dispatchers, three on each store, fan out seven at a time; half of them claim what they fan out.
            let passes = try await withThrowingTaskGroup(of: (fanned: [String], claimed: [String]).self) { group in
                for index in 0..<6 {
                    let store = index % 2 == 0 ? first : second
                    let claim = index < 3 ? FanOutClaim(worker: "worker-\(index)", leaseSeconds: 60, limit: 4) : nil
                    group.addTask {
                        var fanned: [String] = []
                        var claimed: [String] = []
                        while true {
                            let pass = try await store.write { tx -> (count: Int, seen: [String], claimed: [String]) in
                                var seen: [String] = []
                                let result = try tx.fanOutOutbox(limit: 7, now: 20, claim: claim) { message in
                                    seen.append(message.id)
                                    return Self.twoTargets(message)
                                }
                                return (result.fannedOut, seen, result.claimed.map(\.delivery.id))
                            }
                            XCTAssertEqual(pass.count, pass.seen.count)
                            if pass.count == 0 { return (fanned, claimed) }
                            fanned += pass.seen
                            claimed += pass.claimed
                        }
                    }
                }
                return try await group.reduce(into: (fanned: [String](), claimed: [String]())) {
                    $0.fanned += $1.fanned
                    $0.claimed += $1.claimed
                }
            }
            XCTAssertEqual(passes.fanned.count, 150, "messages fanned out (one fanned out twice counts twice)")
            XCTAssertEqual(Set(passes.fanned).count, 150, "a message was fanned out by two dispatchers")
            XCTAssertEqual(Set(passes.claimed).count, passes.claimed.count, "a delivery was claimed twice by the fan-out")

            let deliveries = try second.readNow { tx in try tx.deliveries(status: nil, limit: 1_000) }
            XCTAssertEqual(deliveries.count, 300, "each message has exactly one set of deliveries")
            XCTAssertEqual(Set(deliveries.map(\.id)).count, 300)
            XCTAssertEqual(Set(deliveries.filter { $0.claimedBy != nil }.map(\.id)), Set(passes.claimed))
            let statuses = try first.readNow { tx in try tx.outbox(instanceID: "int-1").map(\.status) }
            XCTAssertEqual(statuses.count, 150)
            XCTAssertTrue(statuses.allSatisfy { $0 == .queued })
            // What the fan-outs did not claim is there for the workers, once.
            let rest = try first.writeNow { try $0.claimDeliveries(worker: "w", now: 20, leaseSeconds: 60, limit: 1_000) }
            XCTAssertEqual(rest.count + passes.claimed.count, 300)
        }
    }

    func testAnExpiredLeaseIsTakenOverAndTheStaleWorkersOutcomeIsRefused() throws {
        try forEachStore { first in
            let second = try Self.secondStore(on: first)
            try first.writeNow { tx in
                try tx.insertOutbox(Self.message("msg-1"))
                try tx.insertOutbox(Self.message("msg-2", at: 11))
                try tx.fanOutOutbox(limit: 10, now: 20) { [(.email, $0.recipient)] }
            }
            let stale = try first.writeNow { try $0.claimDeliveries(worker: "a", now: 20, leaseSeconds: 60, limit: 10) }
            XCTAssertEqual(stale.map(\.delivery.id), ["msg-1/email", "msg-2/email"])
            XCTAssertEqual(try second.writeNow { try $0.claimDeliveries(worker: "b", now: 79, leaseSeconds: 60, limit: 10) }.count, 0,
                           "a delivery was taken over before its lease ran out")
            let taken = try second.writeNow { try $0.claimDeliveries(worker: "b", now: 80, leaseSeconds: 60, limit: 10) }
            XCTAssertEqual(taken.map(\.delivery.id), ["msg-1/email", "msg-2/email"], "an expired lease was not taken over")
            XCTAssertEqual(taken.map(\.delivery.claimedBy), ["b", "b"])
            XCTAssertEqual(taken.map(\.delivery.leaseUntil), [140, 140])

            // The stale worker comes back with its outcomes: refused, and nothing of them is kept.
            XCTAssertFalse(try first.writeNow { tx in
                try tx.completeDelivery(id: "msg-1/email", worker: "a", status: .failed, error: "550 stale", nextAttemptAt: nil, now: 81)
            })
            XCTAssertEqual(try first.writeNow { tx in
                try tx.completeDeliveries(
                    [DeliveryOutcomeRecord(id: "msg-2/email", status: .sent, error: nil, nextAttemptAt: nil)], worker: "a", now: 81)
            }, ["msg-2/email"])
            let untouched = try second.readNow { tx in try tx.deliveries(outboxID: "msg-1") }
            XCTAssertEqual(untouched.map(\.status), [.pending])
            XCTAssertEqual(untouched.map(\.attempts), [0])
            XCTAssertEqual(untouched.map(\.claimedBy), ["b"])
            XCTAssertNil(untouched.first?.lastError)

            // The new holder's outcomes count.
            XCTAssertEqual(try second.writeNow { tx in
                try tx.completeDeliveries(
                    [DeliveryOutcomeRecord(id: "msg-1/email", status: .sent, error: nil, nextAttemptAt: nil),
                     DeliveryOutcomeRecord(id: "msg-2/email", status: .failed, error: "550 no such user", nextAttemptAt: nil)],
                    worker: "b", now: 82)
            }, [])
            let one = try XCTUnwrap(try first.readNow { try $0.outboxMessage(id: "msg-1") })
            XCTAssertEqual(one.status, .sent)
            XCTAssertEqual(one.attempts, 1)
            let two = try XCTUnwrap(try first.readNow { try $0.outboxMessage(id: "msg-2") })
            XCTAssertEqual(two.status, .failed)
            XCTAssertEqual(two.lastError, "550 no such user")
            XCTAssertFalse(try first.writeNow { tx in
                try tx.completeDelivery(id: "msg-1/email", worker: "b", status: .sent, error: nil, nextAttemptAt: nil, now: 83)
            }, "a delivery was completed twice")
        }
    }

    func testDeliveriesOfOneMessageCompletedAtOnceFromTwoStoresSummariseTheMessage() async throws {
        try await forEachStore { first in
            let second = try Self.secondStore(on: first)
            try Self.seedMessages(first, 40)
            try first.writeNow { tx in try tx.fanOutOutbox(limit: 100, now: 20, destinations: Self.twoTargets) }
            XCTAssertEqual(try first.writeNow { try $0.claimDeliveries(worker: "a", now: 20, leaseSeconds: 600, limit: 1_000) }.count, 80)
            // Each message's two deliveries are completed at the same moment, one through each store, each in a
            // transaction of its own: every message must end up sent, with both attempts counted (a summary computed
            // without the other completion would leave it queued, or count one attempt).
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    let id = String(format: "msg-%04d", index)
                    for (store, delivery) in [(first, "\(id)/email"), (second, "\(id)/webhook/hooks")] {
                        group.addTask {
                            try await store.write { tx in
                                try tx.completeDelivery(id: delivery, worker: "a", status: .sent, error: nil, nextAttemptAt: nil, now: 30)
                            }
                        }
                    }
                }
                for try await recorded in group { XCTAssertTrue(recorded, "the holder's outcome was refused") }
            }
            let messages = try second.readNow { tx in try tx.outbox(instanceID: "int-1") }
            XCTAssertEqual(messages.count, 40)
            for message in messages {
                XCTAssertEqual(message.status, .sent, "\(message.id) was summarised without one of its deliveries")
                XCTAssertEqual(message.attempts, 2, "\(message.id)")
            }
        }
    }

    // MARK: One store

    func testTheFanOutClaimsWhatIsDueUpToItsLimitAsAClaimWould() throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertOutbox(Self.message("m1", at: 10))
                try tx.insertOutbox(Self.message("m2", at: 11))
                try tx.insertOutbox(Self.message("m3", at: 50))
                try tx.insertOutbox(Self.message("m4", at: 12, template: "nobody"))
                try tx.insertOutbox(Self.message("m5", at: 13, template: "twice"))
            }
            let result = try store.writeNow { tx in
                try tx.fanOutOutbox(limit: 10, now: 20, claim: FanOutClaim(worker: "w", leaseSeconds: 30, limit: 3)) { message in
                    switch message.template {
                    case "nobody": return []
                    case "twice": return [(.email, "first"), (.email, "second"), (.webhook, "h"), (.webhook, "h")]
                    default: return Self.twoTargets(message)
                    }
                }
            }
            XCTAssertEqual(result.fannedOut, 5)
            XCTAssertEqual(result.claimed.map(\.delivery.id), ["m1/email", "m1/webhook/hooks", "m2/email"],
                           "the fan-out claims due deliveries, oldest message first, up to its limit")
            for claimed in result.claimed {
                XCTAssertEqual(claimed.message.status, .queued)
                let stored = try XCTUnwrap(try store.readNow { try $0.deliveries(outboxID: claimed.message.id) }
                    .first { $0.id == claimed.delivery.id })
                XCTAssertEqual(claimed.delivery, stored, "a delivery claimed by the fan-out differs from the one stored")
                XCTAssertEqual(stored.claimedBy, "w")
                XCTAssertEqual(stored.leaseUntil, 50)
                XCTAssertEqual(stored.createdAt, 20)
            }
            XCTAssertEqual(result.claimed.first?.message, try store.readNow { try $0.outboxMessage(id: "m1") })

            let skipped = try XCTUnwrap(try store.readNow { try $0.outboxMessage(id: "m4") })
            XCTAssertEqual(skipped.status, .skipped)
            XCTAssertEqual(skipped.lastError, "no channel delivers this message")
            let twice = try store.readNow { try $0.deliveries(outboxID: "m5") }
            XCTAssertEqual(twice.map(\.id), ["m5/email", "m5/webhook/h"], "a delivery named twice is created once")
            XCTAssertEqual(twice.first?.destination, "first", "the first of two e-mail targets is kept")

            // The rest is claimed by workers as it falls due: m3 (due at 50) waits.
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "x", now: 20, leaseSeconds: 100, limit: 10) }
                .map(\.delivery.id), ["m2/webhook/hooks", "m5/email", "m5/webhook/h"])
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "x", now: 50, leaseSeconds: 30, limit: 10) }
                .map(\.delivery.id), ["m1/email", "m1/webhook/hooks", "m2/email", "m3/email", "m3/webhook/hooks"],
                "at 50 the fan-out's leases have run out too, and m3 is due")
            XCTAssertEqual(try store.writeNow { tx in try tx.fanOutOutbox(limit: 10, now: 60, claim: nil, destinations: Self.twoTargets) }
                .fannedOut, 0, "a message was fanned out twice")
        }
    }

    func testAMessageIsSummarisedFromItsDeliveriesAndCanBeRetried() throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertOutbox(Self.message("m1"))
                try tx.insertOutbox(Self.message("m2", at: 11))
                try tx.fanOutOutbox(limit: 1, now: 20) { _ in [(.email, "ops"), (.webhook, "h2"), (.webhook, "h1")] }
            }
            XCTAssertEqual(try store.readNow { try $0.deliveries(outboxID: "m1") }.map(\.id),
                           ["m1/email", "m1/webhook/h1", "m1/webhook/h2"], "deliveries: e-mail first, then by destination")
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "m2")?.status }, .pending, "the fan-out's limit")
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "w", now: 20, leaseSeconds: 600, limit: 10) }.count, 3)
            func complete(_ id: String, _ status: DeliveryRecord.Status, _ error: String?, next: Double? = nil, at now: Double) throws {
                XCTAssertEqual(try store.writeNow { tx in
                    try tx.completeDeliveries(
                        [DeliveryOutcomeRecord(id: id, status: status, error: error, nextAttemptAt: next)], worker: "w", now: now)
                }, [])
            }
            func summary() throws -> OutboxRecord { try XCTUnwrap(try store.readNow { try $0.outboxMessage(id: "m1") }) }

            try complete("m1/email", .sent, nil, at: 21)
            XCTAssertEqual(try summary().status, .queued, "a message with a pending delivery is queued")
            XCTAssertEqual(try summary().attempts, 1)
            try complete("m1/webhook/h1", .pending, "503 busy", next: 100, at: 22)
            try complete("m1/webhook/h2", .failed, "410 gone", at: 23)
            XCTAssertEqual(try summary().status, .queued)
            XCTAssertEqual(try summary().attempts, 3)
            XCTAssertEqual(try summary().lastError, "410 gone", "the latest attempt's error")

            let again = try store.writeNow { try $0.claimDeliveries(worker: "w", now: 100, leaseSeconds: 600, limit: 10) }
            XCTAssertEqual(again.map(\.delivery.id), ["m1/webhook/h1"])
            XCTAssertEqual(again.first?.delivery.attempts, 1)
            try complete("m1/webhook/h1", .dead, "503 still busy", at: 101)
            XCTAssertEqual(try summary().status, .dead, "dead wins over failed and sent")
            XCTAssertEqual(try summary().attempts, 4)
            XCTAssertEqual(try summary().lastError, "503 still busy")
            XCTAssertEqual(try store.readNow { try $0.outboxMessages(status: .dead, limit: 10) }.map(\.id), ["m1"])

            XCTAssertEqual(try store.writeNow { try $0.retryOutbox(id: "m1", deliveryID: "m1/webhook/h2", now: 200) }, 1)
            let reset = try XCTUnwrap(try store.readNow { try $0.deliveries(outboxID: "m1") }.first { $0.id == "m1/webhook/h2" })
            XCTAssertEqual(reset.status, .pending)
            XCTAssertEqual(reset.attempts, 0)
            XCTAssertEqual(reset.nextAttemptAt, 200)
            XCTAssertEqual(try summary().status, .queued)
            XCTAssertEqual(try summary().attempts, 3, "the retried delivery's attempts start again")
            XCTAssertEqual(try store.writeNow { try $0.retryOutbox(id: "m1", deliveryID: nil, now: 200) }, 1,
                           "only the dead one is left to retry: sent and pending ones are not")
            XCTAssertEqual(try store.writeNow { try $0.retryOutbox(id: "m2", deliveryID: nil, now: 200) }, 0)
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "m2")?.status }, .pending,
                           "a message not yet fanned out is left as it is")
            XCTAssertEqual(try store.writeNow { try $0.retryOutbox(id: "m", deliveryID: nil, now: 200) }, 0,
                           "another message's id prefix retries nothing")
        }
    }

    func testABatchOfOutcomesRecordsEachDeliveryOnceAndReturnsWhatItCouldNot() throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertOutbox(Self.message("m1"))
                try tx.insertOutbox(Self.message("m2", at: 11))
                try tx.fanOutOutbox(limit: 10, now: 20, destinations: Self.twoTargets)
            }
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "w", now: 20, leaseSeconds: 600, limit: 3) }.count, 3)
            let lost = try store.writeNow { tx in
                try tx.completeDeliveries(
                    [DeliveryOutcomeRecord(id: "m1/email", status: .sent, error: nil, nextAttemptAt: nil),
                     DeliveryOutcomeRecord(id: "m1/email", status: .failed, error: "twice", nextAttemptAt: nil),
                     DeliveryOutcomeRecord(id: "m2/webhook/hooks", status: .sent, error: nil, nextAttemptAt: nil),
                     DeliveryOutcomeRecord(id: "m1/webhook/hooks", status: .pending, error: "429", nextAttemptAt: 90),
                     DeliveryOutcomeRecord(id: "m2/email", status: .sent, error: nil, nextAttemptAt: nil)],
                    worker: "w", now: 21)
            }
            XCTAssertEqual(lost, ["m1/email", "m2/webhook/hooks"], "a second outcome, then one for a delivery not held")
            let one = try store.readNow { try $0.deliveries(outboxID: "m1") }
            XCTAssertEqual(one.map(\.status), [.sent, .pending])
            XCTAssertEqual(one.map(\.deliveredAt), [21, nil])
            XCTAssertEqual(one.map(\.nextAttemptAt), [10, 90])
            XCTAssertEqual(one.map(\.claimedBy), [nil, nil])
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "m1")?.status }, .queued)
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "m2")?.attempts }, 1)
            XCTAssertEqual(try store.writeNow { tx in try tx.completeDeliveries([], worker: "w", now: 22) }, [])
        }
    }

    func testListingsKeepTheirOrdersAndLimits() throws {
        try forEachStore { store in
            try store.writeNow { tx in
                // Ties (same time) inserted in id order: SQLite breaks them by insertion, PostgreSQL by id.
                try tx.insertOutbox(Self.message("a", at: 10))
                try tx.insertOutbox(Self.message("b", at: 10))
                try tx.insertOutbox(Self.message("c", at: 12))
                try tx.insertOutbox(Self.message("d", at: 9))
            }
            XCTAssertEqual(try store.readNow { try $0.outboxMessages(status: nil, limit: 3) }.map(\.id), ["c", "b", "a"],
                           "newest first")
            XCTAssertEqual(try store.writeNow { tx in try tx.fanOutOutbox(limit: 2, now: 20, destinations: Self.twoTargets) }, 2)
            XCTAssertEqual(try store.readNow { try $0.outboxMessages(status: .queued, limit: 10) }.map(\.id), ["a", "d"],
                           "the fan-out takes the oldest first")
            XCTAssertEqual(try store.readNow { try $0.outboxMessages(status: .pending, limit: 10) }.map(\.id), ["c", "b"])
            try store.writeNow { tx in try tx.fanOutOutbox(limit: 2, now: 30, destinations: Self.twoTargets) }
            XCTAssertEqual(try store.readNow { try $0.deliveries(status: .pending, limit: 3) }.map(\.id),
                           ["a/email", "a/webhook/hooks", "d/email"], "deliveries oldest first")
            XCTAssertEqual(try store.readNow { try $0.deliveries(status: .sent, limit: 3) }, [])
            XCTAssertEqual(try store.readNow { try $0.deliveries(status: nil, limit: 100) }.count, 8)
            XCTAssertEqual(try store.readNow { try $0.deliveries(outboxID: "zzz") }, [])
            XCTAssertNil(try store.readNow { try $0.outboxMessage(id: "zzz") })
            let message = Self.message("e", at: 40)
            try store.writeNow { tx in try tx.insertOutbox(message) }
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "e") }, message, "a message reads back as written")
            XCTAssertEqual(try store.readNow { try $0.outbox(instanceID: "other") }, [])
        }
    }
}
