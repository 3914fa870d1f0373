import Foundation
import StorageCore
import XCTest

/// The core concerns' orders, pages, filters and round trips that the main contract suite does not pin down: what
/// the CLI, the API and the scheduler show people comes out the same on every backend.
final class CoreStoreOrderContractTests: StoreContractCase {
    private static func instance(_ id: String, workflow: String = "integration", state: String, enteredAt: Double = 1) -> InstanceRecord {
        InstanceRecord(
            id: id, workflow: workflow, version: 1, state: state, subjectTitle: "Subject \(id)", createdAt: 1, enteredAt: enteredAt,
            updatedAt: 1)
    }

    /// Integrations created in the order given (each with its instance in `state` and its customer).
    private static func seed(_ tx: any StoreTransaction, _ integrations: [(id: String, tenant: String, created: Double, state: String)]) throws {
        for entry in integrations {
            if try tx.customer(tenantID: entry.tenant) == nil {
                try tx.upsertCustomer(CustomerRecord(tenantID: entry.tenant, district: entry.tenant, contactEmail: "it@example.org", importedAt: 1))
            }
            try tx.insertInstance(instance(entry.id, state: entry.state))
            try tx.insertIntegration(IntegrationRecord(
                id: entry.id, tenantID: entry.tenant, district: "District \(entry.id)", permission: "full",
                contactEmail: "it@example.org", createdAt: entry.created))
        }
    }

