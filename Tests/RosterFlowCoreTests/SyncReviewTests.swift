import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// The review of held runs through the service: field digests survive approval, and runs without a change set say why.
final class SyncReviewCoreTests: SyncTestCase {
    func editUsers(_ bundle: String, to name: String, _ edit: (inout [String]) -> Void) throws -> String {
        let path = folder + "/" + name
        try FileManager.default.copyItem(atPath: bundle, toPath: path)
        var lines = try String(contentsOfFile: path + "/users.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        edit(&lines)
        try (lines.joined(separator: "\n") + "\n").write(toFile: path + "/users.csv", atomically: true, encoding: .utf8)
        return path
    }

    /// A user added by an approved held run keeps its field digests: its next update names the changed field.
    func testRecordsAddedByAnApprovedRunKeepTheirFieldDigests() async throws {
        let b1 = try bundle("b1")
        let first = try await sync(b1)
        XCTAssertEqual(try service.syncChanges(runID: first.id).note?.contains("was applied when it ran"), true)

        let newUser = "stu-new,,,true,new.user,,New,User,,999999,new.user@springfield.example,,,,,,,,,,org-school-1,"
        let b2 = try editUsers(b1, to: "b2") { lines in
            lines.removeLast(30)
            lines.append(newUser)
        }
        let held = try await sync(b2)
        XCTAssertEqual(held.decision, "held", "\(held.reasons)")
        let adds = try service.syncChanges(runID: held.id, entity: "users", operation: "add")
        XCTAssertEqual(adds.items.map(\.sourcedId), ["stu-new"])
        XCTAssertEqual(adds.items.first?.name, "New User")
        _ = try await service.approveSync(runID: held.id, actor: "vendor")

        let b3 = try editUsers(b2, to: "b3") { lines in
            lines[lines.count - 1] = newUser.replacingOccurrences(of: "new.user@", with: "n.user@")
        }
        let dry = try await sync(b3, dryRun: true)
        XCTAssertEqual(dry.decision, "dry-run")
        let update = try service.syncChanges(runID: dry.id, operation: "update")
        XCTAssertEqual(update.total, 1)
        XCTAssertEqual(update.items.first?.changedFields, ["email"])
        XCTAssertNil(update.items.first?.changedFieldsNote)
    }
}
