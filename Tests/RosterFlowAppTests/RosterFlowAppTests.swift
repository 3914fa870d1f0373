import Foundation
import Notifications
import RosterFlowApp
import RosterFlowCore
import XCTest

/// The composition root builds a working RosterFlow from configuration alone.
final class RosterFlowAppTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func testAnAppFromConfigurationSendsWhatItsWorkflowsEnqueue() async throws {
        let folder = NSTemporaryDirectory() + "rosterflow-app-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var notifications = try NotificationConfig.load(file: nil, environment: [:])
        notifications.recipients["vendor_admins"] = ["ana@vendor.test"]
        let app = try RosterFlowApp(AppConfiguration(
            databasePath: folder + "/app.sqlite", workflowsPath: Self.repositoryRoot + "/Workflows", notifications: notifications,
            templatesPath: Self.repositoryRoot + "/Templates", workerID: "test-worker"))
        XCTAssertEqual(app.configuration.spoolFolder, folder + "/outbox-spool")
        XCTAssertEqual(app.backgroundServices(logger: .init(label: "test")).count, 3)

        _ = try await app.service.requestIntegration(
            tenantID: "t1", district: "Springfield USD", permission: "full", contactEmail: "it@springfield.example",
            sender: Sender(actor: "classlink", role: .system))
        let report = try await app.runOnce()
        XCTAssertEqual(report.sent, 1)
        let spooled = try FileManager.default.contentsOfDirectory(atPath: folder + "/outbox-spool")
        XCTAssertEqual(spooled.count, 1)
        let mail = try String(contentsOfFile: folder + "/outbox-spool/" + spooled[0], encoding: .utf8)
        XCTAssertTrue(mail.contains("To: ana@vendor.test"), mail)
    }

    func testAMissingTemplateStopsTheAppFromStarting() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-app-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/Templates", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // An empty folder overrides nothing (the built-in templates stay); its own manifest listing no template
        // replaces the built-in one, and then the templates the workflows send are missing.
        XCTAssertNoThrow(try RosterFlowApp(AppConfiguration(
            databasePath: folder + "/app.sqlite", workflowsPath: Self.repositoryRoot + "/Workflows",
            notifications: try NotificationConfig.load(file: nil, environment: [:]), templatesPath: folder + "/Templates")))
        try #"{"templates": {}}"#.write(toFile: folder + "/Templates/templates.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RosterFlowApp(AppConfiguration(
            databasePath: folder + "/app.sqlite", workflowsPath: Self.repositoryRoot + "/Workflows",
            notifications: try NotificationConfig.load(file: nil, environment: [:]), templatesPath: folder + "/Templates"))) { error in
            XCTAssertTrue("\(error)".contains("integration-requested"), "\(error)")
        }
    }

    /// The shipped workflows and templates are built into the binary; they must be the repository's files, byte for byte.
    func testBuiltInsEqualTheRepositoryFiles() throws {
        let fix = "the built-ins differ from the repository's files: run `bash scripts/embed-builtins` and commit the result"
        let workflows = try FileManager.default.contentsOfDirectory(atPath: Self.repositoryRoot + "/Workflows")
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        XCTAssertEqual(Set(BuiltIns.workflowFiles.keys), Set(workflows), fix)
        for name in workflows {
            let file = try Data(contentsOf: URL(fileURLWithPath: Self.repositoryRoot + "/Workflows/" + name))
            XCTAssertEqual(BuiltIns.workflowFiles[name], file, "\(name): \(fix)")
            XCTAssertEqual(BuiltIns.workflows.first { $0.file == name }?.text, String(decoding: file, as: UTF8.self), fix)
        }
        let templates = try FileManager.default.contentsOfDirectory(atPath: Self.repositoryRoot + "/Templates")
            .filter { $0 == "templates.json" || $0.hasSuffix(".mustache") }
        XCTAssertEqual(Set(BuiltIns.templates.keys), Set(templates), fix)
        for name in templates {
            let file = try Data(contentsOf: URL(fileURLWithPath: Self.repositoryRoot + "/Templates/" + name))
            XCTAssertEqual(BuiltIns.templates[name], file, "\(name): \(fix)")
        }
    }

    /// Without a folder the built-in definitions run; a folder's definition of a workflow replaces the built-in one,
    /// and the workflows it does not define stay built in.
    func testAWorkflowsFolderOverridesTheBuiltInsByWorkflow() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-app-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/Workflows", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bare = try RosterFlowService(databasePath: folder + "/bare.sqlite", workflowsPath: nil, builtIn: BuiltIns.workflows)
        XCTAssertEqual(Set(bare.runtime.current.keys), ["integration", "course-mapping", "class-import"])
        XCTAssertThrowsError(try RosterFlowService(databasePath: folder + "/none.sqlite", workflowsPath: nil), "no built-ins, no folder")

        // The folder's course-mapping (a later version, with a state of its own) replaces the built-in one.
        let shipped = try XCTUnwrap(BuiltIns.workflows.first { $0.file == "course-mapping.yaml" }?.text)
        let version = try XCTUnwrap(bare.runtime.current["course-mapping"]?.version)
        let changed = shipped.replacingOccurrences(of: "\nversion: \(version)\n", with: "\nversion: \(version + 40)\n")
        XCTAssertNotEqual(changed, shipped)
        try changed.write(toFile: folder + "/Workflows/mine.yaml", atomically: true, encoding: .utf8)
        let overridden = try RosterFlowService(
            databasePath: folder + "/over.sqlite", workflowsPath: folder + "/Workflows", builtIn: BuiltIns.workflows)
        XCTAssertEqual(overridden.runtime.current["course-mapping"]?.version, version + 40)
        XCTAssertNotNil(overridden.runtime.current["integration"], "the workflow the folder does not define stays built in")
        XCTAssertEqual(overridden.runtime.definitions["course-mapping"]?.count, 1, "the built-in one is not recorded")
    }
}
