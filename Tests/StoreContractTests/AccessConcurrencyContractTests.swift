import Foundation
import StorageCore
import StoragePostgres
import StorageSQLite
import XCTest

/// The store contract for the access, sign-in, ClassLink, on-demand, next-term and hook operations that decide once
/// under concurrency: several requests at once, through two stores opened on one database (as two `rosterflow serve`
/// processes would), each reading then writing in one `write` as the domain does. Exactly one of them wins; the others
/// see what it committed. Run against every backend in ``StoreConformers/all``.
final class AccessConcurrencyContractTests: StoreContractCase {
    /// A second store on the same database as `store` (another process's view of it).
    private func sibling(of store: any RosterFlowStore) throws -> any RosterFlowStore {
        if let sqlite = store as? SQLiteStore { return try SQLiteStore(path: sqlite.path, durability: sqlite.durability) }
        if let postgres = store as? PostgresStore { return try PostgresStore(configuration: postgres.configuration) }
        throw XCTSkip("no way to open a second \(type(of: store)) on the same database")
    }

    /// How many requests race in each test.
    private static let racers = 6

    /// Runs `body` in `racers` concurrent writes, alternating between `store` and a sibling on its database; the
    /// results in no particular order. A body calls `meet()` between its read and its write: it waits there (up to a
    /// moment) for the other racers to have read too, so that every read-then-write overlaps every other unless the
    /// store makes them wait for each other.
    private func race<T: Sendable>(
        _ store: any RosterFlowStore, _ body: @escaping @Sendable (any StoreTransaction, Int, _ meet: () -> Void) throws -> T
    ) async throws -> [T] {
        let stores = [store, try sibling(of: store)]
        let rendezvous = Rendezvous(Self.racers)
        return try await withThrowingTaskGroup(of: T.self) { group in
            for index in 0..<Self.racers {
                let target = stores[index % 2]
                group.addTask { try await target.write { tx in try body(tx, index, rendezvous.meet) } }
            }
            return try await group.reduce(into: [T]()) { $0.append($1) }
        }
    }

    func testAFreeIdempotencyKeyIsClaimedByOneRequestAndAnAbandonedOneTakenOverByOne() async throws {
        try await forEachStore { store in
            let claims = try await self.race(store) { tx, index, meet in
                meet()
                return try tx.claimIdempotencyKey(
                    IdempotencyRecord(accountID: "acc-1", key: "k-1", fingerprint: "f-\(index)", createdAt: 10), abandonedBefore: 0)
            }
            XCTAssertEqual(claims.filter { $0 == nil }.count, 1, "a free key was claimed by \(claims.filter { $0 == nil }.count) requests")
            let held = try store.writeNow { tx in
                try tx.claimIdempotencyKey(IdempotencyRecord(accountID: "acc-1", key: "k-1", fingerprint: "f-x", createdAt: 11), abandonedBefore: 0)
            }
            XCTAssertNotNil(held, "the claimed key was not kept")
            for claim in claims.compactMap({ $0 }) {
                XCTAssertEqual(claim.fingerprint, held?.fingerprint, "a loser saw another claim than the winner's")
            }

            // The claim is left unanswered past its lease: one of the requests after it takes it over.
            let takeovers = try await self.race(store) { tx, index, meet in
                meet()
                return try tx.claimIdempotencyKey(
                    IdempotencyRecord(accountID: "acc-1", key: "k-1", fingerprint: "g-\(index)", createdAt: 200), abandonedBefore: 100)
            }
            XCTAssertEqual(takeovers.filter { $0 == nil }.count, 1, "an abandoned claim was taken over by \(takeovers.filter { $0 == nil }.count) requests")
            XCTAssertEqual(Set(takeovers.compactMap { $0?.createdAt }), [200], "a loser did not see the takeover")
        }
    }

    func testASignInLinkPresentedTwiceAtOnceStartsOneSession() async throws {
        try await forEachStore { store in
            try store.writeNow { tx in
                try tx.insertAccount(AccountRecord(
                    id: "acc-1", email: "pat@springfield.example", name: "Pat", role: "school_admin", scope: "district",
                    districts: ["t-1"], status: "active", createdAt: 1))
                try tx.insertSignInLink(SignInLinkRecord(tokenHash: "lh-1", accountID: "acc-1", createdAt: 1, expiresAt: 901))
            }
            let used = try await self.race(store) { tx, index, meet in
                guard let link = try tx.signInLink(hash: "lh-1"), link.usedAt == nil else { return false }
                meet()
                try tx.markSignInLinkUsed(hash: "lh-1", at: Double(10 + index))
                return true
            }
            XCTAssertEqual(used.filter { $0 }.count, 1, "one link started \(used.filter { $0 }.count) sessions")
            XCTAssertNotNil(try store.readNow { try $0.signInLink(hash: "lh-1") }?.usedAt)
        }
    }

