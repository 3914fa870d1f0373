import Foundation
@testable import RosterFlowCore
@testable import RosterFlowServer
import XCTest

/// The hand-written JSON of the hottest answers is byte for byte what `JSONEncoder` (sorted keys) writes: every field
/// set, every optional absent, and strings that need escaping.
final class FastJSONTests: XCTestCase {
    private func assertSameBytes<T: FastJSONEncodable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        var json = JSONBytes()
        value.writeJSON(to: &json)
        let expected = try Problems.encoder.encode(value)
        XCTAssertEqual(
            String(decoding: json.bytes, as: UTF8.self), String(decoding: expected, as: UTF8.self), file: file, line: line)
    }

    /// Quotes, backslashes, every control character, a slash, DEL, and text beyond ASCII.
    private static let awkward = "a\"b\\c/d" + (0..<32).map { String(UnicodeScalar(UInt8($0))) }.joined() + "\u{7F}é 東京 🎒"

    private static func view(all: Bool) -> IntegrationView {
        var view = IntegrationView(
            id: "int-1", state: "scheduled", tenantID: all ? Self.awkward : "t-1", district: "Springfield \"USD\"", permission: "full",
            contactEmail: "it@springfield.example", syncTime: all ? "02:30" : nil, timezone: all ? "America/Chicago" : nil,
            nextSyncAt: all ? "2026-12-01T08:30:00Z" : nil, workflowVersion: 7, rowVersion: -3, courseCount: 12,
            allowedEvents: all ? [AllowedEvent(event: "pause", roles: ["vendor_admin", "school_admin"]), AllowedEvent(event: "x", roles: [])] : [],
            history: all ? [
                HistoryEntry(from: nil, to: "requested", event: "request", actor: "classlink", role: "system", at: "2026-11-30T00:00:00Z"),
                HistoryEntry(from: "requested", to: "authenticated", event: "authenticate", actor: "a\nb", role: "vendor_admin",
                             at: "2026-11-30T00:01:00Z", reason: Self.awkward),
            ] : [])
        if all {
            view.warnings = ["one", Self.awkward]
            view.pausedUntil = "2027-08-01"
            view.pauseReason = "summer"
            view.provisioningMode = "on-demand"
            view.enteredStateAt = "2026-11-30T00:01:00Z"
            view.registryCheck = RegistryComparison(
                request: .init(tenantID: "t-1", district: "Springfield", contactEmail: "it@springfield.example"), registry: nil,
                differences: ["not a customer"], openIntegrations: [])
        }
        return view
    }

    func testAnIntegrationIsWrittenAsJSONEncoderWritesIt() throws {
        try assertSameBytes(Self.view(all: true))
        try assertSameBytes(Self.view(all: false))
    }

    func testAPageOfIntegrationsIsWrittenAsJSONEncoderWritesIt() throws {
        try assertSameBytes(Paging.Page(items: [Self.view(all: true), Self.view(all: false)], nextCursor: "abc/def"))
        try assertSameBytes(Paging.Page(items: [Self.view(all: false)], nextCursor: nil))
        try assertSameBytes(Paging.Page<IntegrationView>(items: [], nextCursor: nil))
    }

    /// An event's answer, with and without a reason and follow-ups, at times whole and fractional.
    func testAnAppliedStepIsWrittenAsJSONEncoderWritesIt() throws {
        let followUp = AppliedStep(
            instanceID: "int-1", workflow: "integration", event: "content_mapped", from: "shells_created", to: "content_mapped",
            actor: "rosterflow", role: "system", at: 1_764_561_234, reason: nil, rowVersion: 9, followUps: [])
        for at in [1_764_561_234.0, 1_764_561_234.123456, 0.1, 0, -3.5, 1e-7, 1e16, 1_764_561_234.987654321] {
            try assertSameBytes(AppliedStep(
                instanceID: "crs-1", workflow: "course-mapping", event: "add_content", from: "verified", to: "content_added",
                actor: Self.awkward, role: "dsp", at: at, reason: Self.awkward, rowVersion: 4, followUps: [followUp, followUp]))
        }
        try assertSameBytes(followUp)
    }
}
