import Foundation
import OneRoster
import XCTest

/// Quarantine only what cannot be used: each tolerance loads the row with a warning of its own code, and a strict policy
/// turns it back into an error that quarantines the row.
final class ToleranceTests: OneRosterTestCase {
    func read(_ files: [String: String], strict: Set<IssueCode>) throws -> OneRosterBundle {
        let dir = try write(files)
        return try OneRosterBundleReader(options: .init(tolerance: ReadingTolerance(strict: strict))).read(at: dir)
    }

    func testADanglingOptionalParentLoadsTheOrgAndEverythingAfterIt() throws {
        var files = Fixture.bundle11()
        // The school's parent is a district outside the export.
        files["orgs.csv"] = Fixture.orgs.replacingOccurrences(of: "HS1,org-d", with: "HS1,org-elsewhere")
        let b = try read(files)
        let i = try issue(b, .danglingOptionalReference)
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.file, "orgs.csv")
        XCTAssertEqual(i.line, 3)
        XCTAssertEqual(i.column, "parentSourcedId")
        XCTAssertEqual(i.value, "org-elsewhere")
        XCTAssertTrue(i.message.contains("left unresolved"), i.message)
        XCTAssertTrue(b.quarantined.isEmpty, "\(b.quarantined)")
        XCTAssertEqual(b.orgs.first { $0.sourcedId == "org-s1" }?.parentSourcedId, "org-elsewhere", "shown as written")
        XCTAssertEqual(b.users.count, 3)
        XCTAssertEqual(b.enrollments.count, 3)
        XCTAssertFalse(b.report.hasErrors, b.report.rendered())

