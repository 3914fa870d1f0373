import RosterFlowApp
import Foundation
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Authentication compares the request with the customer registry: tenant, district name, contact domain, and the
/// tenant's other open integrations. A customer's request that differs waits for the vendor admin.
final class AuthenticationTests: XCTestCase {
    var service: RosterFlowService!

    override func setUp() async throws {
        service = try await Fixture.service()
    }

    func request(tenant: String = "t-spring", district: String = "Springfield USD", contact: String = "it@springfield.example")
        async throws -> String
    {
        try await service.requestIntegration(
            tenantID: tenant, district: district, permission: "rule-based", contactEmail: contact, sender: .system
        ).id
    }

    func notices(_ id: String, _ template: String) throws -> [OutboxRecord] {
        try service.store.readNow { try $0.outbox(instanceID: id) }.filter { $0.template == template }
    }

    func testAnExactMatchIsAuthenticatedDirectlyEvenWrittenDifferently() async throws {
        let exact = try await request()
        let step = try await service.authenticate(integrationID: exact, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "authenticated")
        XCTAssertNil(step.reason)
        // The same district and organisation, written as people write them.
        let service = try await Fixture.service()
        self.service = service
        let variant = try await request(district: "  springfield unified school district. ", contact: "Rostering@IT.Springfield.Example")
        let variantStep = try await service.authenticate(integrationID: variant, actor: Fixture.vendor)
        XCTAssertEqual(variantStep.to, "authenticated")
        XCTAssertTrue(try notices(variant, "integration-needs-review").isEmpty)
    }

