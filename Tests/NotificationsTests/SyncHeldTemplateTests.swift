import Foundation
@testable import Notifications
import XCTest

/// The `sync-held` mail names the held run and how it is reviewed and decided; a hold without a run leaves that out.
final class SyncHeldTemplateTests: XCTestCase {
    func testTheHeldMailNamesTheRunAndHowToReviewAndDecideIt() throws {
        let catalog = try TemplateCatalog(folder: Paths.templates)
        let template = try XCTUnwrap(catalog["sync-held"])
        XCTAssertTrue(template.variables.contains("sync_run"))
        let values = ["district": "Springfield USD", "tenant_id": "t1", "integration_id": "int_1", "reason": "too many deletes"]
        let mail = template.render(values.merging(["sync_run": "run_abc123"]) { $1 })
        XCTAssertTrue(mail.subject.contains("run_abc123"), mail.subject)
        for part in [mail.text, mail.html] {
            XCTAssertTrue(part.contains("rosterflow sync show run_abc123 --changes"), part)
            XCTAssertTrue(part.contains("rosterflow sync approve run_abc123"), part)
            XCTAssertTrue(part.contains("rosterflow sync reject run_abc123"), part)
        }
        let manual = template.render(values)
        XCTAssertFalse(manual.text.contains("sync show"), manual.text)
        XCTAssertFalse(manual.subject.contains("("), manual.subject)
    }
}
