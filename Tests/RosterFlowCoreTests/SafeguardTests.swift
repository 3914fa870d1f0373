import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// The safeguards no other test reaches: the update-share hold, the empty or cut-off file hold, merges matched by
/// e-mail and by identifier, and exclusive syncs within one process.
extension SyncTests {
    func testAnExportThatChangesMostUsersIsHeldUnlessThePolicyAllowsIt() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let changed = try copy(b, to: "changed")
        // Every user's e-mail changes (a wrong school year or system would look like this).
        var users = try lines(changed, "users.csv")
        for index in 1..<users.count {
            var fields = self.fields(users[index])
            fields[10] = "changed-" + fields[10]
            users[index] = fields.joined(separator: ",")
        }
        try write(changed, "users.csv", users)

        let held = try await sync(changed)
        XCTAssertEqual(held.decision, "held")
        XCTAssertEqual(held.counts["users"]?.updates, 200)
        XCTAssertEqual(held.reasons, [
            "users.csv would change 200 of 200 users (100%, more than the 75% allowed); "
                + "check that the export is from the right school year and system",
        ])
        _ = try await service.rejectSync(runID: held.id, actor: "vendor")

        let allowed = try await service.runSync(
            integrationID: integrationID, bundlePath: changed, policy: SyncPolicy(maxUpdateShare: 1), actor: "test")
        XCTAssertEqual(allowed.decision, "applied")
        XCTAssertEqual(allowed.counts["users"]?.updates, 200)
    }

    func testAnEmptyOrCutOffBulkFileIsHeldWhateverThePercentages() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let permissive = SyncPolicy(implicitDeletes: ["users", "enrollments"], maxDeleteShare: 1, maxUpdateShare: 1)
        for (name, content) in [("header-only", "HEADER"), ("zero-bytes", "")] {
            let cut = try copy(b, to: name)
            let header = try lines(cut, "users.csv")[0]
            try (content == "HEADER" ? header + "\n" : "").write(toFile: cut + "/users.csv", atomically: true, encoding: .utf8)
            let run = try await service.runSync(integrationID: integrationID, bundlePath: cut, policy: permissive, actor: "test")
            XCTAssertEqual(run.decision, "held", name)
            XCTAssertTrue(run.reasons.contains("users.csv is empty or cut off, while 200 users are held"), "\(name): \(run.reasons)")
            XCTAssertEqual(try held(.users), 200, "\(name): nobody was deleted")
            _ = try await service.rejectSync(runID: run.id, actor: "vendor")
        }
    }

    func testARekeyedUserIsMatchedByEmailOrByIdentifierWhenTheUsernameChangedToo() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        for (name, changedColumns, matchedOn) in [("by-email", [4], "e-mail"), ("by-identifier", [4, 10], "identifier")] {
            let (renamed, oldID, _) = try rekeyed(b, to: name, rekeyEnrollments: false, newID: "stu-\(name)")
            var users = try lines(renamed, "users.csv")
            let index = try XCTUnwrap(users.firstIndex { $0.hasPrefix("stu-\(name),") })
            var fields = self.fields(users[index])
            for column in changedColumns { fields[column] = "new-" + fields[column] }
            users[index] = fields.joined(separator: ",")
            try write(renamed, "users.csv", users)

            let run = try await sync(renamed)
            XCTAssertEqual(run.decision, "held", name)
            XCTAssertEqual(run.merges.filter { $0.entity == "users" }.map { [$0.oldID, $0.newID, $0.matchedOn] },
                           [[oldID, "stu-\(name)", matchedOn]], name)
            _ = try await service.rejectSync(runID: run.id, actor: "vendor")
        }
    }

    func testTwoSyncsOfOneIntegrationInOneProcessDoNotBothApply() async throws {
        let b = try bundle("b1")
        let other = try bundle("b2", seed: 8)
        let service: RosterFlowService = self.service, id: String = integrationID
        async let first = Result(catching: { try await service.runSync(integrationID: id, bundlePath: b, actor: "a") })
        async let second = Result(catching: { try await service.runSync(integrationID: id, bundlePath: other, actor: "b") })
        let outcomes = await [first, second]
        let applied = outcomes.compactMap { try? $0.get() }
        let refused = outcomes.compactMap { result -> RosterFlowError? in
            if case let .failure(error) = result { return error as? RosterFlowError }
            return nil
        }
        // Either one ran while the other was refused as busy, or they ran one after the other.
        if refused.isEmpty {
            XCTAssertEqual(applied.count, 2)
        } else {
            XCTAssertEqual(refused.map(\.code), [.busy])
            XCTAssertTrue(refused[0].message.contains("is already being synced"), refused[0].message)
            XCTAssertEqual(applied.count, 1)
        }
        XCTAssertNil(try service.store.readNow { try $0.syncLock(integrationID: integrationID) }, "the lock is released")
        // The roster is one export's, whole.
        let runs = try service.syncRuns(integrationID: integrationID)
        XCTAssertEqual(runs.first?.decision, runs.count == 1 ? "applied" : runs.first?.decision)
        XCTAssertEqual(try held(.enrollments), 800)
    }
}

extension SyncTests {
    /// A sync and an approval let the integration's lock go in the transaction that records them: two commits each
    /// (take the lock; the run and the release), not a third for the release after the run's (long) commit.
    func testASyncAndAnApprovalLetTheLockGoWithTheirOwnCommit() async throws {
        let store = service.store
        // Commits are counted by the SQLite store (PostgreSQL runs the rest of the test).
        func commits() -> Int { (store as? SQLiteStore)?.groupCommitStatistics.transactions ?? 0 }
        let counted = store is SQLiteStore ? 2 : 0
        let b = try bundle("b1")
        var before = commits()
        let first = try await service.runSync(integrationID: integrationID, bundlePath: b, actor: "test")
        XCTAssertEqual(first.decision, "applied")
        XCTAssertEqual(commits() - before, counted, "the lock taken, then the run with the release")
        XCTAssertNil(try store.readNow { try $0.syncLock(integrationID: integrationID) }, "the lock is released")

        let cut = try copy(b, to: "cut")
        try write(cut, "users.csv", [try lines(cut, "users.csv")[0]])
        let run = try await service.runSync(integrationID: integrationID, bundlePath: cut, actor: "test")
        XCTAssertEqual(run.decision, "held")
        XCTAssertNil(try store.readNow { try $0.syncLock(integrationID: integrationID) }, "a held run lets the lock go too")
        before = commits()
        let approved = try await service.approveSync(runID: run.id, actor: "vendor")
        XCTAssertEqual(approved.decision, "approved")
        XCTAssertEqual(commits() - before, counted, "the lock taken, then the approval with the release")
        XCTAssertNil(try store.readNow { try $0.syncLock(integrationID: integrationID) }, "the approval let the lock go")
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
