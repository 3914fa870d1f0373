import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// `sync approve --without-deletes` parks a run's deletes: they are shown as parked (not applied), and the next
/// export that omits the same records neither deletes them nor holds the integration again, until the record
/// returns or the operator lets the parking go.
final class ParkedDeletesTests: SyncTestCase {
    /// The sample bundle with only the first `keep` enrollments (a bulk file: the rest are omitted, so deleted).
    func bundle(_ name: String, keepEnrollments keep: Int?) throws -> String {
        let path = folder + "/" + name
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: 200, classes: 10, enrollments: 800, version: "1.2", seed: 7)
        if let keep {
            let file = path + "/enrollments.csv"
            let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").prefix(1 + keep)
            try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        }
        return path
    }

    func heldEnrollments() throws -> Int {
        try service.store.readNow { try $0.rosterCounts(integrationID: integrationID) }["enrollments"] ?? 0
    }

    func testParkedDeletesAreShownAsParkedAndDoNotHoldTheSameExportAgain() async throws {
        _ = try await sync(try bundle("full"))
        let cut = try bundle("cut", keepEnrollments: 600)
        let held = try await sync(cut)
        XCTAssertEqual(held.decision, "held")
        XCTAssertEqual(held.counts["enrollments"]?.deletes, 200)

        let approved = try await service.approveSync(runID: held.id, withoutDeletes: true, actor: "vendor")
        XCTAssertEqual(approved.decision, "approved-without-deletes")
        XCTAssertEqual(approved.counts["enrollments"]?.deletes, 0, "nothing was deleted")
        XCTAssertEqual(approved.counts["enrollments"]?.parked, 200)
        XCTAssertEqual(try service.syncRun(id: held.id).counts["enrollments"]?.parked, 200, "stored, not only returned")
        XCTAssertEqual(try heldEnrollments(), 800)
        XCTAssertEqual(try service.parkedDeletes(integrationID: integrationID).count, 200)
        XCTAssertEqual(Set(try service.parkedDeletes(integrationID: integrationID).map(\.runID)), [held.id])

        // The next night's identical export: nothing to do, nothing held, the parked deletes still parked.
        let nightly = try await sync(cut)
        XCTAssertEqual(nightly.decision, "unchanged")
        XCTAssertEqual(nightly.counts["enrollments"]?.deletes, 0)
        XCTAssertEqual(nightly.counts["enrollments"]?.parked, 200)
        XCTAssertTrue(nightly.reasons.contains { $0.contains("kept parked, not deleted: 200 enrollments") }, "\(nightly.reasons)")
        XCTAssertEqual(try service.integration(id: integrationID).state, "shells_created")
        XCTAssertEqual(try heldEnrollments(), 800)

        // A similar export that also drops 30 more: only those 30 are deletes (under 10%: applied).
        let similar = try bundle("similar", keepEnrollments: 570)
        let applied = try await sync(similar)
        XCTAssertEqual(applied.decision, "applied", "\(applied.reasons)")
        XCTAssertEqual(applied.counts["enrollments"]?.deletes, 30)
        XCTAssertEqual(applied.counts["enrollments"]?.parked, 200)
        XCTAssertEqual(try heldEnrollments(), 770)
    }

    func testAParkingEndsWhenTheRecordReturnsOrTheOperatorLetsItGo() async throws {
        let full = try bundle("full")
        _ = try await sync(full)
        let cut = try bundle("cut", keepEnrollments: 600)
        let held = try await sync(cut)
        _ = try await service.approveSync(runID: held.id, withoutDeletes: true, actor: "vendor")

        // The records return: their parking is over, so a later omission is a new delete, guarded again.
        let back = try await sync(full)
        XCTAssertEqual(back.decision, "unchanged")
        XCTAssertEqual(try service.parkedDeletes(integrationID: integrationID).count, 0)
        let again = try await sync(cut)
        XCTAssertEqual(again.decision, "held")
        XCTAssertEqual(again.counts["enrollments"]?.deletes, 200)
        _ = try await service.approveSync(runID: again.id, withoutDeletes: true, actor: "vendor")
        XCTAssertEqual(try service.parkedDeletes(integrationID: integrationID, entity: "enrollments").count, 200)
        XCTAssertEqual(try service.parkedDeletes(integrationID: integrationID, entity: "users").count, 0)

        // The operator lets them go: the next sync proposes the deletes again (and holds, as 25% is over the limit).
        await assertRefused(.invalidInput) { try await self.service.unparkDeletes(integrationID: self.integrationID, entity: "pupils") }
        await assertRefused(.notFound) { try await self.service.unparkDeletes(integrationID: "int_nope") }
        let unparked = try await service.unparkDeletes(integrationID: integrationID)
        XCTAssertEqual(unparked, 200)
        let proposed = try await sync(cut)
        XCTAssertEqual(proposed.decision, "held")
        XCTAssertEqual(proposed.counts["enrollments"]?.deletes, 200)
        XCTAssertEqual(proposed.counts["enrollments"]?.parked, 0)
        _ = try await service.approveSync(runID: proposed.id, actor: "vendor")
        XCTAssertEqual(try heldEnrollments(), 600)
    }

    func testParkingsAreKeptPerIntegration() async throws {
        _ = try await service.importCustomers(
            csv: "tenant_id,district,contact_email\nt-shelby,Shelbyville USD,it@shelbyville.example\n", file: "more.csv")
        let other = try await service.requestIntegration(
            tenantID: "t-shelby", district: "Shelbyville USD", permission: "full", contactEmail: "it@shelbyville.example",
            sender: .system).id
        _ = try await service.authenticate(integrationID: other, actor: Fixture.vendor)
        _ = try await service.schedule(integrationID: other, time: "02:00", timezone: "UTC", actor: "school")
        let full = try bundle("full"), cut = try bundle("cut", keepEnrollments: 600)
        for id in [integrationID!, other] { _ = try await service.runSync(integrationID: id, bundlePath: full, actor: "test") }
        let held = try await sync(cut)
        _ = try await service.approveSync(runID: held.id, withoutDeletes: true, actor: "vendor")
        // The same sourcedIds omitted in the other district are its own deletes: held there.
        let elsewhere = try await service.runSync(integrationID: other, bundlePath: cut, actor: "test")
        XCTAssertEqual(elsewhere.decision, "held")
        XCTAssertEqual(elsewhere.counts["enrollments"]?.parked, 0)
        XCTAssertEqual(try service.parkedDeletes(integrationID: other).count, 0)
    }
}
