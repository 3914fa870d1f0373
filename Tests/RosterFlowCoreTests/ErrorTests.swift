import RosterFlowApp
import CodedErrors
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// Errors keep where they were made, translate with their module's code, and an error nothing translates is
/// "unexpected", not a storage error.
final class ErrorTests: XCTestCase {
    func testEveryCodedErrorKeepsItsThrowSite() {
        let line = #line + 1
        let domain = RosterFlowError(.notFound, "there is no integration int_x")
        XCTAssertEqual(domain.site.fileID, "RosterFlowCoreTests/ErrorTests.swift")
        XCTAssertEqual(domain.site.line, line)
        XCTAssertEqual(domain.site.description, "RosterFlowCoreTests/ErrorTests.swift:\(line)")

        let storage = StorageError(.database, "disk full")
        XCTAssertEqual(storage.site.line, #line - 1)
        let bundle = OneRosterBundleError.notABundle("/tmp/x.txt")
        XCTAssertEqual(bundle.site.line, #line - 1)
        XCTAssertEqual(bundle.site.fileID, "RosterFlowCoreTests/ErrorTests.swift")
        let csv = CSVReadError.invalidUTF8(line: 3, field: 1)
        XCTAssertEqual(csv.site.line, #line - 1)
        XCTAssertEqual(csv.message, "line 3: field 2 is not valid UTF-8")

        // The site is a diagnostic: errors made in different places are still the same error.
        XCTAssertEqual(bundle, OneRosterBundleError.notABundle("/tmp/x.txt"))
        XCTAssertNotEqual(bundle, OneRosterBundleError.notABundle("/tmp/y.txt"))
    }

    func testWrapKeepsTheModuleCodeAndSite() {
        let storage = StorageError(.staleInstance, "changed since you read it")
        let wrapped = RosterFlowError.wrap(storage)
        XCTAssertEqual(wrapped.code, .stale)
        XCTAssertEqual(wrapped.cause, "stale-instance")
        XCTAssertEqual(wrapped.site.line, storage.site.line)

        let missing = RosterFlowError.wrap(OneRosterBundleError.notFound("/nowhere"))
        XCTAssertEqual(missing.code, .notFound)
        XCTAssertEqual(missing.cause, "bundle-not-found")
        XCTAssertEqual(missing.message, "/nowhere does not exist")
        XCTAssertEqual(RosterFlowError.wrap(OneRosterBundleError.badZip("/b.zip", "cut off")).code, .invalidInput)
        XCTAssertEqual(RosterFlowError.wrap(CSVReadError.invalidUTF8(line: 1, field: 0)).code, .invalidInput)
        XCTAssertEqual(RosterFlowError.wrap(SampleBundle.GeneratorError.badCount("users must be at least 1")).code, .invalidInput)
    }

    struct Surprise: Error {}

    func testAnErrorNothingTranslatesIsUnexpectedAndNamedByItsType() {
        let wrapped = RosterFlowError.wrap(Surprise())
        XCTAssertEqual(wrapped.code, .unexpected)
        XCTAssertEqual(wrapped.codeName, "unexpected")
        XCTAssertTrue(wrapped.message.contains("ErrorTests.Surprise"), wrapped.message)
        XCTAssertNotEqual(wrapped.code, .storage)
        // Foundation's file errors stay I/O errors.
        XCTAssertEqual(RosterFlowError.wrap(CocoaError(.fileWriteNoPermission)).code, .storage)
    }

    func testTheServiceReportsWhereItRefused() async throws {
        let service = try await Fixture.service()
        let error = await assertRefused(.notFound) { try service.integration(id: "int_nope") }
        XCTAssertTrue(error?.site.fileID.hasPrefix("RosterFlowCore/RosterFlowService") ?? false, "\(String(describing: error?.site))")
    }

    /// A copy of Workflows/ with a state the code relies on renamed is refused when loaded, naming the state; the
    /// versions a database already stores still open.
    func testWorkflowsLackingADomainStateAreRefused() async throws {
        let folder = try Fixture.folder() + "/Workflows"
        try FileManager.default.copyItem(atPath: Fixture.workflows, toPath: folder)
        let file = folder + "/integration.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(text.contains("on_hold"))
        try text.replacingOccurrences(of: "on_hold", with: "waiting_for_review").write(toFile: file, atomically: true, encoding: .utf8)

        let database = try Fixture.folder() + "/rf.sqlite"
        do {
            _ = try RosterFlowService(databasePath: database, workflowsPath: folder)
            XCTFail("a definition without on_hold was accepted")
        } catch let error as RosterFlowError {
            XCTAssertEqual(error.code, .workflowDefinition)
            XCTAssertEqual(error.cause, "invalid-workflow")
            XCTAssertTrue(error.message.contains("[missing-required-state]"), error.message)
            XCTAssertTrue(error.message.contains("no state 'on_hold'"), error.message)
        }
        _ = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows)
        _ = try RosterFlowService(databasePath: database, workflowsPath: nil)
    }
}
