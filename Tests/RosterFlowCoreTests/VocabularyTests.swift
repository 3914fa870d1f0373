import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// The typed vocabularies keep the stored strings (and so the JSON) exactly as they were.
extension SyncTests {
    func testSyncDecisionsAreTypedAndStoredAsBefore() async throws {
        XCTAssertEqual(SyncDecision.allCases.map(\.rawValue), [
            "applied", "unchanged", "held", "rejected", "dry-run", "approved", "approved-without-deletes", "dropped",
            "superseded",
        ])
        XCTAssertEqual(SyncDecision(stored: "approved-without-deletes"), .approvedWithoutDeletes)
        XCTAssertEqual(SyncDecision(stored: "decided-by-a-newer-release"), .rejected, "unknown text is never taken as applied")
        XCTAssertEqual("\(SyncDecision.dryRun)", "dry-run")

        let bundle = try bundle("typed")
        let planned = try await sync(bundle, dryRun: true)
        XCTAssertEqual(planned.decision, "dry-run")
        let stored = try XCTUnwrap(try service.store.readNow { try $0.syncRun(id: planned.id) })
        XCTAssertEqual(stored.decision, .dryRun)
        let applied = try await sync(bundle)
        XCTAssertEqual(try service.store.readNow { try $0.lastAppliedRun(integrationID: integrationID) }, applied.id)
    }

    func testOutboxStatusesAndChannelsAreTypedAndStoredAsBefore() throws {
        XCTAssertEqual(OutboxStatus.allCases.map(\.rawValue), ["pending", "queued", "sent", "failed", "dead", "skipped"])
        XCTAssertEqual(OutboxChannel.allCases.map(\.rawValue), ["email", "webhook"])
        let messages = try service.store.readNow { try $0.outboxMessages(status: .pending) }
        XCTAssertFalse(messages.isEmpty, "requesting and scheduling the integration wrote notifications")
        XCTAssertTrue(messages.allSatisfy { $0.status == .pending && $0.channel == .email })
        XCTAssertEqual(try service.store.readNow { try $0.outboxMessages(status: .sent) }.count, 0)
    }
}

/// One mapping between the held entities and OneRoster's: each way round and the file agree.
final class EntityMappingTests: XCTestCase {
    func testEachHeldEntityMapsToItsOneRosterEntityAndBack() {
        for entity in RosterEntity.allCases {
            XCTAssertEqual(RosterEntity(entity.oneRoster), entity)
            XCTAssertEqual(entity.file.rawValue, entity.rawValue, "the held entity is named after its file")
        }
        XCTAssertEqual(RosterEntity(.rosterClass), .classes)
        XCTAssertNil(RosterEntity(.role))
        XCTAssertNil(RosterEntity(.userProfile))
    }
}
