import RosterFlowApp
import Foundation
import GRDB
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Every change outside a workflow step is attributed: actor, time, before and after, in the change's transaction.
final class AuditTests: XCTestCase {
    func object(_ json: String?) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(XCTUnwrap(json).utf8)) as? [String: Any])
    }

    func testPolicySourceAndCustomerChangesAreRecordedWithActorBeforeAndAfter() async throws {
        let clock = TestClock()
        let service = try await Fixture.service(clock: clock)
        let id = try await Fixture.scheduledIntegration(service)
        let folder = try Fixture.folder()

        var policy = try service.syncPolicy(integrationID: id)
        policy.maxDeleteShare = 1.0
        try await service.setSyncPolicy(integrationID: id, policy: policy, actor: "cli:ana")
        try await service.setSyncPolicy(integrationID: id, policy: policy, actor: "cli:ana")  // no change: no entry
        try await service.setSyncSource(integrationID: id, source: folder, actor: "cli:bo")
        try await service.setSyncSource(integrationID: id, source: folder + "/", actor: "cli:cy")

        let entries = try service.audit(integrationID: id)
        XCTAssertEqual(entries.map(\.action), ["integration-policy", "integration-source", "integration-source"])
        XCTAssertEqual(entries.map(\.actor), ["cli:ana", "cli:bo", "cli:cy"])
        XCTAssertEqual(entries[0].at, Date(timeIntervalSince1970: clock.now).ISO8601Format())
        XCTAssertEqual(try object(entries[0].before)["maxDeleteShare"] as? Double, 0.1)
        XCTAssertEqual(try object(entries[0].after)["maxDeleteShare"] as? Double, 1.0)
        XCTAssertNil(entries[1].before)
        XCTAssertEqual(try object(entries[1].after)["source"] as? String, folder)
        XCTAssertEqual(try object(entries[2].before)["source"] as? String, folder)

        // Customers: the added and the changed are recorded, the unchanged are not.
        _ = try await service.importCustomers(csv: """
            tenant_id,district,contact_email
            t-spring,Springfield Unified,it@springfield.example
            t-obrien,"O'Brien & <Sons> ISD",admin@obrien.example
            t-new,New District,it@new.example
            """, file: "registry.csv", actor: "cli:dee")
        let customers = try service.audit().filter { $0.action == "customer-import" && $0.actor == "cli:dee" }
        XCTAssertEqual(customers.map(\.subject), ["t-spring", "t-new"])
        XCTAssertEqual(try object(customers[0].before)["district"] as? String, "Springfield USD")
        XCTAssertEqual(try object(customers[0].after)["district"] as? String, "Springfield Unified")
        XCTAssertEqual(try object(customers[0].after)["file"] as? String, "registry.csv")
        XCTAssertNil(customers[1].before)
        XCTAssertTrue(try service.audit(integrationID: id).allSatisfy { $0.integrationID == id }, "filtered by integration")
        await assertRefused(.notFound) { try service.audit(integrationID: "int_nope") }
    }

    func testApprovalsAndRejectionsAreRecordedAndARefusedOneIsNot() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        let folder = try Fixture.folder()
        let bundle = folder + "/b1"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: bundle), users: 200, classes: 10, enrollments: 800, version: "1.2", seed: 7)
        _ = try await service.runSync(integrationID: id, bundlePath: bundle, dryRun: false, revalidate: false, actor: "test")
        let enrollments = try String(contentsOfFile: bundle + "/enrollments.csv", encoding: .utf8).split(separator: "\n")
        try (enrollments.prefix(1 + 400).joined(separator: "\n") + "\n").write(toFile: bundle + "/enrollments.csv", atomically: true, encoding: .utf8)

        let held1 = try await service.runSync(integrationID: id, bundlePath: bundle, dryRun: false, revalidate: false, actor: "test")
        XCTAssertEqual(held1.decision, "held")
        _ = try await service.approveSync(runID: held1.id, withoutDeletes: true, actor: "cli:ana")
        await assertRefused(.refused) { try await service.approveSync(runID: held1.id, actor: "cli:eve") }
        await assertRefused(.refused) { try await service.rejectSync(runID: held1.id, actor: "cli:eve") }
        // The parked deletes are remembered, so the same export is not held again: an export omitting more is.
        try (enrollments.prefix(1 + 200).joined(separator: "\n") + "\n").write(toFile: bundle + "/enrollments.csv", atomically: true, encoding: .utf8)
        let held2 = try await service.runSync(integrationID: id, bundlePath: bundle, dryRun: false, revalidate: false, actor: "test")
        XCTAssertEqual(held2.decision, "held")
        _ = try await service.rejectSync(runID: held2.id, actor: "cli:bo")

        let entries = try service.audit(integrationID: id).filter { $0.action.hasPrefix("sync-") }
        XCTAssertEqual(entries.map(\.action), ["sync-approve", "sync-reject"])
        XCTAssertEqual(entries.map(\.actor), ["cli:ana", "cli:bo"], "the refused attempts left no entry")
        XCTAssertEqual(entries.map(\.subject), [held1.id, held2.id])
        XCTAssertEqual(try object(entries[0].before)["decision"] as? String, "held")
        XCTAssertEqual(try object(entries[0].after)["decision"] as? String, "approved-without-deletes")
        XCTAssertEqual(try object(entries[1].after)["decision"] as? String, "dropped")
    }

    func testTheAuditLogIsAppendOnly() async throws {
        let path = try Fixture.folder() + "/rf.sqlite"
        let service = try RosterFlowService(databasePath: path, workflowsPath: Fixture.workflows)
        _ = try await service.importCustomers(csv: Fixture.registry, file: "customers.csv")
        XCTAssertFalse(try service.audit().isEmpty, "the customer import is recorded")
        // Even SQL on the file, past the store's API, cannot rewrite or remove an entry.
        let database = try DatabaseQueue(path: path)
        func execute(_ sql: String) throws { try database.write { try $0.execute(sql: sql) } }
        XCTAssertThrowsError(try execute("UPDATE audit_log SET actor = 'someone else'"))
        XCTAssertThrowsError(try execute("DELETE FROM audit_log"))
        XCTAssertTrue(try service.audit().allSatisfy { $0.actor == Sender.system.actor })
    }
}