    func testAStartedClassLinkSignInIsUsedByOneOfItsCallbacksAtOnce() async throws {
        try await forEachStore { store in
            try store.writeNow { tx in
                try tx.insertSignInRequest(SignInRequestRecord(
                    stateHash: "sh-1", integrationID: "int-1", nonce: "n", codeVerifier: "v", createdAt: 1, expiresAt: 601))
            }
            let used = try await self.race(store) { tx, index, meet in
                meet()
                return try tx.useSignInRequest(stateHash: "sh-1", at: Double(5 + index)) }
            XCTAssertEqual(used.filter { $0 }.count, 1, "one started sign-in was used \(used.filter { $0 }.count) times")
        }
    }

    func testSignInAttemptsAtOnceAreCountedAgainstOneLimit() async throws {
        try await forEachStore { store in
            let limit = 3
            let admitted = try await self.race(store) { tx, index, meet in
                // As the domain does: count the attempts in the window, record one only when under the limit.
                guard try tx.signInAttempts(key: "email:a@example.org", since: 0).count < limit else { return false }
                meet()
                try tx.recordSignInAttempt(key: "email:a@example.org", at: Double(10 + index))
                return true
            }
            XCTAssertEqual(admitted.filter { $0 }.count, limit, "the limit of \(limit) admitted \(admitted.filter { $0 }.count) attempts")
            XCTAssertEqual(try store.readNow { try $0.signInAttempts(key: "email:a@example.org", since: 0) }.count, limit)
            XCTAssertEqual(try store.readNow { try $0.signInAttempts(key: "client:127.0.0.1", since: 0) }, [], "keys are counted apart")
        }
    }

    func testAHookDeliveredTwiceAtOnceIsAppliedOnceAndTheRetryRecognisedAsAReplay() async throws {
        try await forEachStore { store in
            let outcomes = try await self.race(store) { tx, index, meet in
                // As the domain does: forget old deliveries, answer a known one as a replay, else apply and record.
                try tx.deleteHookDeliveries(receivedBefore: 0)
                if let known = try tx.hookDelivery(sender: "classlink", webhookID: "msg_1") { return "replay of \(known.fingerprint)" }
                meet()
                try tx.insertHookDelivery(HookDeliveryRecord(
                    sender: "classlink", webhookID: "msg_1", fingerprint: "f", status: 200, body: Data("{}".utf8),
                    receivedAt: Double(10 + index)))
                return "applied"
            }
            XCTAssertEqual(outcomes.filter { $0 == "applied" }.count, 1, "one hook was applied \(outcomes.filter { $0 == "applied" }.count) times")
            XCTAssertEqual(outcomes.filter { $0 == "replay of f" }.count, Self.racers - 1)
            // Another sender's same id is its own delivery; past the retention an id is new again.
            try store.writeNow { tx in
                try tx.insertHookDelivery(HookDeliveryRecord(
                    sender: "platform", webhookID: "msg_1", fingerprint: "p", status: 200, body: Data(), receivedAt: 100))
            }
            XCTAssertEqual(try store.writeNow { try $0.deleteHookDeliveries(receivedBefore: 50) }, 1)
            try store.writeNow { tx in
                try tx.insertHookDelivery(HookDeliveryRecord(
                    sender: "classlink", webhookID: "msg_1", fingerprint: "f2", status: 200, body: Data(), receivedAt: 60))
            }
            XCTAssertEqual(try store.readNow { try $0.hookDelivery(sender: "classlink", webhookID: "msg_1") }?.fingerprint, "f2")
            XCTAssertEqual(try store.readNow { try $0.hookDelivery(sender: "platform", webhookID: "msg_1") }?.fingerprint, "p")
        }
    }

    func testOneEMailAddedTwiceAtOnceInAnyCaseGetsOneAccount() async throws {
        try await forEachStore { store in
            let added = try await self.race(store) { tx, index, meet in
                let email = index % 2 == 0 ? "Pat@Springfield.example" : "pat@SPRINGFIELD.example"
                if try tx.account(email: email) != nil { return false }
                meet()
                try tx.insertAccount(AccountRecord(
                    id: "acc-\(index)", email: email, name: "Pat", role: "school_admin", scope: "district", districts: ["t-1"],
                    status: "active", createdAt: Double(index)))
                return true
            }
            XCTAssertEqual(added.filter { $0 }.count, 1, "one e-mail got \(added.filter { $0 }.count) accounts")
            XCTAssertEqual(try store.readNow { try $0.accounts() }.count, 1)
        }
    }