        let strict = try read(files, strict: [.danglingOptionalReference])
        let error = try issue(strict, .danglingOptionalReference)
        XCTAssertEqual(error.severity, .error)
        XCTAssertTrue(error.message.contains("--strict"), error.message)
        assertQuarantined(strict, file: "orgs.csv", line: 3, reason: .danglingOptionalReference)
        XCTAssertTrue(strict.users.isEmpty, "strict: the school's users follow it out")
    }

    func testOtherOptionalReferencesDangleWithAWarning() throws {
        var files = Fixture.bundle12()
        files["users.csv"] = Fixture.users12.replacingOccurrences(of: ",09,,,,,,org-s1,", with: ",09,,,,,,org-gone,")
        files["courses.csv"] = Fixture.courses.replacingOccurrences(of: "crs-1,,,as-y,", with: "crs-1,,,as-old,")
        files["academicSessions.csv"] = Fixture.sessions.replacingOccurrences(of: "as-t2,,,Spring,term,2025-01-06,2025-06-30,as-y",
                                                                              with: "as-t2,,,Spring,term,2025-01-06,2025-06-30,as-nope")
        let b = try read(files)
        let warnings = b.report.issues(withCode: .danglingOptionalReference)
        XCTAssertEqual(Set(warnings.map { "\($0.file):\($0.column ?? "")" }),
                       ["users.csv:primaryOrgSourcedId", "courses.csv:schoolYearSourcedId", "academicSessions.csv:parentSourcedId"])
        XCTAssertTrue(warnings.allSatisfy { $0.severity == .warning })
        XCTAssertTrue(b.quarantined.isEmpty, b.report.rendered())
        XCTAssertEqual(b.classes.count, 2)
    }

    func testARequiredReferenceStillQuarantines() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-404,org-s1,s-1,student,,,\n"
        let b = try read(files)
        XCTAssertEqual(try issue(b, .danglingReference).severity, .error)
        assertQuarantined(b, file: "enrollments.csv", line: 5, reason: .danglingReference)
    }

    func testLetterCaseOfEnumerationsAndBooleans() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: "BIO1-2,scheduled", with: "BIO1-2,Scheduled")
        files["enrollments.csv"] = Fixture.enrollments.replacingOccurrences(of: "e-3,,,cls-2,org-s1,s-2,student",
                                                                            with: "e-3,,,cls-2,org-s1,s-2,Student")
        let b = try read(files)
        let cases = b.report.issues(withCode: .enumLetterCase)
        let classType = try XCTUnwrap(cases.first { $0.column == "classType" })
        XCTAssertEqual(classType.severity, .warning)
        XCTAssertEqual(classType.value, "Scheduled")
        XCTAssertTrue(classType.message.contains("read as `scheduled`"), classType.message)
        XCTAssertEqual(b.classes.first { $0.sourcedId == "cls-2" }?.classType, .scheduled)
        XCTAssertEqual(b.enrollments.first { $0.sourcedId == "e-3" }?.role, .student)
        // The fixture's users carry `TRUE` and `False`.
        XCTAssertEqual(Set(cases.filter { $0.column == "enabledUser" }.map(\.value)), ["TRUE", "False"])
        XCTAssertEqual(b.users.first { $0.sourcedId == "s-1" }?.enabledUser, true)
        XCTAssertTrue(b.quarantined.isEmpty)
        // A value that is not the spec value in any case is still refused.
        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: "BIO1-2,scheduled", with: "BIO1-2,lab")
        assertQuarantined(try read(files), file: "classes.csv", line: 3, reason: .unknownEnumValue)

        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: "BIO1-2,scheduled", with: "BIO1-2,Scheduled")
        let strict = try read(files, strict: [.enumLetterCase])
        assertQuarantined(strict, file: "classes.csv", line: 3, reason: .enumLetterCase)
        assertQuarantined(strict, file: "users.csv", line: 3, reason: .enumLetterCase)
    }

    func testDateLastModifiedNeverQuarantines() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,2017-05-06 08:01:05,cls-1,org-s1,s-2,student,,,\n"
            + "e-10,,1/05/2023,cls-2,org-s1,s-1,student,,,\n"
            + "e-11,,last tuesday,cls-2,org-s1,t-1,teacher,,,\n"
        let b = try read(files)
        XCTAssertTrue(b.quarantined.isEmpty, b.report.rendered())
        let spaced = try issue(b, .nonISOTimestamp)
        XCTAssertEqual(spaced.severity, .warning)
        XCTAssertEqual(spaced.line, 5)
        XCTAssertEqual(b.enrollments.first { $0.sourcedId == "e-9" }?.dateLastModified,
                       try XCTUnwrap(OneRosterTimestamp.parse("2017-05-06T08:01:05Z").flatMap { if case .dateTime(let d) = $0 { d } else { nil } }))
        let unknown = b.report.issues(withCode: .unreadableTimestamp)
        XCTAssertEqual(unknown.map(\.line), [6, 7])
        XCTAssertTrue(unknown[0].message.contains("2023-01-05 (month first) or 2023-05-01 (day first)"), unknown[0].message)
        XCTAssertNil(b.enrollments.first { $0.sourcedId == "e-10" }?.dateLastModified)
        XCTAssertEqual(b.enrollments.count, 6)

        let strict = try read(files, strict: [.nonISOTimestamp, .unreadableTimestamp])
        assertQuarantined(strict, file: "enrollments.csv", line: 5, reason: .nonISOTimestamp)
        assertQuarantined(strict, file: "enrollments.csv", line: 6, reason: .unreadableTimestamp)
        assertQuarantined(strict, file: "enrollments.csv", line: 7, reason: .unreadableTimestamp)
        XCTAssertEqual(strict.enrollments.count, 3)
    }

    func testRosterDatesStayStrictAndNameBothReadings() throws {
        var files = Fixture.bundle11()
        files["academicSessions.csv"] = Fixture.sessions + "as-b,,,B,term,1/05/2023,2025-01-01,as-y,2025\n"
            + "as-c,,,C,term,13/05/2023,2025-01-01,as-y,2025\n"
        let b = try read(files)
        let dates = b.report.issues(withCode: .badDate)
        XCTAssertEqual(dates.count, 2)
        XCTAssertTrue(dates[0].message.contains("2023-01-05 (month first) or 2023-05-01 (day first)"), dates[0].message)
        XCTAssertTrue(dates[1].message.contains("read day first it would be 2023-05-13"), dates[1].message)
        assertQuarantined(b, file: "academicSessions.csv", line: 5, reason: .badDate)
        assertQuarantined(b, file: "academicSessions.csv", line: 6, reason: .badDate)
    }

    func testLegacyStatusIsATolerance() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,inactive,,cls-1,org-s1,s-2,student,,,\n"
        XCTAssertEqual(try issue(try read(files), .legacyStatus).severity, .warning)
        assertQuarantined(try read(files, strict: [.legacyStatus]), file: "enrollments.csv", line: 5, reason: .legacyStatus)
    }

    func testEveryToleranceHasItsOwnCode() {
        XCTAssertEqual(Set(IssueCode.tolerances).count, IssueCode.tolerances.count)
        XCTAssertEqual(Set(IssueCode.tolerances.map(\.rawValue)),
                       ["dangling-optional-reference", "enum-letter-case", "non-iso-timestamp", "unreadable-timestamp",
                        "imprecise-timestamp", "legacy-status"])
        XCTAssertFalse(IssueCode.danglingReference.isTolerance)
    }
}
