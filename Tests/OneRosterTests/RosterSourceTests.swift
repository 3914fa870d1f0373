import Foundation
@testable import OneRoster
import XCTest

/// The CSV bundle as a ``RosterSource``, and issue locations in the report's JSON.
final class RosterSourceTests: XCTestCase {
    func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rf-source-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func testCSVBundleSourceReadsWhatTheReaderReadsAndFingerprintsTheBytes() throws {
        let dir = try folder().appendingPathComponent("b")
        _ = try SampleBundle.write(to: dir, users: 20, classes: 2, enrollments: 40, version: "1.2", seed: 3)
        let source = CSVBundleSource(path: dir.path)
        XCTAssertEqual(source.description, dir.path)
        var seen = 0
        let read = try source.read(options: .init(retainRecords: false), held: NoHeldSourcedIds()) { _ in seen += 1 }
        var visited = 0
        let direct = try OneRosterBundleReader(options: .init(retainRecords: false)).read(at: dir) { _ in visited += 1 }
        XCTAssertEqual(read.report, direct.report)
        XCTAssertEqual(read.manifest, direct.manifest)
        XCTAssertGreaterThan(seen, 60)
        XCTAssertEqual(seen, visited)

        let before = try XCTUnwrap(try source.fingerprint())
        XCTAssertEqual(before.count, 64)
        XCTAssertEqual(try source.fingerprint(), before)
        try "\n".write(to: dir.appendingPathComponent("orgs.csv"), atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try source.fingerprint(), before)
        XCTAssertThrowsError(try CSVBundleSource(path: dir.path + "-missing").fingerprint()) { error in
            XCTAssertEqual((error as? OneRosterBundleError)?.code, .notFound)
        }
    }

    func testAFileIssueKeepsItsJSONFieldsAndNoMore() throws {
        let issue = ValidationIssue(severity: .error, code: .badDate, file: "users.csv", line: 7, column: "birthDate",
                                    value: "2026-13-01", sourcedId: "u7", message: "Bad.", fix: "Fix it.")
        XCTAssertEqual(issue.location, .file(name: "users.csv", line: 7, column: "birthDate"))
        let json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(issue)) as? [String: Any]
        XCTAssertEqual(json?["file"] as? String, "users.csv")
        XCTAssertEqual(json?["line"] as? Int, 7)
        XCTAssertEqual(json?["column"] as? String, "birthDate")
        XCTAssertEqual(json?["sourcedId"] as? String, "u7")
        XCTAssertNil(json?["location"], "a file position is its file, line and column: reports stay as small as they were")
        XCTAssertEqual(try JSONDecoder().decode(ValidationIssue.self, from: try JSONEncoder().encode(issue)), issue)
        XCTAssertEqual(issue.locationText, "users.csv:7")
    }

    func testAReportStoredBeforeLocationsDecodesAsFilePositions() throws {
        let old = #"{"code":"bad-date","file":"users.csv","fix":"Fix it.","line":7,"message":"Bad.","severity":"error"}"#
        let issue = try JSONDecoder().decode(ValidationIssue.self, from: Data(old.utf8))
        XCTAssertEqual(issue.location, .file(name: "users.csv", line: 7, column: nil))
    }

    func testARecordIssueRoundTripsAndRenders() throws {
        let issue = ValidationIssue(severity: .error, code: .danglingReference, entity: "enrollments", sourcedId: "e9",
                                    page: 3, column: "userSourcedId", value: "u404", message: "No such user.", fix: "Add it.")
        let decoded = try JSONDecoder().decode(ValidationIssue.self, from: try JSONEncoder().encode(issue))
        XCTAssertEqual(decoded, issue)
        XCTAssertEqual(decoded.location, .record(entity: "enrollments", sourcedId: "e9", page: 3))
        XCTAssertEqual(decoded.file, "enrollments")
        XCTAssertEqual(decoded.sourcedId, "e9")
        var report = ValidationReport()
        report.add(issue)
        XCTAssertEqual(report.errorCount, 1)
        XCTAssertEqual(report.countsByCode["dangling-reference"], 1)
        let text = report.rendered()
        XCTAssertTrue(text.contains("error   record e9 of enrollments, page 3 column userSourcedId value \"u404\""), text)
        XCTAssertEqual(ValidationIssue(severity: .info, code: .badDate, entity: "users", sourcedId: "u1",
                                       message: "m", fix: "f").locationText, "record u1 of users")
    }
}
