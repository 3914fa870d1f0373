import Foundation
import StorageCore
import XCTest

/// The store contract: one test body per behaviour the domain relies on, run against every backend in
/// ``StoreConformers/all``. Nothing here names a backend.
final class StoreContractTests: StoreContractCase {
    // MARK: Seeds

    private static func instance(_ id: String, workflow: String = "integration", state: String = "requested") -> InstanceRecord {
        InstanceRecord(
            id: id, workflow: workflow, version: 1, state: state, subjectTitle: "Subject \(id)", createdAt: 1, enteredAt: 1,
            updatedAt: 1)
    }

    /// A customer, its integration `id` and the integration's workflow instance.
    static func seedIntegration(_ tx: any StoreTransaction, _ id: String = "int-1", tenant: String = "t-1") throws {
        if try tx.customer(tenantID: tenant) == nil {
            try tx.upsertCustomer(CustomerRecord(tenantID: tenant, district: "District \(tenant)", contactEmail: "it@example.org", importedAt: 1))
        }
        try tx.insertInstance(instance(id))
        try tx.insertIntegration(IntegrationRecord(
            id: id, tenantID: tenant, district: "District \(tenant)", permission: "full", contactEmail: "it@example.org",
            createdAt: 1))
    }

    private static func seedCourse(_ tx: any StoreTransaction, _ id: String, integration: String = "int-1", state: String = "shell") throws {
        try tx.insertInstance(instance(id, workflow: "course-mapping", state: state))
        try tx.insertCourse(CourseRecord(id: id, integrationID: integration, sourcedID: "src-\(id)", title: "Course \(id)", createdAt: 1))
    }

    private static func message(_ id: String, instance: String = "int-1", at: Double = 10) -> OutboxRecord {
        OutboxRecord(
            id: id, instanceID: instance, transitionSeq: nil, channel: .email, recipient: "vendor_admin",
            template: "integration-requested", payload: "{\"district\":\"D\"}", nextAttemptAt: at, createdAt: at)
    }

    // MARK: Transactions

    func testAWriteCommitsEverythingOrNothing() async throws {
        try await forEachStore { store in
            struct Refused: Error {}
            do {
                try await store.write { tx in
                    try Self.seedIntegration(tx)
                    throw Refused()
                }
                XCTFail("the write should have thrown")
            } catch is Refused {}
            let seen = try await store.read { tx in (try tx.integration(id: "int-1"), try tx.instance(id: "int-1")) }
            XCTAssertNil(seen.0, "an integration from a failed write was kept")
            XCTAssertNil(seen.1, "an instance from a failed write was kept")

            try await store.write { tx in try Self.seedIntegration(tx) }
            let kept = try await store.read { tx in try tx.integration(id: "int-1")?.district }
            XCTAssertEqual(kept, "District t-1")
        }
    }

    func testConcurrentWritesCommitIndependently() async throws {
        try await forEachStore { store in
            try store.writeNow { tx in try Self.seedIntegration(tx) }
            // Twenty writers at once, every fifth refused: the refused ones leave nothing, the others all commit.
            struct Refused: Error {}
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        do {
                            try await store.write { tx in
                                try tx.insertOutbox(Self.message("msg-\(index)"))
                                if index % 5 == 0 { throw Refused() }
                            }
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            XCTAssertEqual(outcomes.filter { $0 }.count, 16)
            let ids = try store.readNow { tx in Set(try tx.outbox(instanceID: "int-1").map(\.id)) }
            XCTAssertEqual(ids, Set((0..<20).filter { $0 % 5 != 0 }.map { "msg-\($0)" }))
        }
    }

    func testASavepointUndoesOnlyItsOwnWork() async throws {
        try forEachStore { store in
            struct Refused: Error {}
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                XCTAssertThrowsError(try tx.savepoint {
                    try tx.insertOutbox(Self.message("msg-undone"))
                    throw Refused()
                })
                try tx.savepoint { try tx.insertOutbox(Self.message("msg-kept")) }
            }
            let ids = try store.readNow { tx in try tx.outbox(instanceID: "int-1").map(\.id) }
            XCTAssertEqual(ids, ["msg-kept"])
        }
    }

    func testATransactionSeesItsOwnWritesAndReadsSeeOnlyCommittedOnes() async throws {
        try await forEachStore { store in
            try await store.write { tx in
                try Self.seedIntegration(tx)
                XCTAssertEqual(try tx.integration(id: "int-1")?.id, "int-1", "a write did not see its own insert")
            }
            let both = try await store.read { tx in try tx.integrations().map(\.id) }
            XCTAssertEqual(both, ["int-1"])
        }
    }

    // MARK: Workflow instances and history

    func testAStaleWriterIsRefusedAndChangesNothing() async throws {
        try forEachStore { store in
            try store.writeNow { tx in try tx.insertInstance(Self.instance("i-1", state: "a")) }
            let read = try XCTUnwrap(try store.readNow { try $0.instance(id: "i-1") })
            let next = try store.writeNow { tx in
                try tx.updateInstance(id: "i-1", expectedRowVersion: read.rowVersion, state: "b", previousState: "a", enteredAt: 2, now: 2)
            }
            XCTAssertEqual(next, read.rowVersion + 1)
            XCTAssertThrowsError(try store.writeNow { tx in
                try tx.updateInstance(id: "i-1", expectedRowVersion: read.rowVersion, state: "c", previousState: "a", enteredAt: 3, now: 3)
            }) { error in
                XCTAssertEqual((error as? StorageError)?.code, .staleInstance, "\(error)")
            }
            let now = try XCTUnwrap(try store.readNow { try $0.instance(id: "i-1") })
            XCTAssertEqual(now.state, "b")
            XCTAssertEqual(now.previousState, "a")
            XCTAssertEqual(now.rowVersion, next)
        }
    }

