import RosterFlowApp
import Foundation
import GRDB
@testable import RosterFlowCore
import XCTest

/// Workflow definition checksums are SHA-256; databases written by earlier releases hold FNV-1a checksums and keep
/// opening with the same definitions.
final class DefinitionChecksumTests: XCTestCase {
    func testTheChecksumIsTheSHA256OfTheText() {
        // FIPS 180-2 test vector.
        XCTAssertEqual(
            RosterFlowService.checksum("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(RosterFlowService.checksum("").count, 64)
    }

    /// The checksum form earlier releases stored: 64-bit FNV-1a of the UTF-8 bytes, unpadded lowercase hex.
    private func oldReleaseChecksum(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    func testADatabaseWithOldReleaseChecksumsOpensWithTheSameTextAndRefusesAChangedOne() throws {
        let database = try Fixture.folder() + "/rf.sqlite"
        _ = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows)
        // Turn the stored checksums into what an earlier release wrote for the same texts.
        let queue = try DatabaseQueue(path: database)
        let rewritten = try queue.write { db -> Int in
            let rows = try Row.fetchAll(db, sql: "SELECT name, version, source, checksum FROM workflow_definitions")
            for row in rows {
                let source: String = row["source"]
                XCTAssertEqual(row["checksum"] as String, RosterFlowService.checksum(source))
                try db.execute(
                    sql: "UPDATE workflow_definitions SET checksum = ? WHERE name = ? AND version = ?",
                    arguments: [oldReleaseChecksum(source), row["name"] as String, row["version"] as Int])
            }
            return rows.count
        }
        XCTAssertGreaterThan(rewritten, 0)
        try queue.close()

        // Today's code, the same texts: accepted, and the old checksums are left for an earlier release to read.
        _ = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows)
        let kept = try DatabaseQueue(path: database).read { db in
            try Row.fetchAll(db, sql: "SELECT source, checksum FROM workflow_definitions").allSatisfy {
                ($0["checksum"] as String) == oldReleaseChecksum($0["source"])
            }
        }
        XCTAssertTrue(kept)

        // A changed text under the same version is still refused.
        let folder = try Fixture.folder() + "/Workflows"
        try FileManager.default.copyItem(atPath: Fixture.workflows, toPath: folder)
        let file = folder + "/integration.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try (text + "\n# an edit without a new version\n").write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RosterFlowService(databasePath: database, workflowsPath: folder)) { error in
            XCTAssertEqual((error as? RosterFlowError)?.code, .workflowDefinition)
            XCTAssertTrue("\(error)".contains("give the changed definition a new version number"), "\(error)")
        }
    }
}
