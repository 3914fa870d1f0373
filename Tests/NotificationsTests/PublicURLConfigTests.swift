import Foundation
import XCTest

@testable import Notifications

/// The dashboard's public URL for links in e-mails: from the file or the environment, checked, and offered to every
/// template as `public_url`.
final class PublicURLConfigTests: XCTestCase {
    func testThePublicURLComesFromTheFileOrTheEnvironmentAndMustBeHTTP() throws {
        XCTAssertNil(try NotificationConfig.load(file: nil, environment: [:]).publicURL)
        XCTAssertEqual(
            try NotificationConfig.load(file: nil, environment: ["ROSTERFLOW_PUBLIC_URL": "https://rf.example.org"]).publicURL,
            "https://rf.example.org")
        let file = NSTemporaryDirectory() + "rf-public-url-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try #"{"public_url": "http://127.0.0.1:8080"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try NotificationConfig.load(file: file, environment: [:]).publicURL, "http://127.0.0.1:8080")
        XCTAssertEqual(
            try NotificationConfig.load(file: file, environment: ["ROSTERFLOW_PUBLIC_URL": "https://rf.example.org"]).publicURL,
            "https://rf.example.org", "the environment overrides the file")
        XCTAssertThrowsError(try NotificationConfig.load(file: nil, environment: ["ROSTERFLOW_PUBLIC_URL": "rf.example.org"])) { error in
            XCTAssertTrue("\(error)".contains("public_url"), "\(error)")
        }
        XCTAssertTrue(PayloadKeys.rendering.contains("public_url"))
    }
}