/// Values from outside: NUL bytes, e-mail addresses, SQL metacharacters.
final class HostileValueCoreTests: XCTestCase {
    func testNULBytesInNamesAreRemovedAndReported() async throws {
        let service = try await Fixture.service()
        let imported = try await service.importCustomers(
            csv: "tenant_id,district,contact_email\nt-nul,\"Nul\u{0}ville USD\",it@nul.example\n", file: "nul.csv")
        XCTAssertEqual(imported.warnings?.count, 1)
        XCTAssertTrue(imported.warnings?.first?.contains("nul.csv:2: district contained a NUL byte") == true, "\(imported)")
        XCTAssertEqual(try service.customers().first { $0.tenantID == "t-nul" }?.district, "Nulville USD")

        let view = try await service.requestIntegration(
            tenantID: "t-nul", district: "Nul\u{0}ville USD", permission: "full", contactEmail: "it@nul.example", sender: .system)
        XCTAssertEqual(view.district, "Nulville USD", "not cut at the NUL")
        XCTAssertEqual(view.warnings, ["the district name contained a NUL byte (\\u{0}), which was removed; check the value in the source"])
        let clean = try await service.requestIntegration(
            tenantID: "t-spring", district: "Springfield USD", permission: "full", contactEmail: "it@springfield.example", sender: .system)
        XCTAssertNil(clean.warnings)
    }

    func testContactEmailsMustBeAPlainAddrSpec() async throws {
        let refused = [
            #"a"b@x.example"#, "x@y.example?cc=z", "x?cc=z@y.example", "a b@x.example", "a@x .example", "a\u{1B}@x.example",
            "a@x.example\r\nBcc: v@evil.example", "a\u{0}@x.example", "<a@x.example>", "A <a@x.example>", "a@x.example,b@y.example",
            "a@@x.example", "a@x", "a@.x.example", "a@x..example", ".a@x.example", "a..b@x.example", "a@-x.example", "a@x.example.",
            "a@[127.0.0.1]", "(comment)a@x.example", "a\u{85}@x.example",
        ]
        for address in refused {
            XCTAssertFalse(EmailAddress.isPlausible(address), "accepted \(address.debugDescription)")
        }
        let accepted = ["it@springfield.example", "o'brien+it@sons.k12.ny.us", "first.last@x-y.example", "ÿ@bücher.example",
                        "a_b-c/d=e@x.example"]
        for address in accepted {
            XCTAssertTrue(EmailAddress.isPlausible(address), "refused \(address.debugDescription)")
        }
        let service = try await Fixture.service()
        await assertRefused(.invalidInput) {
            try await service.requestIntegration(
                tenantID: "t-spring", district: "Springfield USD", permission: "full", contactEmail: "x@y.example?cc=z", sender: .system)
        }
        await assertRefused(.invalidInput) {
            try await service.importCustomers(csv: "tenant_id,district,contact_email\nt9,D,\"a\"\"b@x.example\"\n", file: "c.csv")
        }
    }

    func testSQLMetacharactersAreStoredAsPlainText() async throws {
        let service = try await Fixture.service()
        let district = "Robert'); DROP TABLE customers;-- \"%_\\ USD"
        _ = try await service.importCustomers(
            csv: "tenant_id,district,contact_email\n\"t' OR '1'='1\",\"Robert'); DROP TABLE customers;-- \"\"%_\\ USD\",it@x.example\n",
            file: "c.csv")
        let view = try await service.requestIntegration(
            tenantID: "t' OR '1'='1", district: district, permission: "full", contactEmail: "it@x.example", sender: .system)
        XCTAssertEqual(try service.integration(id: view.id).district, district)
        XCTAssertEqual(try service.customers().count, 3, "the table is intact and holds exactly what was imported")
        XCTAssertEqual(try service.customers().first { $0.tenantID == "t' OR '1'='1" }?.district, district)
        let step = try await service.authenticate(integrationID: view.id, actor: "vendor")
        XCTAssertEqual(step.to, "authenticated", "the tenant id matched itself, not everything")
        XCTAssertEqual(try service.integrations(state: nil).filter { $0.district == "%" }.count, 0)
    }
}