    func testEMailsAreComparedWithoutCaseOfASCIILettersOnly() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertAccount(AccountRecord(
                    id: "acc-1", email: "Émile@École.example", name: "Émile", role: "school_admin", scope: "district",
                    districts: ["t-1"], status: "active", createdAt: 1))
            }
            XCTAssertEqual(try store.readNow { try $0.account(email: "Émile@École.EXAMPLE") }?.id, "acc-1")
            XCTAssertNil(try store.readNow { try $0.account(email: "émile@école.example") }, "letters beyond ASCII are compared exactly")
            XCTAssertNil(try store.readNow { try $0.account(email: "Émile@École.example ") }, "e-mails are not trimmed")
        }
    }

    func testAPlatformEventClaimedByTwoWorkersAtOnceIsClaimedOnce() async throws {
        try await forEachStore { store in
            let claimed = try await self.race(store) { tx, index, meet in
                meet()
                return try tx.claimPlatformEvent(key: "k", outboxID: "evt_\(index)", at: 8)
            }
            XCTAssertEqual(claimed.filter { $0 }.count, 1, "one event was claimed \(claimed.filter { $0 }.count) times")
        }
    }

    func testAClassImportedByTwoTeachersAtOnceIsImportedOnce() async throws {
        try await forEachStore { store in
            try store.writeNow { tx in try StoreContractTests.seedIntegration(tx) }
            let imported = try await self.race(store) { tx, index, meet in
                if try tx.importedClass(integrationID: "int-1", classSourcedID: "cls-1") != nil { return false }
                meet()
                try tx.insertImportedClass(ImportedClassRecord(
                    integrationID: "int-1", classSourcedID: "cls-1", instanceID: "cls_\(index)", title: "Algebra",
                    importedBy: "tch-\(index)", importedAt: Double(index)))
                return true
            }
            XCTAssertEqual(imported.filter { $0 }.count, 1, "one class was imported \(imported.filter { $0 }.count) times")
            XCTAssertEqual(try store.readNow { try $0.importedClasses(integrationID: "int-1") }.count, 1)
        }
    }

    func testANextTermOfferAnsweredTwiceAtOnceIsAnsweredOnce() async throws {
        try await forEachStore { store in
            try store.writeNow { tx in
                try StoreContractTests.seedIntegration(tx)
                let offer = NextTermOfferRecord(
                    integrationID: "int-1", teacherSourcedID: "t-1", endedTermSourcedID: "fall", endedTerm: "Fall",
                    classes: [], createdAt: 10)
                XCTAssertTrue(try tx.insertNextTermOffer(offer))
            }
            let offered = try await self.race(store) { tx, index, meet in
                var offer = NextTermOfferRecord(
                    integrationID: "int-1", teacherSourcedID: "t-1", endedTermSourcedID: "spring", endedTerm: "Spring",
                    classes: [], createdAt: 20)
                offer.createdAt += Double(index)
                meet()
                return try tx.insertNextTermOffer(offer)
            }
            XCTAssertEqual(offered.filter { $0 }.count, 1, "a teacher was told \(offered.filter { $0 }.count) times of one term")
            let answered = try await self.race(store) { tx, index, meet in
                // As the domain does: answer the newest open offer, if there still is one.
                guard let open = try tx.nextTermOffers(integrationID: "int-1", teacherSourcedID: "t-1").first(where: { $0.status == "open" })
                else { return "none" }
                meet()
                try tx.decideNextTermOffer(integrationID: "int-1", teacherSourcedID: "t-1", endedTermSourcedID: open.endedTermSourcedID,
                                           status: "accepted", actor: "teacher:t-1", at: Double(30 + index))
                return open.endedTermSourcedID
            }
            XCTAssertEqual(answered.filter { $0 == "spring" }.count, 1, "the newest offer was answered \(answered.filter { $0 == "spring" }.count) times")
            XCTAssertEqual(answered.filter { $0 == "fall" }.count, 1, "the older offer was answered \(answered.filter { $0 == "fall" }.count) times")
        }
    }
}


/// Where racing transactions wait for each other between their read and their write: `meet()` returns once `count`
/// callers have arrived, or after 0.15 s (a store that serializes them never lets the others arrive).
private final class Rendezvous: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private var arrived = 0

    init(_ count: Int) { self.count = count }

    func meet() {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date().addingTimeInterval(0.15)
        while arrived < count, condition.wait(until: deadline) {}
    }
}
