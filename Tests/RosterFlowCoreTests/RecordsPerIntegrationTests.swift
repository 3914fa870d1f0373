import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// SourcedIds are unique only inside a district: three integrations whose bundles use the same sourcedIds for
/// different people, synced and merged independently, never see each other's records.
final class RecordsPerIntegrationTests: XCTestCase {
    var folder: String!
    var service: RosterFlowService!

    override func setUp() async throws {
        folder = try Fixture.folder()
        service = try await Fixture.service()
        _ = try await service.importCustomers(
            csv: "tenant_id,district,contact_email\nt-shelby,Shelbyville Unified School District,it@shelbyville.example\n",
            file: "more.csv")
    }

    func scheduled(tenant: String, district: String, contact: String) async throws -> String {
        let integration = try await service.requestIntegration(
            tenantID: tenant, district: district, permission: "rule-based", contactEmail: contact, sender: .system)
        let step = try await service.authenticate(integrationID: integration.id, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "authenticated", step.reason ?? "")
        _ = try await service.schedule(integrationID: integration.id, time: "02:30", timezone: "America/Chicago", actor: "school")
        return integration.id
    }

    func bundle(_ name: String, seed: UInt64) throws -> String {
        let path = folder + "/" + name
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: 60, classes: 4, enrollments: 200, version: "1.2", seed: seed)
        return path
    }

    func lines(_ bundle: String, _ file: String) throws -> [String] {
        try String(contentsOfFile: bundle + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// A copy of `bundle` in which the SIS re-keyed `oldID` to `newID` (same username, e-mail, identifier; its roles and
    /// enrollments re-pointed).
    func rekeyed(_ bundle: String, oldID: String, newID: String) throws -> String {
        let path = bundle + "-rekeyed"
        try FileManager.default.copyItem(atPath: bundle, toPath: path)
        for file in ["users.csv", "roles.csv", "enrollments.csv"] where FileManager.default.fileExists(atPath: path + "/" + file) {
            let rewritten = try lines(path, file).map { line in
                (line.hasPrefix(oldID + ",") ? newID + line.dropFirst(oldID.count) : Substring(line))
                    .replacingOccurrences(of: ",\(oldID),", with: ",\(newID),")
            }
            try (rewritten.joined(separator: "\n") + "\n").write(toFile: path + "/" + file, atomically: true, encoding: .utf8)
        }
        return path
    }

    func testCollidingSourcedIdsOfThreeDistrictsNeverMix() async throws {
        let a = try await scheduled(tenant: "t-spring", district: "Springfield USD", contact: "it@springfield.example")
        let b = try await scheduled(tenant: "t-obrien", district: "O'Brien & <Sons> ISD", contact: "admin@obrien.example")
        let c = try await scheduled(tenant: "t-shelby", district: "Shelbyville USD", contact: "ops@shelbyville.example")
        let bundles = [a: try bundle("a", seed: 7), b: try bundle("b", seed: 8), c: try bundle("c", seed: 9)]
        for (integration, path) in bundles {
            let run = try await service.runSync(integrationID: integration, bundlePath: path, actor: "test")
            XCTAssertEqual(run.decision, "applied", "\(run.reasons)")
        }
        // The same student sourcedId, a different person in each district.
        let student = try XCTUnwrap(try lines(bundles[a]!, "users.csv").first { $0.hasPrefix("stu-0") }.map { String($0.split(separator: ",")[0]) })
        let titles = try [a, b, c].map { integration in
            try XCTUnwrap(service.store.readNow {
                try $0.rosterRecords(integrationID: integration, entity: "users", sourcedIDs: [student]).first?.title
            })
        }
        XCTAssertEqual(Set(titles).count, 3, "the generated districts name their \(student) differently: \(titles)")

        // Without --integration the history refuses to guess and names every integration that has the id.
        let ambiguous = await assertRefused(.invalidInput) { try self.service.rosterHistory(sourcedID: student) }
        for integration in [a, b, c] { XCTAssertTrue(ambiguous?.message.contains(integration) ?? false, ambiguous?.message ?? "") }
        XCTAssertTrue(ambiguous?.message.contains("--integration") ?? false)

        // Re-key the student in B only, and merge.
        let renamed = try rekeyed(bundles[b]!, oldID: student, newID: "stu-new-1")
        let held = try await service.runSync(integrationID: b, bundlePath: renamed, actor: "test")
        XCTAssertEqual(held.decision, "held", "\(held.reasons)")
        XCTAssertEqual(held.merges.filter { $0.entity == "users" }.map(\.oldID), [student])
        _ = try await service.approveSync(runID: held.id, merge: true, actor: "vendor")

        for (index, integration) in [a, b, c].enumerated() {
            let history = try service.rosterHistory(sourcedID: student, integrationID: integration)
            XCTAssertEqual(Set(history.map(\.integrationID)), [integration])
            XCTAssertEqual(Set(history.compactMap(\.title)), [titles[index]], "only this district's name")
            XCTAssertEqual(history.map(\.operation), integration == b ? ["add", "delete", "merged-into"] : ["add"])
            let aliases = try service.store.readNow { try $0.aliases(involving: student, integrationID: integration) }
            XCTAssertEqual(aliases.map(\.newID), integration == b ? ["stu-new-1"] : [])
            let current = try service.store.readNow {
                try $0.currentSourcedID(integrationID: integration, entity: "users", sourcedID: student)
            }
            XCTAssertEqual(current, integration == b ? "stu-new-1" : student)
            let record = try service.store.readNow {
                try $0.rosterRecords(integrationID: integration, entity: "users", sourcedIDs: [student]).first?.title
            }
            XCTAssertEqual(record, integration == b ? nil : titles[index], "the merge in B leaves A and C's record alone")
        }

        // The new id exists in B only: no --integration needed, and asking another integration is "not found".
        XCTAssertEqual(try service.rosterHistory(sourcedID: "stu-new-1").map(\.operation), ["add", "merged-from"])
        XCTAssertEqual(Set(try service.rosterHistory(sourcedID: "stu-new-1").map(\.integrationID)), [b])
        let elsewhere = await assertRefused(.notFound) { try self.service.rosterHistory(sourcedID: "stu-new-1", integrationID: a) }
        XCTAssertTrue(elsewhere?.message.contains(b) ?? false, elsewhere?.message ?? "")
        await assertRefused(.notFound) { try self.service.rosterHistory(sourcedID: "stu-nobody") }
        await assertRefused(.notFound) { try self.service.rosterHistory(sourcedID: student, integrationID: "int_nope") }

        // The store's own lookups agree: three integrations know the old id, one the new.
        let entities = RosterEntity.allCases.map(\.rawValue)
        XCTAssertEqual(try service.store.readNow { try $0.integrationsKnowing(sourcedID: student, entities: entities) }, [a, b, c].sorted())
        XCTAssertEqual(try service.store.readNow { try $0.integrationsKnowing(sourcedID: "stu-new-1", entities: entities) }, [b])
    }
}