    func testMigratingAnInstanceChangesItsVersionOnlyFromTheRowAndVersionItWasReadAt() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertInstance(Self.instance("i-1", state: "a"))
                try tx.insertInstance(Self.instance("i-2", state: "a"))
                try tx.insertInstance(Self.instance("c-1", workflow: "course-mapping", state: "a"))
            }
            let next = try store.writeNow { tx in
                try tx.migrateInstance(id: "i-1", expectedRowVersion: 1, fromVersion: 1, toVersion: 2, state: "b", previousState: nil, now: 5)
            }
            XCTAssertEqual(next, 2)
            let moved = try XCTUnwrap(try store.readNow { try $0.instance(id: "i-1") })
            XCTAssertEqual([moved.version, moved.rowVersion], [2, 2])
            XCTAssertEqual(moved.state, "b")
            XCTAssertEqual(moved.enteredAt, 1, "time in the state keeps counting")
            for (expected, from) in [(1, 1), (2, 1)] {
                // A stale row version, or an instance no longer on the version the plan moves from: refused, unchanged.
                XCTAssertThrowsError(try store.writeNow { tx in
                    try tx.migrateInstance(id: "i-1", expectedRowVersion: expected, fromVersion: from, toVersion: 3, state: "c", previousState: nil, now: 6)
                }) { error in XCTAssertEqual((error as? StorageError)?.code, .staleInstance, "\(error)") }
            }
            XCTAssertEqual(try store.readNow { try $0.instance(id: "i-1") }, moved)
            XCTAssertEqual(try store.readNow { try $0.instanceVersionCounts() }, [
                InstanceVersionCount(workflow: "course-mapping", version: 1, instances: 1),
                InstanceVersionCount(workflow: "integration", version: 1, instances: 1),
                InstanceVersionCount(workflow: "integration", version: 2, instances: 1),
            ])
        }
    }

    func testHistoryIsKeptInOrderAndOnlyAppended() async throws {
        try await forEachStore { store in
            try store.writeNow { tx in
                try tx.insertInstance(Self.instance("i-1", state: "a"))
                try tx.appendTransition(
                    instanceID: "i-1", from: nil, to: "a", event: "create", actor: "system", role: "system", at: 1, reason: nil,
                    rowVersion: 1)
                try tx.appendTransition(
                    instanceID: "i-1", from: "a", to: "b", event: "go", actor: "ann", role: "vendor_admin", at: 2, reason: "checked",
                    rowVersion: 2)
            }
            // A write that appends and then fails leaves the history as it was.
            struct Refused: Error {}
            _ = try? await store.write { tx in
                try tx.appendTransition(
                    instanceID: "i-1", from: "b", to: "c", event: "later", actor: "bob", role: "dsp", at: 3, reason: nil, rowVersion: 3)
                throw Refused()
            }
            let history = try store.readNow { try $0.transitions(instanceID: "i-1") }
            XCTAssertEqual(history.map(\.event), ["create", "go"])
            XCTAssertEqual(history.map(\.to), ["a", "b"])
            XCTAssertEqual(history.last?.actor, "ann")
            XCTAssertEqual(history.last?.reason, "checked")
            XCTAssertEqual(history.map(\.seq), history.map(\.seq).sorted())
            // Appending more later keeps what was there.
            try store.writeNow { tx in
                try tx.appendTransition(
                    instanceID: "i-1", from: "b", to: "c", event: "again", actor: "bob", role: "dsp", at: 4, reason: nil, rowVersion: 3)
            }
            XCTAssertEqual(try store.readNow { try $0.transitions(instanceID: "i-1") }.map(\.event), ["create", "go", "again"])
        }
    }

    func testInstancesAreFoundByWorkflowAndState() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertInstance(Self.instance("i-1", state: "requested"))
                try tx.insertInstance(Self.instance("i-2", state: "scheduled"))
                try tx.insertInstance(Self.instance("c-1", workflow: "course-mapping", state: "shell"))
            }
            XCTAssertEqual(Set(try store.readNow { try $0.instances(workflow: "integration") }.map(\.id)), ["i-1", "i-2"])
            XCTAssertEqual(try store.readNow { try $0.instances(workflow: "integration", states: ["scheduled"]) }.map(\.id), ["i-2"])
            XCTAssertEqual(try store.readNow { try $0.instances(workflow: "course-mapping") }.map(\.id), ["c-1"])
        }
    }

    // MARK: Timers

    func testTimersFireWhenDueAndOnlyOnce() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertInstance(Self.instance("i-1"))
                try tx.insertInstance(Self.instance("i-2"))
                try tx.armTimer(instanceID: "i-1", event: "remind", dueAt: 100, armedAt: 1, inState: "requested")
                try tx.armTimer(instanceID: "i-1", event: "expire", dueAt: 500, armedAt: 1, inState: "requested")
                try tx.armTimer(instanceID: "i-2", event: "remind", dueAt: 50, armedAt: 1, inState: "requested")
            }
            XCTAssertEqual(try store.readNow { try $0.dueTimers(now: 10) }, [])
            let due = try store.readNow { try $0.dueTimers(now: 100) }
            XCTAssertEqual(due.map(\.instanceID), ["i-2", "i-1"], "due timers come earliest first")
            XCTAssertEqual(due.first?.armedInState, "requested")
            let first = try XCTUnwrap(due.first)
            XCTAssertTrue(try store.writeNow { try $0.deleteTimer(id: first.id) })
            XCTAssertFalse(try store.writeNow { try $0.deleteTimer(id: first.id) }, "a timer was taken twice")
            try store.writeNow { try $0.cancelTimers(instanceID: "i-1") }
            XCTAssertEqual(try store.readNow { try $0.dueTimers(now: 1_000) }, [])
            XCTAssertEqual(try store.readNow { try $0.timers(instanceID: "i-1") }, [])
        }
    }

    // MARK: Outbox

    func testOutboxDeliveriesAreLeasedToOneWorkerAndCompletedOnce() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertOutbox(Self.message("msg-1"))
                try tx.insertOutbox(Self.message("msg-2", at: 11))
            }
            let fanned = try store.writeNow { tx in
                try tx.fanOutOutbox(limit: 10, now: 20) { _ in [(channel: .email, destination: "ops@example.org")] }
            }
            XCTAssertEqual(fanned, 2)
            XCTAssertEqual(try store.writeNow { tx in try tx.fanOutOutbox(limit: 10, now: 21) { _ in [(.email, "x")] } }, 0,
                           "a message was fanned out twice")
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "msg-1")?.status }, .queued)

            let a = try store.writeNow { try $0.claimDeliveries(worker: "a", now: 30, leaseSeconds: 60, limit: 10) }
            XCTAssertEqual(a.count, 2)
            XCTAssertEqual(Set(a.map(\.message.id)), ["msg-1", "msg-2"])
            let b = try store.writeNow { try $0.claimDeliveries(worker: "b", now: 31, leaseSeconds: 60, limit: 10) }
            XCTAssertEqual(b.count, 0, "a leased delivery was claimed by a second worker")

            let one = try XCTUnwrap(a.first { $0.message.id == "msg-1" })
            XCTAssertFalse(try store.writeNow { tx in
                try tx.completeDelivery(id: one.delivery.id, worker: "b", status: .sent, error: nil, nextAttemptAt: nil, now: 32)
            }, "a worker that holds no lease completed a delivery")
            XCTAssertTrue(try store.writeNow { tx in
                try tx.completeDelivery(id: one.delivery.id, worker: "a", status: .sent, error: nil, nextAttemptAt: nil, now: 33)
            })
            XCTAssertFalse(try store.writeNow { tx in
                try tx.completeDelivery(id: one.delivery.id, worker: "a", status: .sent, error: nil, nextAttemptAt: nil, now: 34)
            }, "a delivery was completed twice")
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "msg-1")?.status }, .sent)

            // The other one's lease runs out: another worker takes it over.
            let expired = try store.writeNow { try $0.claimDeliveries(worker: "b", now: 100, leaseSeconds: 60, limit: 10) }
            XCTAssertEqual(expired.map(\.message.id), ["msg-2"])
        }
    }

    func testFailedDeliveriesWaitForTheirRetryAndDeadOnesCanBeRetried() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertOutbox(Self.message("msg-1"))
                try tx.fanOutOutbox(limit: 10, now: 20) { _ in [(channel: .email, destination: "ops@example.org")] }
            }
            let claimed = try XCTUnwrap(try store.writeNow { try $0.claimDeliveries(worker: "a", now: 20, leaseSeconds: 60, limit: 1) }.first)
            let unheld = try store.writeNow { tx in
                try tx.completeDeliveries(
                    [DeliveryOutcomeRecord(id: claimed.delivery.id, status: .pending, error: "421 try later", nextAttemptAt: 200)],
                    worker: "a", now: 21)
            }
            XCTAssertEqual(unheld, [])
            let waiting = try XCTUnwrap(try store.readNow { try $0.deliveries(outboxID: "msg-1") }.first)
            XCTAssertEqual(waiting.status, .pending)
            XCTAssertEqual(waiting.attempts, 1)
            XCTAssertEqual(waiting.lastError, "421 try later")
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "a", now: 100, leaseSeconds: 60, limit: 1) }.count, 0,
                           "a delivery was retried before its time")
            let again = try XCTUnwrap(try store.writeNow { try $0.claimDeliveries(worker: "a", now: 200, leaseSeconds: 60, limit: 1) }.first)
            try store.writeNow { tx in
                try tx.completeDelivery(id: again.delivery.id, worker: "a", status: .dead, error: "550 no such user", nextAttemptAt: nil, now: 201)
            }
            XCTAssertEqual(try store.readNow { try $0.outboxMessage(id: "msg-1")?.status }, .dead)
            XCTAssertEqual(try store.readNow { try $0.outboxMessages(status: .dead) }.map(\.id), ["msg-1"])

            XCTAssertEqual(try store.writeNow { try $0.retryOutbox(id: "msg-1", now: 300) }, 1)
            let retried = try XCTUnwrap(try store.writeNow { try $0.claimDeliveries(worker: "b", now: 300, leaseSeconds: 60, limit: 1) }.first)
            XCTAssertEqual(retried.delivery.id, claimed.delivery.id)
            XCTAssertEqual(retried.delivery.attempts, 0, "a retried delivery starts a fresh attempt count")
        }
    }

    func testReleasedClaimsAreFreeAtOnce() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertOutbox(Self.message("msg-1"))
                try tx.fanOutOutbox(limit: 10, now: 20) { _ in [(channel: .email, destination: "ops@example.org")] }
            }
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "a", now: 20, leaseSeconds: 600, limit: 5) }.count, 1)
            try store.writeNow { try $0.releaseClaims(worker: "a") }
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "b", now: 21, leaseSeconds: 600, limit: 5) }.count, 1)
        }
    }

    func testClaimsGivenBackUnsentAreFreeAtOnceOnlyUnderTheLeaseTheyWereClaimedUnder() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                for id in ["msg-1", "msg-2", "msg-3"] { try tx.insertOutbox(Self.message(id)) }
                try tx.fanOutOutbox(limit: 10, now: 20) { _ in [(channel: .email, destination: "ops@example.org")] }
            }
            let claimed = try store.writeNow { try $0.claimDeliveries(worker: "a", now: 20, leaseSeconds: 10, limit: 5) }
            XCTAssertEqual(claimed.count, 3)
            let lease = try XCTUnwrap(claimed[0].delivery.leaseUntil)
            XCTAssertEqual(lease, 30)
            let ids = claimed.map(\.delivery.id)
            // The lease ran out: "b" took msg-1 over, and "a" claimed msg-2 again under a later lease.
            let takenOver = try store.writeNow { tx in try tx.claimDeliveries(worker: "b", now: 30, leaseSeconds: 10, limit: 1) }
            XCTAssertEqual(takenOver.map(\.delivery.id), [ids[0]])
            let again = try store.writeNow { tx in try tx.claimDeliveries(worker: "a", now: 31, leaseSeconds: 10, limit: 1) }
            XCTAssertEqual(again.map(\.delivery.id), [ids[1]])

            // "a" gives back all three as claimed at 20: only the one it still holds under that lease goes back.
            try store.writeNow { try $0.releaseClaims(worker: "a", ids: ids, leasedUntil: lease) }
            let after = try store.readNow { tx in try ids.map { id in try XCTUnwrap(tx.deliveries(outboxID: DeliveryRecord.outboxID(ofDelivery: id)).first) } }
            XCTAssertEqual(after.map(\.claimedBy), ["b", "a", nil])
            XCTAssertEqual(after.map(\.leaseUntil), [40, 41, nil])
            XCTAssertEqual(after.map(\.attempts), [0, 0, 0], "a delivery given back was not attempted")
            XCTAssertEqual(after.map(\.status), [.pending, .pending, .pending])
            // It is free at once, long before its lease would have run out.
            XCTAssertEqual(try store.writeNow { try $0.claimDeliveries(worker: "c", now: 32, leaseSeconds: 10, limit: 5) }.map(\.delivery.id),
                           [ids[2]])
            // Nothing to give back, or another worker's name: nothing changes.
            try store.writeNow { try $0.releaseClaims(worker: "a", ids: [], leasedUntil: 41) }
            try store.writeNow { try $0.releaseClaims(worker: "c", ids: [ids[1]], leasedUntil: 41) }
            XCTAssertEqual(try store.readNow { try $0.deliveries(outboxID: "msg-2") }.first?.claimedBy, "a")
        }
    }

    // MARK: Roster

    private static func record(_ entity: String, _ id: String, digest: Int64, title: String? = nil) -> RosterRecord {
        RosterRecord(entity: entity, sourcedID: id, digest: digest, title: title ?? id)
    }

    /// The change that deletes a held record, as a plan asks for it (no field digests).
    private static func delete(_ record: RosterRecord) -> RosterChange {
        var record = record
        record.fields = nil
        return RosterChange(operation: .delete, record: record)
    }

    private static func syncRun(_ id: String, integration: String = "int-1", decision: SyncDecision, at: Double) -> SyncRunRecord {
        SyncRunRecord(
            id: id, integrationID: integration, bundle: "/bundles/\(id)", startedAt: at, finishedAt: at, decision: decision,
            reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil)
    }

    func testRosterChangesAreHeldByDigestAndMoveTheRosterVersion() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .applied, at: 10))
            }
            let before = try store.readNow { try $0.rosterVersion(integrationID: "int-1") }
            try store.writeNow { tx in
                try tx.applyRosterChanges(
                    ["u-3", "u-1", "u-2"].map { RosterChange(operation: .add, record: Self.record("users", $0, digest: 1)) }
                        + [RosterChange(operation: .add, record: Self.record("classes", "k-1", digest: 7))],
                    integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
            }
            XCTAssertGreaterThan(try store.readNow { try $0.rosterVersion(integrationID: "int-1") }, before)
            XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") }, ["users": 3, "classes": 1])

            // The digest cursor walks one entity in sourcedId order.
            let walked = try store.readNow { tx -> [String] in
                let cursor = try tx.rosterDigestCursor(integrationID: "int-1", entity: "users")
                var ids: [String] = []
                while let next = try cursor.next() { ids.append(next.sourcedID) }
                XCTAssertNil(try cursor.next(), "a finished cursor started again")
                return ids
            }
            XCTAssertEqual(walked, ["u-1", "u-2", "u-3"])

            try store.writeNow { tx in
                try tx.insertSyncRun(Self.syncRun("run-2", decision: .applied, at: 20))
                try tx.applyRosterChanges(
                    [
                        RosterChange(operation: .update, record: Self.record("users", "u-1", digest: 2, title: "Ann Lee")),
                        RosterChange(operation: .delete, record: Self.record("users", "u-2", digest: 1)),
                    ], integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 20)
            }
            let users = try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: "users") }
            XCTAssertEqual(users.map(\.sourcedID).sorted(), ["u-1", "u-3"])
            XCTAssertEqual(users.first { $0.sourcedID == "u-1" }?.digest, 2)
            XCTAssertTrue(try store.readNow { try $0.holdsRosterRecord(integrationID: "int-1", entity: "users", sourcedID: "u-3") })
            XCTAssertFalse(try store.readNow { try $0.holdsRosterRecord(integrationID: "int-1", entity: "users", sourcedID: "u-2") })
            // History keeps the add, the update and the delete, oldest first.
            let history = try store.readNow { try $0.rosterHistory(sourcedID: "u-2", entities: ["users"]) }
            XCTAssertEqual(history.map(\.operation), ["add", "delete"])
            XCTAssertEqual(try store.readNow { try $0.rosterHistory(sourcedID: "u-1", entities: ["users"]) }.map(\.operation), ["add", "update"])
        }
    }

    func testACheckpointThatThrowsEndsTheApplyAndTheWriteKeepsNothing() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .applied, at: 10))
            }
            struct Cancelled: Error {}
            let changes = (0..<20_000).map { RosterChange(operation: .add, record: Self.record("users", "u-\($0)", digest: 1)) }
            XCTAssertThrowsError(try store.writeNow { tx in
                try tx.applyRosterChanges(changes, integrationID: "int-1", runID: "run-1", checkpoint: { throw Cancelled() }, now: 10)
            })
            XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") }, [:])
        }
    }

    func testAliasesFollowMergesToTheCurrentSourcedId() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertAliases(
                    [SourcedIDMerge(entity: "users", oldID: "old", newID: "mid", matchedOn: "email", value: "a@x.org", status: "accepted")],
                    integrationID: "int-1", runID: "run-1", actor: "ann", now: 10)
                try tx.insertAliases(
                    [SourcedIDMerge(entity: "users", oldID: "mid", newID: "new", matchedOn: "email", value: "a@x.org", status: "accepted")],
                    integrationID: "int-1", runID: "run-2", actor: "ann", now: 20)
            }
            XCTAssertEqual(try store.readNow { try $0.currentSourcedID(integrationID: "int-1", entity: "users", sourcedID: "old") }, "new")
            XCTAssertEqual(try store.readNow { try $0.currentSourcedID(integrationID: "int-1", entity: "users", sourcedID: "other") }, "other")
            XCTAssertEqual(try store.readNow { try $0.currentSourcedID(integrationID: "int-2", entity: "users", sourcedID: "old") }, "old",
                           "an alias leaked into another integration")
            let aliases = try store.readNow { try $0.aliases(involving: "mid") }
            XCTAssertEqual(Set(aliases.map(\.runID)), ["run-1", "run-2"])
        }
    }

    // MARK: Sync runs and locks

    func testSyncRunsRecordTheirDecisionsAndTheLastAppliedOne() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .applied, at: 10))
                try tx.insertSyncRun(Self.syncRun("run-2", decision: .held, at: 20))
                try tx.insertSyncRun(Self.syncRun("run-3", decision: .dryRun, at: 30))
            }
            XCTAssertEqual(try store.readNow { try $0.lastAppliedRun(integrationID: "int-1") }, "run-1")
            XCTAssertEqual(try store.readNow { try $0.heldSyncRunID(integrationID: "int-1") }, "run-2")
            try store.writeNow { tx in try tx.updateSyncRunDecision(id: "run-2", decision: .approved, finishedAt: 40) }
            XCTAssertEqual(try store.readNow { try $0.lastAppliedRun(integrationID: "int-1") }, "run-2")
            XCTAssertNil(try store.readNow { try $0.heldSyncRunID(integrationID: "int-1") })
            XCTAssertEqual(try store.readNow { try $0.syncRun(id: "run-2")?.decision }, .approved)
            XCTAssertEqual(Set(try store.readNow { try $0.syncRuns(integrationID: "int-1") }.map(\.id)), ["run-1", "run-2", "run-3"])
        }
    }

    func testAStoredChangeSetReadsBackInOrderAndPages() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .held, at: 10))
                try tx.storeChangeSet(
                    (0..<5).map { RosterChange(operation: $0 == 4 ? .delete : .add, record: Self.record("users", "u-\($0)", digest: 1)) },
                    runID: "run-1")
            }
            XCTAssertTrue(try store.readNow { try $0.hasChangeSet(runID: "run-1") })
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-1") }.map(\.record.sourcedID), (0..<5).map { "u-\($0)" })
            XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run-1", entity: "users", operation: "delete") }, 1)
            let page = try store.readNow { try $0.syncChanges(runID: "run-1", entity: nil, operation: nil, limit: 2, offset: 2) }
            XCTAssertEqual(page.map(\.change.record.sourcedID), ["u-2", "u-3"])
            try store.writeNow { try $0.dropChangeSet(runID: "run-1") }
            XCTAssertFalse(try store.readNow { try $0.hasChangeSet(runID: "run-1") })
        }
    }

    /// Held records asked for by sourcedId come back in the order asked, those not held left out, whether a few are
    /// asked for (looked up one by one) or most of the entity (read in one pass).
    func testHeldRecordsBySourcedIdComeInTheOrderAskedForFewOrMany() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try Self.seedIntegration(tx, "int-2")
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .applied, at: 10))
                try tx.insertSyncRun(Self.syncRun("run-2", integration: "int-2", decision: .applied, at: 10))
                try tx.applyRosterChanges(
                    (0..<1_200).map { n in
                        var record = Self.record("users", "u-\(n)", digest: Int64(n))
                        record.fields = Data([UInt8(n & 0xFF), 1])
                        return RosterChange(operation: .add, record: record)
                    } + (0..<1_200).map { RosterChange(operation: .add, record: Self.record("classes", "u-\($0)", digest: -1)) },
                    integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
                try tx.applyRosterChanges(
                    (0..<1_200).map { RosterChange(operation: .add, record: Self.record("users", "u-\($0)", digest: -2)) },
                    integrationID: "int-2", runID: "run-2", checkpoint: nil, now: 10)
            }
            for count in [5, 1_000] {
                // Backwards, every tenth one not held.
                let asked = (0..<count).reversed().map { $0 % 10 == 3 ? "gone-\($0)" : "u-\($0 * 1_199 / max(count - 1, 1))" }
                let records = try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: "users", sourcedIDs: asked) }
                let expected = asked.filter { $0.hasPrefix("u-") }
                XCTAssertEqual(records.map(\.sourcedID), expected, "\(count) asked")
                XCTAssertEqual(records.map(\.digest), expected.map { Int64($0.dropFirst(2))! }, "\(count) asked")
                XCTAssertTrue(records.allSatisfy { $0.entity == "users" && $0.title == $0.sourcedID }, "\(count) asked")
                // The same records as the changes that delete them (what a sync's plan asks for).
                let deletes = try store.readNow { try $0.heldDeletes(integrationID: "int-1", entity: "users", sourcedIDs: asked) }
                XCTAssertTrue(records.allSatisfy { $0.fields != nil })
                XCTAssertEqual(deletes, records.map(Self.delete), "\(count) asked, without field digests")
            }
            // In key order (as the planner asks), some not held among them, before, between and after the held ones.
            let sorted = ((0..<1_200).filter { $0 % 3 != 0 }.map { "u-\($0)" } + ["a-gone", "u-5x", "u-9999", "zz-gone"]).sorted()
            let records = try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: "users", sourcedIDs: sorted) }
            let expected = sorted.filter { $0.hasPrefix("u-") && Int($0.dropFirst(2)).map { $0 < 1_200 } == true }
            XCTAssertEqual(expected.count, 800)
            XCTAssertEqual(records.map(\.sourcedID), expected)
            XCTAssertEqual(records.map(\.digest), expected.map { Int64($0.dropFirst(2))! })
            let deletes = try store.readNow { try $0.heldDeletes(integrationID: "int-1", entity: "users", sourcedIDs: sorted) }
            XCTAssertEqual(deletes, records.map(Self.delete))
        }
    }

    /// A long run of one entity's deletes (as a rollover's) leaves the same roster and history as deletes one by one:
    /// each record's add written out before its delete, a delete row even for a record not held, parked ones kept; a
    /// checkpoint that throws in the middle keeps nothing.
    /// Updates and short runs of deletes of several entities, interleaved in one apply (the SQLite conformer binds a
    /// statement's entity only when it changes): each change reaches its own entity's record and history.
    func testInterleavedUpdatesAndDeletesOfSeveralEntitiesEachReachTheirOwnRecord() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .applied, at: 10))
                try tx.insertSyncRun(Self.syncRun("run-2", decision: .applied, at: 20))
                // The same sourcedId in two entities: a change of one must not touch the other.
                try tx.applyRosterChanges(
                    ["users", "classes", "enrollments"].flatMap { entity in
                        ["x-1", "x-2", "x-3"].map { RosterChange(operation: .add, record: Self.record(entity, $0, digest: 1)) }
                    }, integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
                try tx.applyRosterChanges([
                    RosterChange(operation: .update, record: Self.record("users", "x-1", digest: 2)),
                    RosterChange(operation: .delete, record: Self.record("classes", "x-1", digest: 1)),
                    RosterChange(operation: .update, record: Self.record("users", "x-2", digest: 2)),
                    RosterChange(operation: .delete, record: Self.record("enrollments", "x-2", digest: 1)),
                    RosterChange(operation: .update, record: Self.record("classes", "x-2", digest: 3)),
                    RosterChange(operation: .delete, record: Self.record("users", "x-3", digest: 1)),
                ], integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 20)
            }
            func held(_ entity: String) throws -> [String: Int64] {
                Dictionary(uniqueKeysWithValues: try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: entity) }
                    .map { ($0.sourcedID, $0.digest) })
            }
            XCTAssertEqual(try held("users"), ["x-1": 2, "x-2": 2])
            XCTAssertEqual(try held("classes"), ["x-2": 3, "x-3": 1])
            XCTAssertEqual(try held("enrollments"), ["x-1": 1, "x-3": 1])
            func history(_ sourcedID: String, _ entity: String) throws -> [String] {
                try store.readNow { try $0.rosterHistory(sourcedID: sourcedID, integrationID: "int-1", entities: [entity]) }
                    .filter { $0.entity == entity }.map(\.operation)
            }
            XCTAssertEqual(try history("x-1", "users"), ["add", "update"])
            XCTAssertEqual(try history("x-3", "users"), ["add", "delete"])
            XCTAssertEqual(try history("x-3", "classes"), ["add"])
            XCTAssertEqual(try history("x-1", "classes"), ["add", "delete"])
            XCTAssertEqual(try history("x-1", "enrollments"), ["add"])
            XCTAssertEqual(try history("x-2", "enrollments"), ["add", "delete"])
            XCTAssertEqual(try history("x-2", "classes"), ["add", "update"])
        }
    }

    func testManyDeletesOfOneEntityKeepEveryHistoryRowAndSkipParkedOnes() async throws {
        func id(_ n: Int) -> String { "u-" + String(n + 10_000).dropFirst() }
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .applied, at: 10))
                try tx.insertSyncRun(Self.syncRun("run-2", decision: .applied, at: 20))
                try tx.insertSyncRun(Self.syncRun("run-3", decision: .applied, at: 30))
                try tx.applyRosterChanges(
                    (0..<1_000).map { RosterChange(operation: .add, record: Self.record("users", id($0), digest: Int64($0))) }
                        + [RosterChange(operation: .add, record: Self.record("classes", "k-1", digest: 7))],
                    integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
                try tx.applyRosterChanges(
                    [RosterChange(operation: .update, record: Self.record("users", id(0), digest: -1, title: "Ann Lee"))],
                    integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 20)
            }
            let deletes = (0..<600).map { n in
                RosterChange(operation: .delete, record: Self.record("users", id(n), digest: n == 0 ? -1 : Int64(n),
                                                                    title: n == 0 ? "Ann Lee" : nil), parked: n == 5)
            } + [RosterChange(operation: .delete, record: Self.record("users", "u-never", digest: 3)),
                 RosterChange(operation: .delete, record: Self.record("classes", "k-1", digest: 7))]
            struct Cancelled: Error {}
            var calls = 0
            XCTAssertThrowsError(try store.writeNow { tx in
                try tx.applyRosterChanges(deletes, integrationID: "int-1", runID: "run-3", checkpoint: {
                    calls += 1
                    if calls == 1 { throw Cancelled() }
                }, now: 30)
            })
            XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") }, ["users": 1_000, "classes": 1])
            XCTAssertEqual(try store.readNow { try $0.rosterHistory(sourcedID: id(10), entities: ["users"]) }.map(\.operation), ["add"])

            let before = try store.readNow { try $0.rosterVersion(integrationID: "int-1") }
            try store.writeNow { tx in
                try tx.applyRosterChanges(deletes, integrationID: "int-1", runID: "run-3", checkpoint: nil, now: 30)
            }
            XCTAssertGreaterThan(try store.readNow { try $0.rosterVersion(integrationID: "int-1") }, before)
            XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1") }, ["users": 401])
            let held = try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: "users") }.map(\.sourcedID)
            XCTAssertEqual(held, [id(5)] + (600..<1_000).map(id))
            func history(_ sourcedID: String, _ entity: String = "users") throws -> [RosterHistoryEntry] {
                try store.readNow { try $0.rosterHistory(sourcedID: sourcedID, integrationID: "int-1", entities: [entity]) }
            }
            let tenth = try history(id(10))
            XCTAssertEqual(tenth.map(\.operation), ["add", "delete"])
            XCTAssertEqual(tenth.map(\.runID), ["run-1", "run-3"])
            XCTAssertEqual(tenth.map(\.at), [10, 30])
            XCTAssertEqual(tenth.map(\.title), [id(10), id(10)])
            XCTAssertEqual(try history(id(0)).map(\.operation), ["add", "update", "delete"])
            XCTAssertEqual(try history(id(0)).last?.title, "Ann Lee")
            XCTAssertEqual(try history(id(5)).map(\.operation), ["add"], "a parked delete is not applied")
            XCTAssertEqual(try history("u-never").map(\.operation), ["delete"])
            XCTAssertEqual(try history("k-1", "classes").map(\.operation), ["add", "delete"])
            XCTAssertEqual(try history(id(700)).map(\.operation), ["add"])
        }
    }

    /// A rollover's run of deletes: whole ranges of held records (which a store may apply as ranges: SQLite tells
    /// them with a row per range) read back record by record as deletes one by one would: the add (by the run that
    /// added it, or its own row when it was updated since), any update, the delete; records this run added between
    /// them untouched; a range with a held record it does not delete, and another integration's same keys, left alone.
    func testRangesOfDeletesTellEveryRecordsHistoryAsOneByOne() async throws {
        func id(_ n: Int) -> String { "e-" + String(n + 10_000).dropFirst() }
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try Self.seedIntegration(tx, "int-2")
                for (run, at) in [("run-1", 10.0), ("run-2", 20), ("run-3", 30)] {
                    try tx.insertSyncRun(Self.syncRun(run, decision: .applied, at: at))
                }
                try tx.insertSyncRun(Self.syncRun("run-b", integration: "int-2", decision: .applied, at: 15))
                try tx.applyRosterChanges((0..<5_000).map { RosterChange(operation: .add, record: Self.record("enrollments", id($0), digest: Int64($0))) },
                                          integrationID: "int-1", runID: "run-1", checkpoint: nil, now: 10)
                try tx.applyRosterChanges((0..<100).map { RosterChange(operation: .add, record: Self.record("enrollments", id($0), digest: 1)) },
                                          integrationID: "int-2", runID: "run-b", checkpoint: nil, now: 15)
                try tx.applyRosterChanges(
                    (5_000..<6_000).map { RosterChange(operation: .add, record: Self.record("enrollments", id($0), digest: Int64($0))) }
                        + [RosterChange(operation: .update, record: Self.record("enrollments", id(100), digest: -1, title: "Moved"))],
                    integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 20)
            }
            // This run adds records between those it deletes, and deletes all but one held record of 0 … 5,999.
            let deleted = (0..<6_000).filter { $0 != 4_500 }
            let changes = (1_000..<1_050).map { RosterChange(operation: .add, record: Self.record("enrollments", id($0) + "a", digest: 5)) }
                + deleted.map { n in
                    Self.delete(Self.record("enrollments", id(n), digest: n == 100 ? -1 : Int64(n), title: n == 100 ? "Moved" : nil))
                }
            try store.writeNow { tx in
                try tx.applyRosterChanges(changes, integrationID: "int-1", runID: "run-3", checkpoint: nil, now: 30)
            }
            let held = try store.readNow { try $0.rosterRecords(integrationID: "int-1", entity: "enrollments") }.map(\.sourcedID)
            XCTAssertEqual(held, (1_000..<1_050).map { id($0) + "a" } + [id(4_500)])
            XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-2") }, ["enrollments": 100])
            func history(_ sourcedID: String, _ integration: String = "int-1") throws -> [String] {
                try store.readNow { try $0.rosterHistory(sourcedID: sourcedID, integrationID: integration, entities: ["enrollments"]) }
                    .map { "\($0.operation) \($0.runID) \(Int($0.at)) \($0.title ?? "-")" }
            }
            for n in [0, 7, 2_047, 2_048, 3_000, 4_499, 4_501, 4_999] {
                XCTAssertEqual(try history(id(n)), ["add run-1 10 \(id(n))", "delete run-3 30 \(id(n))"], id(n))
            }
            XCTAssertEqual(try history(id(100)), ["add run-1 10 \(id(100))", "update run-2 20 Moved", "delete run-3 30 Moved"])
            XCTAssertEqual(try history(id(5_500)), ["add run-2 20 \(id(5_500))", "delete run-3 30 \(id(5_500))"])
            XCTAssertEqual(try history(id(4_500)), ["add run-1 10 \(id(4_500))"])
            XCTAssertEqual(try history(id(1_000) + "a"), ["add run-3 30 \(id(1_000))a"])
            XCTAssertEqual(try history(id(7), "int-2"), ["add run-b 15 \(id(7))"])
            XCTAssertEqual(try history("e-9999"), [])
            XCTAssertEqual(try store.readNow { try $0.rosterHistory(sourcedID: id(7), entities: ["enrollments"]) }.map(\.runID),
                           ["run-1", "run-b", "run-3"], "every integration's story, oldest first")
            XCTAssertEqual(try store.readNow { try $0.integrationsKnowing(sourcedID: id(3_000), entities: ["enrollments"]) }, ["int-1"])
            XCTAssertEqual(try store.readNow { try $0.integrationsKnowing(sourcedID: id(7), entities: ["enrollments"]) }, ["int-1", "int-2"])
        }
    }

    /// A held change set applied from its groups as the store hands them over (`changeSetGroups`: SQLite's blocks,
    /// decoded one at a time as they are applied) leaves the same roster and history as the same changes applied
    /// whole: adds, updates, a run of deletes longer than a block, and parked deletes left alone.
    func testAChangeSetAppliedFromItsGroupsEqualsItsChangesApplied() async throws {
        func id(_ n: Int) -> String { "e-" + String(n + 10_000).dropFirst() }
        try forEachStore { store in
            let changes = (0..<40).map { RosterChange(operation: .update, record: Self.record("enrollments", id($0), digest: -Int64($0), title: "Moved \($0)")) }
                + (6_000..<6_050).map { RosterChange(operation: .add, record: Self.record("enrollments", id($0), digest: Int64($0))) }
                + (40..<3_000).map { n in
                    var delete = Self.delete(Self.record("enrollments", id(n), digest: Int64(n)))
                    delete.parked = n % 7 == 0
                    return delete
                }
            try store.writeNow { tx in
                for integration in ["int-1", "int-2"] {
                    try Self.seedIntegration(tx, integration)
                    try tx.insertSyncRun(Self.syncRun("add-\(integration)", integration: integration, decision: .applied, at: 10))
                    try tx.insertSyncRun(Self.syncRun("held-\(integration)", integration: integration, decision: .held, at: 20))
                    try tx.applyRosterChanges((0..<4_000).map { RosterChange(operation: .add, record: Self.record("enrollments", id($0), digest: Int64($0))) },
                                              integrationID: integration, runID: "add-\(integration)", checkpoint: nil, now: 10)
                    try tx.storeChangeSet(changes, runID: "held-\(integration)")
                }
            }
            try store.writeNow { tx in
                let groups = try tx.changeSetGroups(runID: "held-int-1")
                XCTAssertEqual(groups.flatMap(\.changes), changes)
                try tx.applyRosterChanges(changeGroups: groups, integrationID: "int-1", runID: "held-int-1", stage: nil,
                                          checkpoint: nil, now: 20)
                try tx.applyRosterChanges(try tx.changeSet(runID: "held-int-2"), integrationID: "int-2", runID: "held-int-2",
                                          checkpoint: nil, now: 20)
            }
            let (one, two) = try store.readNow { tx in
                (try tx.rosterRecords(integrationID: "int-1", entity: "enrollments"),
                 try tx.rosterRecords(integrationID: "int-2", entity: "enrollments"))
            }
            XCTAssertEqual(one.count, 4_000 + 50 - (3_000 - 40) + (40..<3_000).filter { $0 % 7 == 0 }.count)
            XCTAssertEqual(one.map { [$0.sourcedID, String($0.digest), $0.title] }, two.map { [$0.sourcedID, String($0.digest), $0.title] })
            func history(_ sourcedID: String, _ integration: String) throws -> [String] {
                try store.readNow { try $0.rosterHistory(sourcedID: sourcedID, integrationID: integration, entities: ["enrollments"]) }
                    .map { "\($0.operation) \($0.runID.prefix(4)) \(Int($0.at)) \($0.title ?? "-")" }
            }
            for n in [0, 39, 40, 41, 42, 2_087, 2_088, 2_999, 3_000, 6_049] {
                XCTAssertEqual(try history(id(n), "int-1"), try history(id(n), "int-2"), id(n))
            }
            XCTAssertEqual(try history(id(41), "int-1"), ["add add- 10 \(id(41))", "delete held 20 \(id(41))"])
            XCTAssertEqual(try history(id(42), "int-1"), ["add add- 10 \(id(42))"], "a parked delete is not applied")
        }
    }

    /// Every field of a stored change reads back as it was stored (the change set of an approval is read in place).
    func testAStoredChangeSetReadsBackEveryField() async throws {
        let changes = [
            RosterChange(operation: .add, record: RosterRecord(
                entity: "enrollments", sourcedID: "e-1", digest: -7, ref1: "cls-1", ref2: "u-1", ref3: "org-1", title: "É 1",
                fields: Data([1, 2, 3, 4]))),
            RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-1", digest: Int64.max, title: nil,
                                                                  fields: Data()),
                         changedFieldMask: UInt32.max),
            RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-2", digest: 0, ref4: "false"), changedFieldMask: 0b101),
            RosterChange(operation: .delete, record: RosterRecord(entity: "classes", sourcedID: "cls-9", digest: Int64.min, ref1: "crs-1"),
                         parked: true),
        ]
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .held, at: 10))
                try tx.insertSyncRun(Self.syncRun("run-2", decision: .dryRun, at: 11))
                try tx.storeChangeSet(changes, runID: "run-1")
                try tx.storeChangeSet([RosterChange(operation: .add, record: Self.record("users", "other", digest: 1))], runID: "run-2")
                // A planner's groups, joined (as a sync stores them), with an empty group between: the same rows in order.
                try tx.insertSyncRun(Self.syncRun("run-4", decision: .held, at: 12))
                try tx.storeChangeSet([Array(changes.prefix(2)), [], Array(changes.dropFirst(2))].joined(), runID: "run-4")
            }
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-1") }, changes)
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-3") }, [])
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-4") }, changes)
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-2") }.map(\.record.sourcedID), ["other"])
        }
    }

    /// A change set of thousands (SQLite keeps it in blocks of 2,048 changes of one entity and operation) reads back
    /// whole and in order, counts, pages across the blocks' edges with and without filters, finds the titles of records
    /// it adds, and parks and unparks its deletes.
    func testAChangeSetOfThousandsPagesCountsAndParksAcrossItsBlocks() async throws {
        func text(_ n: Int, _ every: Int, _ value: String) -> String? { n % every == 0 ? nil : value }
        let adds = (0..<4_500).map { n in
            RosterChange(operation: .add, record: RosterRecord(
                entity: "users", sourcedID: String(format: "u-%06d", n), digest: Int64(n) &* -0x61C8_8646_80B5_83EB,
                ref1: text(n, 7, "login\(n)"), ref2: text(n, 5, "u\(n)@example.org"), ref3: n % 3 == 0 ? "" : "org-\(n % 4)",
                title: text(n, 11, n % 2 == 0 ? "Zoë Ng \(n)" : "Ada \(n)"), fields: n % 13 == 0 ? nil : Data([UInt8(n & 0xFF), 0, 7]),
                ref4: text(n, 2, "true")))
        }
        let updates = (0..<30).map { n in
            RosterChange(operation: .update, record: Self.record("users", "v-\(n)", digest: Int64(n)),
                         changedFieldMask: n % 4 == 0 ? nil : UInt32(n))
        }
        let deletes = (0..<2_100).map { n in
            RosterChange(operation: .delete, record: RosterRecord(
                entity: "enrollments", sourcedID: "e-\(n)", digest: -Int64(n), ref1: "cls-\(n / 30)", ref2: "u-\(n)", ref3: "student",
                title: n % 100 == 0 ? "Enrolment \(n)" : nil))
        }
        let changes = adds + updates + deletes
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try tx.insertSyncRun(Self.syncRun("run-1", decision: .held, at: 10))
                try tx.storeChangeSet([adds, [], updates, deletes].joined(), runID: "run-1")
                // The same as the planner's groups (a store may encode them side by side).
                try tx.insertSyncRun(Self.syncRun("run-2", decision: .held, at: 11))
                try tx.storeChangeSet(groups: [adds, [], updates, deletes], runID: "run-2")
            }
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-1") }, changes)
            XCTAssertEqual(try store.readNow { try $0.changeSet(runID: "run-2") }, changes)
            XCTAssertEqual(try store.readNow { try $0.syncChanges(runID: "run-2", entity: nil, operation: nil, limit: 60, offset: 4_490) }
                .map(\.change), Array(changes[4_490..<4_550]))
            XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run-1", entity: nil, operation: nil) }, 6_630)
            XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run-1", entity: "users", operation: nil) }, 4_530)
            XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run-1", entity: nil, operation: "delete") }, 2_100)
            XCTAssertEqual(try store.readNow { try $0.syncChangeCount(runID: "run-1", entity: "classes", operation: nil) }, 0)
            for (offset, limit) in [(0, 50), (2_040, 20), (4_090, 500), (4_495, 40), (6_600, 100), (6_630, 10), (9_000, 5)] {
                let page = try store.readNow { try $0.syncChanges(runID: "run-1", entity: nil, operation: nil, limit: limit, offset: offset) }
                let end = min(changes.count, offset + limit)
                XCTAssertEqual(page.map(\.seq), Array(min(offset, end)..<end), "offset \(offset)")
                XCTAssertEqual(page.map(\.change), Array(changes[min(offset, end)..<end]), "offset \(offset)")
            }
            // Filtered: positions count in the whole run's order; offsets in the filtered list.
            let deletePage = try store.readNow { try $0.syncChanges(runID: "run-1", entity: "enrollments", operation: "delete", limit: 10, offset: 2_045) }
            XCTAssertEqual(deletePage.map(\.change), Array(deletes[2_045..<2_055]))
            XCTAssertEqual(deletePage.first?.seq, 4_530 + 2_045)
            let updatePage = try store.readNow { try $0.syncChanges(runID: "run-1", entity: nil, operation: "update", limit: 100, offset: 25) }
            XCTAssertEqual(updatePage.map(\.change), Array(updates[25...]))

            let titles = try store.readNow { tx in
                try tx.rosterTitles(integrationID: "int-1", runID: "run-1", entity: "users",
                                    sourcedIDs: ["u-000001", "u-004498", "u-000011", "nobody"])
            }
            XCTAssertEqual(titles, ["u-000001": "Ada 1", "u-004498": "Zoë Ng 4498"])
            // A record the run deleted (gone once it is applied) is named by its change.
            XCTAssertEqual(try store.readNow { tx in
                try tx.rosterTitles(integrationID: "int-1", runID: "run-1", entity: "enrollments", sourcedIDs: ["e-100", "e-101"])
            }, ["e-100": "Enrolment 100"])

            try store.writeNow { try $0.parkDeletes(runID: "run-1") }
            try store.writeNow { try $0.unparkDeletes(runID: "run-1", entity: "enrollments", sourcedIDs: ["e-3", "e-2099"]) }
            let stored = try store.readNow { try $0.changeSet(runID: "run-1") }
            XCTAssertEqual(stored.filter(\.parked).count, 2_098)
            XCTAssertEqual(Set(stored.filter { $0.operation == .delete && !$0.parked }.map(\.record.sourcedID)), ["e-3", "e-2099"])
            XCTAssertEqual(stored.map { var change = $0; change.parked = false; return change }, changes)
        }
    }

    func testTheSyncLockHasOneHolderUntilItsLeaseRunsOut() async throws {
        try forEachStore { store in
            try store.writeNow { tx in try Self.seedIntegration(tx) }
            XCTAssertNil(try store.writeNow { tx in
                try tx.acquireSyncLock(integrationID: "int-1", owner: "a", purpose: "sync run", now: 10, leaseUntil: 130)
            })
            let refused = try store.writeNow { tx in
                try tx.acquireSyncLock(integrationID: "int-1", owner: "b", purpose: "sync due", now: 20, leaseUntil: 140)
            }
            XCTAssertEqual(refused?.owner, "a", "a second holder was let in")
            XCTAssertTrue(try store.readNow { try $0.holdsSyncLock(integrationID: "int-1", owner: "a") })
            XCTAssertFalse(try store.writeNow { try $0.renewSyncLock(integrationID: "int-1", owner: "b", leaseUntil: 200) })
            XCTAssertTrue(try store.writeNow { try $0.renewSyncLock(integrationID: "int-1", owner: "a", leaseUntil: 150) })
            // After the lease, another process takes it over.
            XCTAssertNil(try store.writeNow { tx in
                try tx.acquireSyncLock(integrationID: "int-1", owner: "b", purpose: "sync due", now: 151, leaseUntil: 271)
            })
            XCTAssertFalse(try store.readNow { try $0.holdsSyncLock(integrationID: "int-1", owner: "a") })
            try store.writeNow { try $0.releaseSyncLock(integrationID: "int-1", owner: "b") }
            XCTAssertNil(try store.readNow { try $0.syncLock(integrationID: "int-1") })
        }
    }

    // MARK: Directory and courses

    func testCustomersAreUpsertedAndIntegrationsFoundByTenant() async throws {
        try forEachStore { store in
            let customer = CustomerRecord(tenantID: "t-1", district: "Springfield", contactEmail: "it@springfield.example", importedAt: 1)
            XCTAssertTrue(try store.writeNow { try $0.upsertCustomer(customer) }, "a new customer was not reported as new")
            var renamed = customer
            renamed.district = "Springfield USD"
            XCTAssertFalse(try store.writeNow { try $0.upsertCustomer(renamed) }, "a known customer was reported as new")
            XCTAssertEqual(try store.readNow { try $0.customer(tenantID: "t-1")?.district }, "Springfield USD")
            try store.writeNow { tx in try Self.seedIntegration(tx, "int-1", tenant: "t-1") }
            let found = try store.readNow { try $0.integrations(tenantID: "t-1") }
            XCTAssertEqual(found.map(\.integration.id), ["int-1"])
            XCTAssertEqual(found.first?.state, "requested")
        }
    }

    func testIntegrationListingPagesByCreationWithItsFiguresAndFilters() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                // Created in the order 3, 1, 2 (same instant for 1 and 2: the id breaks the tie).
                for (id, tenant, created) in [("int-3", "t-a", 1.0), ("int-1", "t-b", 2.0), ("int-2", "t-a", 2.0)] {
                    if try tx.customer(tenantID: tenant) == nil {
                        try tx.upsertCustomer(CustomerRecord(tenantID: tenant, district: tenant, contactEmail: "it@example.org", importedAt: 1))
                    }
                    try tx.insertInstance(Self.instance(id, state: id == "int-1" ? "paused" : "scheduled"))
                    try tx.insertIntegration(IntegrationRecord(
                        id: id, tenantID: tenant, district: tenant, permission: "full", contactEmail: "it@example.org", createdAt: created))
                }
                try Self.seedCourse(tx, "c-1", integration: "int-1")
                try Self.seedCourse(tx, "c-2", integration: "int-1")
                try tx.setProvisioningMode(integrationID: "int-2", mode: .onDemand, actor: "test", at: 3)
                try tx.setPause(PauseRecord(integrationID: "int-1", pausedUntil: 99, untilText: "2027-08-01", reason: "summer", actor: "a", pausedAt: 4))
            }
            let all = try XCTUnwrap(try store.readNow { try $0.integrationListing(after: nil, limit: 10, states: nil, tenants: nil) })
            XCTAssertEqual(all.map(\.integration.id), ["int-3", "int-1", "int-2"])
            XCTAssertEqual(all.map(\.courseCount), [0, 2, 0])
            XCTAssertEqual(all.map(\.provisioningMode), [nil, nil, .onDemand])
            XCTAssertEqual(all[1].pause?.untilText, "2027-08-01")
            XCTAssertEqual(all[1].instance.state, "paused")
            XCTAssertNil(all[0].pause)
            let second = try XCTUnwrap(try store.readNow { try $0.integrationListing(after: "int-3", limit: 1, states: nil, tenants: nil) })
            XCTAssertEqual(second.map(\.integration.id), ["int-1"])
            let last = try XCTUnwrap(try store.readNow { try $0.integrationListing(after: "int-1", limit: 5, states: nil, tenants: nil) })
            XCTAssertEqual(last.map(\.integration.id), ["int-2"])
            XCTAssertEqual(try store.readNow { try $0.integrationListing(after: "int-2", limit: 5, states: nil, tenants: nil) }?.count, 0)
            XCTAssertNil(try store.readNow { try $0.integrationListing(after: "nope", limit: 5, states: nil, tenants: nil) })
            let scheduledOfA = try store.readNow { try $0.integrationListing(after: nil, limit: 5, states: ["scheduled"], tenants: ["t-a"]) }
            XCTAssertEqual(scheduledOfA?.map(\.integration.id), ["int-3", "int-2"])
            XCTAssertEqual(try store.readNow { try $0.integrationListing(after: nil, limit: 5, states: nil, tenants: ["t-b"]) }?.map(\.integration.id), ["int-1"])
            XCTAssertEqual(try store.readNow { try $0.integrationListing(after: nil, limit: 5, states: nil, tenants: []) }?.count, 0)
        }
    }

    func testCourseCountsAndProgressFollowTheMappingsStates() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seedIntegration(tx)
                try Self.seedCourse(tx, "c-1", state: "content_added")
                try Self.seedCourse(tx, "c-2", state: "shell")
            }
            let counts = try store.readNow { try $0.courseCounts(integrationID: "int-1", notIn: ["content_added", "locked"]) }
            XCTAssertEqual(counts.total, 2)
            XCTAssertEqual(counts.outside, 1)
            let progress = try XCTUnwrap(try store.readNow { try $0.integrationProgress(courseID: "c-1", notIn: ["content_added", "locked"]) })
            XCTAssertEqual(progress.integrationID, "int-1")
            XCTAssertEqual(progress.state, "requested")
            XCTAssertTrue(progress.anyOutside)
            try store.writeNow { tx in
                try tx.updateMapping(courseID: "c-2", catalogTitle: "Algebra I", baseID: "B-1")
                try tx.markLocked(courseID: "c-2", at: 50)
                try tx.markLocked(courseID: "c-2", at: 60)
            }
            let course = try XCTUnwrap(try store.readNow { try $0.course(integrationID: "int-1", sourcedID: "src-c-2") })
            XCTAssertEqual(course.baseID, "B-1")
            XCTAssertEqual(course.lockedAt, 50, "a second lock moved the first lock time")
            XCTAssertEqual(try store.readNow { try $0.lockedCourseSourcedIDs(integrationID: "int-1") }, ["src-c-2"])
        }
    }

    func testTheAuditLogKeepsEntriesInOrder() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                for index in 1...3 {
                    try tx.insertAudit(AuditRecord(
                        at: Double(index), actor: "ann", action: "policy", integrationID: index == 2 ? "int-2" : "int-1",
                        subject: "int", before: nil, after: "{\"n\":\(index)}"))
                }
            }
            XCTAssertEqual(try store.readNow { try $0.auditRecords() }.map(\.at), [1, 2, 3])
            XCTAssertEqual(try store.readNow { try $0.auditRecords(integrationID: "int-1") }.map(\.at), [1, 3])
        }
    }

    // MARK: Catalog, digests, access, pauses

    func testCatalogCoursesAreUpsertedByBaseIdAndCountTheirMappings() async throws {
        try forEachStore { store in
            let algebra = CatalogCourseRecord(
                baseID: "ALG1", title: "Algebra I", subject: "Mathematics", grades: ["09", "10"], status: .active, updatedAt: 1)
            XCTAssertTrue(try store.writeNow { try $0.upsertCatalogCourse(algebra) })
            var retired = algebra
            retired.status = .retired
            XCTAssertFalse(try store.writeNow { try $0.upsertCatalogCourse(retired) })
            try store.writeNow { tx in
                try tx.upsertCatalogCourse(CatalogCourseRecord(
                    baseID: "ALG1-v2", title: "Algebra I", subject: nil, grades: [], status: .active, version: 2, previousBaseID: "ALG1",
                    updatedAt: 2))
                try Self.seedIntegration(tx)
                try Self.seedCourse(tx, "c-1")
                try Self.seedCourse(tx, "c-2")
                try tx.updateMapping(courseID: "c-1", catalogTitle: "Algebra I", baseID: "ALG1")
                try tx.updateMapping(courseID: "c-2", catalogTitle: "Algebra I", baseID: "ALG1")
                try tx.markLocked(courseID: "c-2", at: 5)
            }
            XCTAssertEqual(try store.readNow { try $0.catalogCourse(baseID: "ALG1") }, retired)
            XCTAssertEqual(try store.readNow { try $0.catalogCourses(includeRetired: false) }.map(\.baseID), ["ALG1-v2"])
            XCTAssertEqual(try store.readNow { try $0.catalogCourses(includeRetired: true) }.map(\.baseID), ["ALG1", "ALG1-v2"])
            let counts = try store.readNow { try $0.mappingCounts(baseID: "ALG1") }
            XCTAssertEqual([counts.mapped, counts.locked], [2, 1])
            XCTAssertEqual(try store.readNow { try $0.courses(integrationID: "int-1", mappedTo: "ALG1") }.map(\.id).sorted(), ["c-1", "c-2"])
        }
    }

    func testADigestIsRecordedOncePerIntegrationKindAndDay() async throws {
        try forEachStore { store in
            XCTAssertTrue(try store.writeNow { try $0.recordDigest(integrationID: "int-1", kind: "k", localDate: "2026-03-02", at: 1) })
            XCTAssertFalse(try store.writeNow { try $0.recordDigest(integrationID: "int-1", kind: "k", localDate: "2026-03-02", at: 2) })
            XCTAssertTrue(try store.writeNow { try $0.recordDigest(integrationID: "int-1", kind: "other", localDate: "2026-03-02", at: 3) })
            XCTAssertTrue(try store.writeNow { try $0.recordDigest(integrationID: "int-1", kind: "k", localDate: "2026-03-03", at: 4) })
            XCTAssertTrue(try store.writeNow { try $0.recordDigest(integrationID: "int-2", kind: "k", localDate: "2026-03-02", at: 5) })
        }
    }

    func testAccountsAreFoundByEmailInAnyCaseAndTokensOnlyByTheirHash() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertAccount(AccountRecord(
                    id: "acc-1", email: "Pat@Springfield.example", name: "Pat", role: "school_admin", scope: "district",
                    districts: ["t-1"], status: "active", createdAt: 1))
                try tx.insertToken(APITokenRecord(id: "tok-1", accountID: "acc-1", name: "laptop", tokenHash: "h1", createdAt: 1))
            }
            XCTAssertEqual(try store.readNow { try $0.account(email: "pat@springfield.example") }?.id, "acc-1")
            XCTAssertEqual(try store.readNow { try $0.account(id: "acc-1") }?.districts, ["t-1"])
            XCTAssertEqual(try store.readNow { try $0.token(hash: "h1") }?.id, "tok-1")
            XCTAssertNil(try store.readNow { try $0.token(hash: "tok-1") }, "a token was found by something other than its hash")
            try store.writeNow { try $0.revokeToken(id: "tok-1", at: 9) }
            XCTAssertEqual(try store.readNow { try $0.token(id: "tok-1") }?.revokedAt, 9)
            try store.writeNow { try $0.setAccountStatus(id: "acc-1", status: "disabled", disabledAt: 10) }
            XCTAssertEqual(try store.readNow { try $0.account(id: "acc-1") }?.status, "disabled")
        }
    }

    func testAnIdempotencyKeyIsClaimedOnceAnsweredAndTakenOverOnlyWhenAbandoned() async throws {
        try forEachStore { store in
            let first = IdempotencyRecord(accountID: "acc-1", key: "k-1", fingerprint: "f-1", createdAt: 10)
            XCTAssertNil(try store.writeNow { try $0.claimIdempotencyKey(first, abandonedBefore: 0) }, "a free key was not claimed")
            let inFlight = try store.writeNow { try $0.claimIdempotencyKey(first, abandonedBefore: 0) }
            XCTAssertEqual(inFlight?.fingerprint, "f-1")
            XCTAssertNil(inFlight?.status, "a claim in flight has no answer yet")
            try store.writeNow { tx in
                try tx.completeIdempotencyKey(
                    accountID: "acc-1", key: "k-1", status: 200, contentType: "application/json", body: Data("{}".utf8))
            }
            let answered = try store.writeNow { try $0.claimIdempotencyKey(first, abandonedBefore: 1_000) }
            XCTAssertEqual(answered?.status, 200, "an answered key was taken over")
            XCTAssertEqual(answered?.body, Data("{}".utf8))
            // Another account's key of the same name is its own.
            let other = IdempotencyRecord(accountID: "acc-2", key: "k-1", fingerprint: "f-9", createdAt: 11)
            XCTAssertNil(try store.writeNow { try $0.claimIdempotencyKey(other, abandonedBefore: 0) })
            // A claim left unanswered past the lease is taken over by the next request.
            let stale = IdempotencyRecord(accountID: "acc-3", key: "k-1", fingerprint: "f-3", createdAt: 20)
            XCTAssertNil(try store.writeNow { try $0.claimIdempotencyKey(stale, abandonedBefore: 0) })
            var retry = stale
            retry.createdAt = 200
            XCTAssertNil(try store.writeNow { try $0.claimIdempotencyKey(retry, abandonedBefore: 100) }, "an abandoned claim was not taken over")
        }
    }

    func testSignInLinksWorkByHashAndSessionsEndPerSessionOrPerAccount() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                for id in ["acc-1", "acc-2"] {
                    try tx.insertAccount(AccountRecord(
                        id: id, email: "\(id)@springfield.example", name: id, role: "school_admin", scope: "district",
                        districts: ["t-1"], status: "active", createdAt: 1))
                }
                try tx.insertSignInLink(SignInLinkRecord(tokenHash: "lh-1", accountID: "acc-1", createdAt: 1, expiresAt: 901))
                try tx.insertSession(SessionRecord(
                    idHash: "sh-1", accountID: "acc-1", csrfToken: "c-1", method: "link", createdAt: 1, lastSeenAt: 1, expiresAt: 99))
                try tx.insertSession(SessionRecord(
                    idHash: "sh-2", accountID: "acc-1", csrfToken: "c-2", method: "link", createdAt: 2, lastSeenAt: 2, expiresAt: 99))
                try tx.insertSession(SessionRecord(
                    idHash: "sh-3", accountID: "acc-2", csrfToken: "c-3", method: "token:tok-1", createdAt: 3, lastSeenAt: 3,
                    expiresAt: 99))
            }
            XCTAssertEqual(try store.readNow { try $0.signInLink(hash: "lh-1") }?.accountID, "acc-1")
            XCTAssertNil(try store.readNow { try $0.signInLink(hash: "acc-1") }, "a link was found by something other than its hash")
            try store.writeNow { try $0.markSignInLinkUsed(hash: "lh-1", at: 5) }
            try store.writeNow { try $0.markSignInLinkUsed(hash: "lh-1", at: 7) }
            XCTAssertEqual(try store.readNow { try $0.signInLink(hash: "lh-1") }?.usedAt, 5, "a used link lost its first use")
            XCTAssertEqual(try store.readNow { try $0.session(hash: "sh-1") }?.csrfToken, "c-1")
            try store.writeNow { try $0.touchSession(hash: "sh-1", at: 40) }
            try store.writeNow { try $0.touchSession(hash: "sh-1", at: 30) }
            XCTAssertEqual(try store.readNow { try $0.session(hash: "sh-1") }?.lastSeenAt, 40, "a touch went back in time")
            try store.writeNow { try $0.deleteSession(hash: "sh-2") }
            XCTAssertNil(try store.readNow { try $0.session(hash: "sh-2") })
            XCTAssertNotNil(try store.readNow { try $0.session(hash: "sh-1") })
            try store.writeNow { try $0.deleteSessions(accountID: "acc-1") }
            XCTAssertNil(try store.readNow { try $0.session(hash: "sh-1") })
            XCTAssertEqual(try store.readNow { try $0.session(hash: "sh-3") }?.method, "token:tok-1", "another account's session ended")
        }
    }

    func testSignInAttemptsAreCountedPerKeySinceATime() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                for at in [10.0, 20, 30] { try tx.recordSignInAttempt(key: "email:a@example.org", at: at) }
                try tx.recordSignInAttempt(key: "client:127.0.0.1", at: 25)
            }
            XCTAssertEqual(try store.readNow { try $0.signInAttempts(key: "email:a@example.org", since: 15) }, [20, 30])
            XCTAssertEqual(try store.readNow { try $0.signInAttempts(key: "email:a@example.org", since: 0) }.count, 3)
            XCTAssertEqual(try store.readNow { try $0.signInAttempts(key: "client:127.0.0.1", since: 0) }, [25])
            XCTAssertEqual(try store.readNow { try $0.signInAttempts(key: "email:b@example.org", since: 0) }, [])
        }
    }

    func testAPauseIsKeptUntilCleared() async throws {
        try forEachStore { store in
            try store.writeNow { tx in try Self.seedIntegration(tx) }
            let pause = PauseRecord(integrationID: "int-1", pausedUntil: 500, untilText: "2026-08-16", reason: "summer", actor: "ana", pausedAt: 1)
            try store.writeNow { try $0.setPause(pause) }
            XCTAssertEqual(try store.readNow { try $0.pause(integrationID: "int-1") }, pause)
            try store.writeNow { try $0.clearPause(integrationID: "int-1") }
            XCTAssertNil(try store.readNow { try $0.pause(integrationID: "int-1") })
        }
    }

    func testOnDemandModesLinksImportedClassesMembersAndPlatformEventsRoundTrip() async throws {
        try forEachStore { store in
            try store.writeNow { tx in try Self.seedIntegration(tx) }
            XCTAssertNil(try store.readNow { try $0.provisioningMode(integrationID: "int-1") })
            try store.writeNow { try $0.setProvisioningMode(integrationID: "int-1", mode: .onDemand, actor: "a", at: 2) }
            XCTAssertEqual(try store.readNow { try $0.provisioningMode(integrationID: "int-1") }, .onDemand)

            let link = IdentityLinkRecord(provider: "classlink", integrationID: "int-1", providerUserID: "u1", sourcedID: "stu-1",
                                          matchedOn: "username", actor: "a", linkedAt: 3)
            try store.writeNow { try $0.upsertIdentityLink(link) }
            XCTAssertEqual(try store.readNow { try $0.identityLink(provider: "classlink", integrationID: "int-1", providerUserID: "u1") }, link)
            XCTAssertNil(try store.readNow { try $0.identityLink(provider: "classlink", integrationID: "int-2", providerUserID: "u1") })
            XCTAssertEqual(try store.readNow { try $0.identityLinks(integrationID: "int-1", sourcedID: "stu-1") }, [link])

            let entry = UnlinkedIdentityRecord(supportCode: "RF-1", provider: "classlink", tenantID: "t-1", integrationID: "int-1",
                                               providerUserID: "u2", claimedSourcedID: nil, username: "x", email: nil, reason: "none", createdAt: 4)
            try store.writeNow { try $0.insertUnlinkedIdentity(entry) }
            XCTAssertEqual(try store.readNow { try $0.unlinkedIdentities(includeResolved: false) }, [entry])
            try store.writeNow { try $0.resolveUnlinkedIdentity(supportCode: "RF-1", sourcedID: "stu-2", actor: "v", at: 5) }
            XCTAssertEqual(try store.readNow { try $0.unlinkedIdentities(includeResolved: false) }, [])
            XCTAssertEqual(try store.readNow { try $0.unlinkedIdentity(supportCode: "RF-1") }?.resolvedSourcedID, "stu-2")

            let cls = ImportedClassRecord(integrationID: "int-1", classSourcedID: "cls-1", instanceID: "cls_1", title: "Algebra",
                                          importedBy: "tch-1", importedAt: 6)
            try store.writeNow { try $0.insertImportedClass(cls) }
            XCTAssertEqual(try store.readNow { try $0.importedClass(integrationID: "int-1", classSourcedID: "cls-1") }, cls)
            XCTAssertEqual(try store.readNow { try $0.importedClass(instanceID: "cls_1") }, cls)
            XCTAssertEqual(try store.readNow { try $0.importedClasses(integrationID: "int-1") }, [cls])

            var member = ClassMemberRecord(role: "student", integrationID: "int-1", classSourcedID: "cls-1", userSourcedID: "stu-1",
                                           status: "pending", how: "signed-in", since: 7, changedAt: 7)
            try store.writeNow { try $0.upsertClassMember(member) }
            member.status = "active"
            try store.writeNow { try $0.upsertClassMember(member) }
            XCTAssertEqual(try store.readNow { try $0.classMembers(integrationID: "int-1", classSourcedID: "cls-1", userSourcedID: nil) }, [member])
            XCTAssertEqual(try store.readNow { try $0.classMembers(integrationID: "int-1", classSourcedID: nil, userSourcedID: "stu-1") }, [member])
            XCTAssertEqual(try store.readNow { try $0.classMembers(integrationID: "int-1", classSourcedID: nil, userSourcedID: "stu-9") }, [])

            XCTAssertTrue(try store.writeNow { try $0.claimPlatformEvent(key: "k", outboxID: "evt_1", at: 8) })
            XCTAssertFalse(try store.writeNow { try $0.claimPlatformEvent(key: "k", outboxID: "evt_1", at: 9) }, "a key is claimed once")
        }
    }
}
