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
        XCTAssertThrowsError(try RosterFlowApp(AppConfiguration(
            databasePath: folder + "/app.sqlite", workflowsPath: Self.repositoryRoot + "/Workflows",
            notifications: try NotificationConfig.load(file: nil, environment: [:]), templatesPath: folder + "/Templates")))
    }
}