    func testAnotherDistrictNameIsHeldForReviewWithBothRecordsSideBySide() async throws {
        let id = try await request(district: "Shelbyville USD")
        let step = try await service.authenticate(integrationID: id, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "needs_review")
        XCTAssertEqual(step.reason, "the request differs from the customer registry: "
            + "the district is 'Shelbyville USD' in the request but 'Springfield USD' in the registry")

        let view = try service.integration(id: id)
        let check = try XCTUnwrap(view.registryCheck)
        XCTAssertEqual(check.request.district, "Shelbyville USD")
        XCTAssertEqual(check.registry?.district, "Springfield USD")
        XCTAssertEqual(check.differences.count, 1)
        XCTAssertFalse(check.matches)
        XCTAssertTrue(check.sideBySide.contains("Shelbyville USD"), check.sideBySide)
        XCTAssertTrue(check.sideBySide.contains("Springfield USD"), check.sideBySide)

        // The vendor admins are told, with both records; the task names who decides.
        let notice = try XCTUnwrap(try notices(id, "integration-needs-review").first)
        XCTAssertEqual(notice.recipient, "vendor_admins")
        let payload = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(notice.payload.utf8)) as? [String: String])
        XCTAssertTrue(payload["report"]?.contains("Springfield USD") ?? false, notice.payload)
        XCTAssertTrue(payload["report"]?.contains("Shelbyville USD") ?? false, notice.payload)
        let task = try XCTUnwrap(try service.tasks(integrationID: id).first)
        XCTAssertEqual(task.owner, "vendor_admin")
        XCTAssertEqual(task.state, "needs_review")
        XCTAssertEqual(task.registryCheck?.registry?.district, "Springfield USD", "the task carries both records")
        XCTAssertEqual(task.registryCheck?.request.district, "Shelbyville USD")

        // Authenticating again checks again: still different, so refused, and nothing moves.
        let again = await assertRefused(.refused) { try await self.service.authenticate(integrationID: id, actor: Fixture.vendor) }
        XCTAssertTrue(again?.message.contains("Shelbyville USD") ?? false, again?.message ?? "")
        // Confirming needs a reason; with one, the vendor admin's decision is stored with what it overrode.
        await assertRefused(.invalidInput) {
            try await self.service.authenticate(integrationID: id, actor: Fixture.vendor, confirmMismatch: true, reason: " ")
        }
        let confirmed = try await service.authenticate(
            integrationID: id, actor: Fixture.vendor, confirmMismatch: true, reason: "Shelbyville is Springfield's new name")
        XCTAssertEqual(confirmed.to, "authenticated")
        XCTAssertEqual(confirmed.event, "confirm_customer")
        XCTAssertTrue(confirmed.reason?.contains("Shelbyville is Springfield's new name") ?? false, confirmed.reason ?? "")
        XCTAssertTrue(confirmed.reason?.contains("'Shelbyville USD' in the request") ?? false, confirmed.reason ?? "")
        XCTAssertNil(try service.integration(id: id).registryCheck, "shown only until authenticated")
    }

    func testAnotherContactDomainIsHeldAndCanBeRejected() async throws {
        let id = try await request(contact: "springfield.it@freemail.example")
        let step = try await service.authenticate(integrationID: id, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "needs_review")
        XCTAssertTrue(step.reason?.contains("the contact's e-mail domain is 'freemail.example' in the request but "
            + "'springfield.example' in the registry") ?? false, step.reason ?? "")
        let rejected = try await service.send("reject", to: id, role: .vendorAdmin, actor: Fixture.vendor, reason: "not their domain")
        XCTAssertEqual(rejected.to, "rejected")
    }

    func testASecondOpenIntegrationOfTheTenantIsHeldUntilTheFirstCloses() async throws {
        let first = try await Fixture.scheduledIntegration(service)
        let second = try await request()
        let step = try await service.authenticate(integrationID: second, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "needs_review")
        XCTAssertTrue(step.reason?.contains("tenant 't-spring' already has an open integration: \(first) (Springfield USD, scheduled)")
            ?? false, step.reason ?? "")
        XCTAssertEqual(try service.integration(id: second).registryCheck?.openIntegrations.map(\.id), [first])

        // A rejected or disabled integration is not open: once the first is switched off, the check passes.
        _ = try await service.send("disable", to: first, role: .vendorAdmin, actor: Fixture.vendor)
        let rechecked = try await service.authenticate(integrationID: second, actor: Fixture.vendor)
        XCTAssertEqual(rechecked.to, "authenticated")
    }

    func testANonCustomerIsStillRejectedWithTheReasonSaidOnce() async throws {
        let id = try await request(tenant: "t-unknown", district: "Shelbyville", contact: "a@b.example")
        let step = try await service.authenticate(integrationID: id, actor: Fixture.vendor)
        XCTAssertEqual(step.to, "rejected")
        XCTAssertEqual(step.reason, "not an existing customer: tenant 't-unknown' (Shelbyville) is not in the customer registry")
    }

    func testAConfirmationOfARequestNotHeldIsRefused() async throws {
        let id = try await request()
        let refused = await assertRefused(.refused) {
            try await self.service.authenticate(integrationID: id, actor: Fixture.vendor, confirmMismatch: true, reason: "sure")
        }
        XCTAssertTrue(refused?.message.contains("not held for review") ?? false, refused?.message ?? "")
        XCTAssertEqual(try service.integration(id: id).state, "requested")
    }

    func testARequestMadeUnderAnOlderDefinitionIsNotAuthenticatedSilentlyEither() async throws {
        // Version 3 of the integration workflow: authenticate checked the tenant only, and there was no needs_review.
        let folder = try Fixture.folder()
        let old = folder + "/v3"
        try FileManager.default.createDirectory(atPath: old, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixture.workflows + "/course-mapping.yaml", toPath: old + "/course-mapping.yaml")
        var yaml = try String(contentsOfFile: Fixture.workflows + "/integration.yaml", encoding: .utf8)
        let start = try XCTUnwrap(yaml.range(of: "  needs_review:\n")), end = try XCTUnwrap(yaml.range(of: "  authenticated:\n"))
        yaml.removeSubrange(start.lowerBound..<end.lowerBound)
        yaml = yaml.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("to: needs_review") }
            .joined(separator: "\n").replacingOccurrences(of: "guard: registry_matches", with: "guard: existing_customer")
        let current = try XCTUnwrap(service.runtime.current["integration"]?.version)
        try yaml.replacingOccurrences(of: "version: \(current)", with: "version: \(current - 1)")
            .write(toFile: old + "/integration.yaml", atomically: true, encoding: .utf8)
        let database = folder + "/v.sqlite"
        let first = try RosterFlowService(databasePath: database, workflowsPath: old)
        _ = try await first.importCustomers(csv: Fixture.registry, file: "c.csv")
        let differing = try await first.requestIntegration(
            tenantID: "t-spring", district: "Shelbyville USD", permission: "full", contactEmail: "it@springfield.example", sender: .system)
        XCTAssertEqual(differing.workflowVersion, current - 1)

        let upgraded = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows)
        let refused = await assertRefused(.refused) { try await upgraded.authenticate(integrationID: differing.id, actor: Fixture.vendor) }
        XCTAssertTrue(refused?.message.contains("'Shelbyville USD' in the request") ?? false, refused?.message ?? "")
        XCTAssertTrue(refused?.message.contains("--confirm-mismatch") ?? false, refused?.message ?? "")
        XCTAssertEqual(try upgraded.integration(id: differing.id).state, "requested")
        let confirmed = try await upgraded.authenticate(
            integrationID: differing.id, actor: Fixture.vendor, confirmMismatch: true, reason: "checked with the district")
        XCTAssertEqual(confirmed.to, "authenticated")
        XCTAssertTrue(confirmed.reason?.contains("checked with the district") ?? false)
    }

    func testDistrictNamesAreComparedWithoutCasePunctuationOrDistrictTypeWords() {
        let same = ["Springfield USD", "springfield unified school district", "Springfield Public Schools", "SPRINGFIELD, U.S.D.",
                    "The Springfield School District", "Springfield"]
        XCTAssertEqual(Set(same.map(DistrictName.normalised)), ["springfield"], same.map(DistrictName.normalised).description)
        XCTAssertEqual(DistrictName.normalised("O'Brien & <Sons> I.S.D."), DistrictName.normalised("OBrien and Sons Independent School District"))
        XCTAssertNotEqual(DistrictName.normalised("Springfield USD"), DistrictName.normalised("Shelbyville USD"))
        XCTAssertNotEqual(DistrictName.normalised("Springfield City Schools"), DistrictName.normalised("Springfield County Schools"))
        XCTAssertEqual(DistrictName.normalised("District"), "district", "a name is never reduced to nothing")
        XCTAssertTrue(EmailDomain.sameOrganisation(EmailDomain.of("a@IT.Springfield.example."), "springfield.example"))
        XCTAssertFalse(EmailDomain.sameOrganisation(EmailDomain.of("a@notspringfield.example"), "springfield.example"))
    }
}
