import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Hostile and broken bundles through a whole sync: what the run decides and what the district is told.
final class HostileBundleSyncTests: SyncTestCase {
    func notices(_ template: String) throws -> [String] {
        try service.store.readNow { try $0.outbox(instanceID: integrationID) }.filter { $0.template == template }.map(\.payload)
    }

    func testUTF16UsersRejectTheRunInsteadOfDeletingEveryUser() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        XCTAssertEqual(try held(.users), 200)
        // The most permissive policy: a bulk file may delete everything it omits.
        try await service.setSyncPolicy(integrationID: integrationID, policy: SyncPolicy(maxDeleteShare: 1.0, maxUpdateShare: 1.0))
        let text = try String(contentsOfFile: b + "/users.csv", encoding: .utf8)
        try ([0xFF, 0xFE] + Data(text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })).write(to: URL(fileURLWithPath: b + "/users.csv"))
        let run = try await sync(b)
        XCTAssertEqual(run.decision, "rejected")
        XCTAssertTrue(run.reasons.first?.contains("users.csv cannot be read: it is saved as UTF-16 (little-endian), not UTF-8") ?? false,
                      "\(run.reasons)")
        XCTAssertEqual(try held(.users), 200, "no user deleted")
        XCTAssertEqual(try held(.enrollments), 800)
        let failed = try notices("sync-failed")
        XCTAssertEqual(failed.count, 1)
        XCTAssertTrue(failed[0].contains("Export users.csv again as UTF-8 CSV"), failed[0])
    }

    func testLinksToDevicesAndFIFOsRejectTheRunWithoutReadingThem() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        try FileManager.default.removeItem(atPath: b + "/enrollments.csv")
        try FileManager.default.createSymbolicLink(atPath: b + "/enrollments.csv", withDestinationPath: "/dev/zero")
        let linked = try await sync(b)
        XCTAssertEqual(linked.decision, "rejected")
        XCTAssertTrue(linked.reasons.first?.contains("enrollments.csv in \(b) is a symbolic link, not a regular file") ?? false, "\(linked.reasons)")
        try FileManager.default.removeItem(atPath: b + "/enrollments.csv")
        XCTAssertEqual(mkfifo(b + "/enrollments.csv", 0o600), 0)
        let fifo = try await sync(b)
        XCTAssertEqual(fifo.decision, "rejected")
        XCTAssertTrue(fifo.reasons.first?.contains("enrollments.csv in \(b) is a FIFO (named pipe)") ?? false, "\(fifo.reasons)")
        XCTAssertEqual(try held(.enrollments), 800)
    }

    func testNoticeCarriesExcerptsAndACappedReportWithTheCommandForTheRest() async throws {
        let b = try bundle("b1")
        // Every enrollment and user row gets a junk role; one a 60,000-byte one.
        func junk(_ file: String, _ column: String, long: Bool) throws {
            let lines = try String(contentsOfFile: b + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init)
            let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let at = try XCTUnwrap(header.firstIndex(of: column))
            var out = [lines[0]]
            for (n, line) in lines.dropFirst().enumerated() {
                var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                fields[at] = long && n == 0 ? String(repeating: "r", count: 60_000) : "not-a-role-\(n)-" + String(repeating: "x", count: 60)
                out.append(fields.joined(separator: ","))
            }
            try (out.joined(separator: "\n") + "\n").write(toFile: b + "/" + file, atomically: true, encoding: .utf8)
        }
        try junk("enrollments.csv", "role", long: true)
        try junk("roles.csv", "role", long: false)
        try junk("classes.csv", "classType", long: false)
        try junk("orgs.csv", "type", long: false)
        try junk("academicSessions.csv", "type", long: false)
        try junk("courses.csv", "orgSourcedId", long: false)
        let run = try await sync(b)
        XCTAssertGreaterThan(run.errorCount, 800)
        let stored = try XCTUnwrap(run.report)
        let longIssue = try XCTUnwrap(stored.issues.first { $0.value?.hasSuffix("… (60000 bytes)") ?? false })
        XCTAssertEqual(longIssue.value, String(repeating: "r", count: 80) + "… (60000 bytes)")
        XCTAssertGreaterThan(stored.rendered(maxPerFile: 20).utf8.count, 16_000, "the full rendering is over the cap")
        let problems = try notices("sync-problems")
        XCTAssertEqual(problems.count, 1)
        XCTAssertLessThan(problems[0].utf8.count, 20_000)
        XCTAssertTrue(problems[0].contains("see `rosterflow sync show \(run.id)` for all of it"), String(problems[0].suffix(2_000)))
        XCTAssertFalse(problems[0].contains(String(repeating: "r", count: 200)))
    }
}