    func testInstancesComeByEntryTimeThenIdAndTimersByDueTime() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try tx.insertInstance(Self.instance("i-b", state: "s", enteredAt: 5))
                try tx.insertInstance(Self.instance("i-c", state: "s", enteredAt: 2))
                try tx.insertInstance(Self.instance("i-a", state: "s", enteredAt: 5))
                try tx.insertInstance(Self.instance("i-d", state: "t", enteredAt: 1))
                try tx.armTimer(instanceID: "i-a", event: "late", dueAt: 300, armedAt: 1, inState: "s")
                try tx.armTimer(instanceID: "i-a", event: "early", dueAt: 100, armedAt: 1, inState: "s")
                try tx.armTimer(instanceID: "i-b", event: "middle", dueAt: 200, armedAt: 1, inState: "s")
            }
            XCTAssertEqual(try store.readNow { try $0.instances(workflow: "integration", states: nil) }.map(\.id), ["i-d", "i-c", "i-a", "i-b"])
            XCTAssertEqual(try store.readNow { try $0.instances(workflow: "integration", states: ["s"]) }.map(\.id), ["i-c", "i-a", "i-b"])
            XCTAssertEqual(try store.readNow { try $0.instances(workflow: "integration", states: []) }, [])
            XCTAssertEqual(try store.readNow { try $0.timers(instanceID: "i-a") }.map(\.event), ["early", "late"])
            XCTAssertEqual(try store.readNow { try $0.dueTimers(now: 1_000, limit: 2) }.map(\.event), ["early", "middle"])
            let due = try XCTUnwrap(try store.readNow { try $0.dueTimers(now: 150, limit: 10) }.first)
            XCTAssertEqual([due.instanceID, due.event, due.armedInState], ["i-a", "early", "s"])
            XCTAssertEqual([due.dueAt, due.armedAt], [100, 1])
        }
    }

    func testTransitionsKeepEveryFieldAndReturnTheirSequence() async throws {
        try forEachStore { store in
            let seqs = try store.writeNow { tx in
                try tx.insertInstance(Self.instance("i-1", state: "a"))
                return [
                    try tx.appendTransition(instanceID: "i-1", from: nil, to: "a", event: "create", actor: "system", role: "system",
                                            at: 1.25, reason: nil, rowVersion: 1),
                    try tx.appendTransition(instanceID: "i-1", from: "a", to: "b", event: "go", actor: "ann", role: "vendor_admin",
                                            at: 1_764_567_890.123456, reason: "it's \"checked\"", rowVersion: 2),
                ]
            }
            let history = try store.readNow { try $0.transitions(instanceID: "i-1") }
            XCTAssertEqual(history.map(\.seq), seqs, "appendTransition did not return the row's sequence number")
            XCTAssertEqual(history.last, TransitionRecord(
                seq: seqs[1], instanceID: "i-1", from: "a", to: "b", event: "go", actor: "ann", role: "vendor_admin",
                at: 1_764_567_890.123456, reason: "it's \"checked\"", rowVersion: 2))
            XCTAssertNil(history.first?.from)
            XCTAssertEqual(history.first?.at, 1.25)
        }
    }

    func testListingPagesThroughEveryIntegrationOnceWithFiltersAppliedAcrossPages() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seed(tx, [
                    ("int-e", "t-a", 1, "scheduled"), ("int-b", "t-b", 2, "requested"), ("int-d", "t-a", 2, "scheduled"),
                    ("int-a", "t-a", 2, "requested"), ("int-c", "t-c", 3, "scheduled"),
                ])
            }
            var seen: [String] = []
            var after: String?
            while let page = try store.readNow({ [after] in try $0.integrationListing(after: after, limit: 2, states: nil, tenants: nil) }),
                  !page.isEmpty
            {
                XCTAssertLessThanOrEqual(page.count, 2)
                seen += page.map(\.integration.id)
                after = page.last?.integration.id
            }
            XCTAssertEqual(seen, ["int-e", "int-a", "int-b", "int-d", "int-c"], "pages are by creation time, then id")
            // The cursor may name an integration the filters leave out: the page starts after it all the same.
            let scheduled = try store.readNow {
                try $0.integrationListing(after: "int-a", limit: 10, states: ["scheduled"], tenants: ["t-a", "t-c"])
            }
            XCTAssertEqual(scheduled?.map(\.integration.id), ["int-d", "int-c"])
            XCTAssertEqual(try store.readNow { try $0.integrationListing(after: nil, limit: 10, states: [], tenants: nil) }?.count, 0)
            let first = try XCTUnwrap(try store.readNow { try $0.integrationListing(after: nil, limit: 1, states: nil, tenants: nil) }?.first)
            XCTAssertEqual(first.integration.district, "District int-e")
            XCTAssertEqual(first.instance.id, "int-e")
            XCTAssertEqual(first.courseCount, 0)
            XCTAssertNil(first.pause)
            XCTAssertEqual(try store.readNow { try $0.integrations() }.map(\.id), ["int-e", "int-a", "int-b", "int-d"] + ["int-c"])
            XCTAssertEqual(try store.readNow { try $0.integrations(tenantID: "t-a") }.map(\.integration.id), ["int-e", "int-a", "int-d"])
            XCTAssertEqual(try store.readNow { try $0.integrations(tenantID: "t-a") }.map(\.state), ["scheduled", "requested", "scheduled"])
            XCTAssertEqual(try store.readNow { try $0.customers() }.map(\.tenantID), ["t-a", "t-b", "t-c"])
        }
    }

    func testDueSyncsComeEarliestFirstThenByCreationWithTheirScheduleAndSource() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seed(tx, [
                    ("int-z", "t-1", 1, "scheduled"), ("int-m", "t-1", 2, "scheduled"), ("int-a", "t-1", 3, "scheduled"),
                    ("int-later", "t-1", 4, "scheduled"), ("int-none", "t-1", 5, "scheduled"),
                ])
                try tx.updateSchedule(integrationID: "int-a", syncTime: "02:00", timezone: "America/Chicago", nextSyncAt: 10)
                try tx.updateSchedule(integrationID: "int-m", syncTime: "03:30", timezone: "Europe/Paris", nextSyncAt: 20)
                try tx.updateSchedule(integrationID: "int-z", syncTime: "03:30", timezone: "Europe/Paris", nextSyncAt: 20)
                try tx.updateSchedule(integrationID: "int-later", syncTime: "04:00", timezone: "UTC", nextSyncAt: 500)
                try tx.updateSchedule(integrationID: "nope", syncTime: "04:00", timezone: "UTC", nextSyncAt: 1)
                try tx.setSyncSource(integrationID: "int-m", source: "/bundles/m.zip")
                try tx.setSyncSource(integrationID: "nope", source: "/bundles/x.zip")
            }
            let due = try store.readNow { try $0.dueSyncs(now: 100) }
            XCTAssertEqual(due.map(\.integrationID), ["int-a", "int-z", "int-m"])
            XCTAssertEqual(due[2], DueSync(integrationID: "int-m", syncTime: "03:30", timezone: "Europe/Paris", dueAt: 20, source: "/bundles/m.zip"))
            XCTAssertNil(due[0].source)
            try store.writeNow { tx in
                try tx.advanceSchedule(integrationID: "int-a", nextSyncAt: 1_000, lastRun: nil)
                try tx.advanceSchedule(integrationID: "int-z", nextSyncAt: 1_000, lastRun: "run-1")
            }
            XCTAssertEqual(try store.readNow { try $0.dueSyncs(now: 100) }.map(\.integrationID), ["int-m"])
            XCTAssertEqual(try store.readNow { try $0.integration(id: "int-a") }?.nextSyncAt, 1_000)
            XCTAssertEqual(try store.readNow { try $0.integration(id: "int-a") }?.timezone, "America/Chicago")
            XCTAssertNil(try store.readNow { try $0.integration(id: "nope") })
            XCTAssertNil(try store.readNow { try $0.syncSource(integrationID: "int-a") })
            XCTAssertNil(try store.readNow { try $0.syncSource(integrationID: "nope") })
            XCTAssertEqual(try store.readNow { try $0.syncSource(integrationID: "int-m") }, "/bundles/m.zip")
            XCTAssertNil(try store.readNow { try $0.syncPolicyJSON(integrationID: "int-m") })
            try store.writeNow { try $0.setSyncPolicyJSON(integrationID: "int-m", json: "{\"maxDeletes\":5}") }
            XCTAssertEqual(try store.readNow { try $0.syncPolicyJSON(integrationID: "int-m") }, "{\"maxDeletes\":5}")
        }
    }

    func testCourseFiguresWithNoStatesCountEveryCourseAsOutside() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                try Self.seed(tx, [("int-1", "t-1", 1, "requested")])
                for (id, created) in [("c-2", 5.0), ("c-1", 5.0), ("c-0", 9.0)] {
                    try tx.insertInstance(Self.instance(id, workflow: "course-mapping", state: "locked"))
                    try tx.insertCourse(CourseRecord(id: id, integrationID: "int-1", sourcedID: "src-\(id)", title: "Course \(id)", createdAt: created))
                }
            }
            XCTAssertEqual(try store.readNow { try $0.courses(integrationID: "int-1") }.map(\.id), ["c-1", "c-2", "c-0"])
            let none = try store.readNow { try $0.courseCounts(integrationID: "int-1", notIn: []) }
            XCTAssertEqual([none.outside, none.total], [3, 3])
            let all = try store.readNow { try $0.courseCounts(integrationID: "int-1", notIn: ["locked"]) }
            XCTAssertEqual([all.outside, all.total], [0, 3])
            XCTAssertEqual(try store.readNow { try $0.integrationProgress(courseID: "c-1", notIn: []) }?.anyOutside, true)
            XCTAssertEqual(try store.readNow { try $0.integrationProgress(courseID: "c-1", notIn: ["locked"]) }?.anyOutside, false)
            XCTAssertNil(try store.readNow { try $0.integrationProgress(courseID: "nope", notIn: ["locked"]) })
            let empty = try store.readNow { try $0.courseCounts(integrationID: "nope", notIn: ["locked"]) }
            XCTAssertEqual([empty.outside, empty.total], [0, 0])
            XCTAssertNil(try store.readNow { try $0.course(id: "nope") })
            XCTAssertEqual(try store.readNow { try $0.course(id: "c-0") }?.createdAt, 9)
            XCTAssertEqual(try store.readNow { try $0.lockedCourseSourcedIDs(integrationID: "int-1") }, [])
            XCTAssertEqual(try store.readNow { try $0.mappingCounts(baseID: "nope") }.mapped, 0)
        }
    }

    func testTheCatalogIsListedByTitleIgnoringCaseThenVersion() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                for (baseID, title, version) in [("B1", "biology", 1), ("A2", "Algebra I", 2), ("A1", "algebra i", 1), ("C1", "Chemistry", 1), ("Z1", "Économie", 1)] {
                    try tx.upsertCatalogCourse(CatalogCourseRecord(
                        baseID: baseID, title: title, subject: nil, grades: [], status: .active, version: version, updatedAt: 1))
                }
            }
            XCTAssertEqual(try store.readNow { try $0.catalogCourses(includeRetired: false) }.map(\.baseID), ["A1", "A2", "B1", "C1", "Z1"])
            XCTAssertEqual(try store.readNow { try $0.catalogCourse(baseID: "A1") }?.grades, [])
            XCTAssertNil(try store.readNow { try $0.catalogCourse(baseID: "nope") })
        }
    }

    func testTheAuditLogKeepsTheNewestEntriesWhenLimited() async throws {
        try forEachStore { store in
            try store.writeNow { tx in
                for index in 1...5 {
                    try tx.insertAudit(AuditRecord(
                        at: 10, actor: "ann", action: "policy", integrationID: index % 2 == 0 ? nil : "int-1", subject: "s\(index)",
                        before: index == 1 ? "{}" : nil, after: nil))
                }
            }
            XCTAssertEqual(try store.readNow { try $0.auditRecords(integrationID: nil, limit: 2) }.map(\.subject), ["s4", "s5"])
            XCTAssertEqual(try store.readNow { try $0.auditRecords(integrationID: "int-1", limit: 2) }.map(\.subject), ["s3", "s5"])
            let all = try store.readNow { try $0.auditRecords(integrationID: nil, limit: 100) }
            XCTAssertEqual(all.map(\.id), all.map(\.id).sorted())
            XCTAssertEqual(all.first?.before, "{}")
            XCTAssertNil(all[1].integrationID)
        }
    }

    func testAPauseSetAgainReplacesTheFirst() async throws {
        try forEachStore { store in
            try store.writeNow { tx in try Self.seed(tx, [("int-1", "t-1", 1, "scheduled")]) }
            try store.writeNow { tx in
                try tx.setPause(PauseRecord(integrationID: "int-1", pausedUntil: 5, untilText: "2026-08-01", reason: "summer", actor: "a", pausedAt: 1))
            }
            let again = PauseRecord(integrationID: "int-1", pausedUntil: 9, untilText: "2026-09-01", reason: nil, actor: "b", pausedAt: 2)
            try store.writeNow { try $0.setPause(again) }
            XCTAssertEqual(try store.readNow { try $0.pause(integrationID: "int-1") }, again)
        }
    }

    func testCarryForwardProposalsRoundTripWhateverTheirText() async throws {
        try forEachStore { store in
            let awkward = ["", "NULL", "a,b", "{x}", "say \"hi\"", "back\\slash", "tab\there", "line\nbreak", "Économie ✓", "'quote'"]
            let proposals = awkward.enumerated().map { index, text in
                CarryForwardRecord(
                    newSourcedID: String(format: "new-%02d", index), newTitle: text, oldCourseID: "c-\(index)", oldSourcedID: text + "-old",
                    oldTitle: text, catalogTitle: "Catalog \(text)", baseID: "B\(index)", matchedOn: "title", evidence: text)
            }
            try store.writeNow { tx in
                try Self.seed(tx, [("int-1", "t-1", 1, "scheduled")])
                try tx.insertSyncRun(SyncRunRecord(
                    id: "run-1", integrationID: "int-1", bundle: "b", startedAt: 1, finishedAt: 1, decision: .held, reasons: "[]",
                    counts: "{}", report: "{}", basedOnRun: nil))
                try tx.storeCarryForwards(proposals.reversed(), runID: "run-1")
                try tx.storeCarryForwards([], runID: "run-1")
            }
            XCTAssertEqual(try store.readNow { try $0.carryForwards(runID: "run-1") }, proposals)
            XCTAssertEqual(try store.readNow { try $0.carryForwards(runID: "run-2") }, [])
        }
    }
}
