import Foundation
@testable import RosterFlowCore
import XCTest

/// The vendor catalog: import validation, mappings checked against it, suggestions, and versions for locked courses.
final class CatalogTests: XCTestCase {
    static let catalog = """
        base_id,title,subject,grades,status
        ALG1-2024,Algebra I,Mathematics,09 10,active
        ALG2-2024,Algebra II,Mathematics,"10,11",active
        ENG9-2024,English 9,English Language Arts,9,active
        GEO-2019,Geometry,Mathematics,10,retired
        """

    func testAnImportWithAnyBadRowImportsNothingAndNamesEveryLine() async throws {
        let service = try await Fixture.service()
        let bad = """
            base_id,title,grades,status,version,previous_base_id
            ALG1,Algebra I,09,active,,
            ALG1,Algebra again,09,active,,
            ,No id,10,,,
            BIO,Biology,13x,maybe,0,
            CHEM-v2,Chemistry,10,active,2,CHEM
            """
        let error = await assertRefused(.invalidInput) { try await service.importCatalog(csv: bad, file: "cat.csv", actor: "ana") }
        let message = error?.message ?? ""
        for expected in [
            "cat.csv:3: base_id 'ALG1' already appears on line 2", "cat.csv:4: base_id is empty",
            "cat.csv:5: grades '13x' are not OneRoster grade levels", "cat.csv:5: status 'maybe'", "cat.csv:5: version '0'",
            "cat.csv:6: previous_base_id 'CHEM' is neither in this file nor in the catalog",
        ] {
            XCTAssertTrue(message.contains(expected), "missing «\(expected)» in:\n\(message)")
        }
        XCTAssertEqual(try service.catalog(includeRetired: true), [])
    }

    func testAnImportAddsChangesAndKeepsAndIsAudited() async throws {
        let service = try await Fixture.service()
        let first = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")
        XCTAssertEqual([first.added, first.updated, first.unchanged], [4, 0, 0])
        let again = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")
        XCTAssertEqual([again.added, again.updated, again.unchanged], [0, 0, 4])
        let renamed = try await service.importCatalog(
            csv: "base_id,title\nALG1-2024,Algebra 1 (2024)\n", file: "fix.csv", actor: "ana")
        XCTAssertEqual([renamed.added, renamed.updated], [0, 1])
        XCTAssertEqual(try service.catalog().map(\.baseID), ["ALG1-2024", "ALG2-2024", "ENG9-2024"], "retired ones are not offered")
        XCTAssertEqual(try service.catalog(includeRetired: true).count, 4)
        XCTAssertEqual(try service.catalogCourse(baseID: "ENG9-2024").grades, ["09"], "a grade written 9 is read as 09")
        let audit = try service.audit().filter { $0.action == "catalog.import" }
        XCTAssertEqual(audit.count, 5)
    }

    func testAMappingMustNameAnActiveCatalogCourse() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        let course = try await service.addCourse(integrationID: integration, sourcedID: "c-1", title: "ALGEBRA 1 (Grade 9)", sender: .system)
        // Without a catalog, the mapping is taken as given (the title is then needed).
        await assertRefused(.invalidInput) { try await service.mapCourse(id: course.id, baseID: "X-1", actor: "dsp") }
        _ = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")

        let unknown = await assertRefused(.invalidInput) { try await service.mapCourse(id: course.id, baseID: "ALG9", actor: "dsp") }
        XCTAssertEqual(unknown?.cause, "not-in-catalog")
        XCTAssertTrue(unknown?.message.contains("closest for ALGEBRA 1 (Grade 9): ALG1-2024 (Algebra I)") ?? false, unknown?.message ?? "")
        let retired = await assertRefused(.refused) { try await service.mapCourse(id: course.id, baseID: "GEO-2019", actor: "dsp") }
        XCTAssertEqual(retired?.cause, "retired-catalog-course")
        let mismatch = await assertRefused(.invalidInput) {
            try await service.mapCourse(id: course.id, catalogTitle: "Algebra II", baseID: "ALG1-2024", actor: "dsp")
        }
        XCTAssertEqual(mismatch?.cause, "catalog-title-mismatch")

        let step = try await service.mapCourse(id: course.id, catalogTitle: "algebra 1", baseID: "ALG1-2024", actor: "dsp")
        XCTAssertEqual(step.to, "mapped")
        let mapped = try service.course(id: course.id)
        XCTAssertEqual(mapped.catalogTitle, "Algebra I", "the catalog's own title is stored")
        XCTAssertEqual(mapped.baseID, "ALG1-2024")
        XCTAssertEqual(try service.catalogCourse(baseID: "ALG1-2024").mappedCourses, 1)
    }

    func testTwoCoursesOfADistrictOnOneBaseIdNeedAConfirmationThatIsRecorded() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")
        let first = try await service.addCourse(integrationID: integration, sourcedID: "c-1", title: "Algebra I", sender: .system)
        let second = try await service.addCourse(integrationID: integration, sourcedID: "c-2", title: "Algebra I Honors", sender: .system)
        _ = try await service.mapCourse(id: first.id, baseID: "ALG1-2024", actor: "dsp")
        let refused = await assertRefused(.refused) { try await service.mapCourse(id: second.id, baseID: "ALG1-2024", actor: "dsp") }
        XCTAssertEqual(refused?.cause, "shared-base-id")
        XCTAssertTrue(refused?.message.contains("Algebra I (c-1)") ?? false, refused?.message ?? "")
        let step = try await service.mapCourse(id: second.id, baseID: "ALG1-2024", actor: "dsp", confirmShared: true)
        XCTAssertTrue(step.reason?.contains("confirmed sharing ALG1-2024 with Algebra I (c-1)") ?? false, step.reason ?? "")
    }

    func testRemappingACourseWithContentNeedsAReason() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")
        let course = try await service.addCourse(integrationID: integration, sourcedID: "c-1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: course.id, baseID: "ALG1-2024", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        let refused = await assertRefused(.refused) { try await service.mapCourse(id: course.id, baseID: "ALG2-2024", actor: "dsp") }
        XCTAssertEqual(refused?.cause, "remap-drops-content")
        XCTAssertEqual(try service.course(id: course.id).state, "content_added")
        let step = try await service.mapCourse(id: course.id, baseID: "ALG2-2024", actor: "dsp", reason: "wrong level")
        XCTAssertEqual(step.to, "mapped")
        XCTAssertTrue(step.reason?.contains("content dropped: wrong level") ?? false, step.reason ?? "")
    }

    func testALockedCourseNamesTheCommandThatMakesItsSuccessorAndTheSuccessorIsMappable() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")
        let course = try await service.addCourse(integrationID: integration, sourcedID: "c-1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: course.id, baseID: "ALG1-2024", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        _ = try await service.studentStarted(id: course.id, actor: "platform")
        let refused = await assertRefused(.refused) { try await service.mapCourse(id: course.id, baseID: "ALG2-2024", actor: "dsp") }
        XCTAssertTrue(refused?.message.contains("`rosterflow catalog version ALG1-2024`") ?? false, refused?.message ?? "")
        XCTAssertEqual(try service.catalogCourse(baseID: "ALG1-2024").lockedCourses, 1)

        let next = try await service.newCatalogVersion(of: "ALG1-2024", retirePrevious: true, actor: "ana")
        XCTAssertEqual(next.baseID, "ALG1-2024-v2")
        XCTAssertEqual(next.version, 2)
        XCTAssertEqual(next.previousBaseID, "ALG1-2024")
        XCTAssertEqual(try service.catalogCourse(baseID: "ALG1-2024").status, "retired")
        XCTAssertEqual(try service.catalogCourse(baseID: "ALG1-2024").successors, ["ALG1-2024-v2"])
        await assertRefused(.conflict) { try await service.newCatalogVersion(of: "ALG1-2024", actor: "ana") }
        let third = try await service.newCatalogVersion(of: "ALG1-2024-v2", actor: "ana")
        XCTAssertEqual(third.baseID, "ALG1-2024-v3")
        // The locked course keeps its base id; next year's course maps to the newest version.
        XCTAssertEqual(try service.course(id: course.id).baseID, "ALG1-2024")
        let nextYear = try await service.addCourse(integrationID: integration, sourcedID: "c-1-2025", title: "Algebra I", sender: .system)
        let mapped = try await service.mapCourse(id: nextYear.id, baseID: "ALG1-2024-v3", actor: "dsp")
        XCTAssertEqual(mapped.to, "mapped")
    }

    func testSuggestionsRankTheRightCourseFirstAmongNearDuplicates() async throws {
        // A realistic catalog: hundreds of titles, many near-duplicates of each other.
        var rows = ["base_id,title,subject,grades"]
        let subjects = ["Algebra", "Geometry", "Biology", "Chemistry", "Physics", "English", "Spanish", "French", "History", "Art"]
        let levels = ["I", "II", "III", "Honors", "AP", "Foundations of", "Applied", "Intro to", "Advanced", "Topics in"]
        for (s, subject) in subjects.enumerated() {
            for (l, level) in levels.enumerated() {
                for year in 2022...2024 {
                    let title = level.hasSuffix("of") || level.hasSuffix("to") || level.hasSuffix("in") || level == "Applied"
                        || level == "Advanced" ? "\(level) \(subject)" : "\(subject) \(level)"
                    rows.append("S\(s)L\(l)Y\(year),\(title),\(subject),\(["09", "10", "11"][l % 3])")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(rows.count, 300)
        let catalog = try CatalogCSV.parse(rows.joined(separator: "\n"), file: "big.csv", known: { _ in false }).map {
            CatalogCourseRecordFixture.record($0)
        }
        let best = CatalogMatcher.suggestions(for: "ALGEBRA 2", in: catalog, limit: 3)
        XCTAssertEqual(best.first?.title, "Algebra II")
        XCTAssertGreaterThanOrEqual(best.first?.score ?? 0, 1)
        XCTAssertTrue(best.first?.evidence.first?.contains("same title") ?? false)
        let graded = CatalogMatcher.suggestions(for: "Biology I - Grade 9", in: catalog, limit: 1)
        XCTAssertEqual(graded.first?.title, "Biology I")
        XCTAssertTrue(graded.first?.evidence.contains { $0.contains("grades match (09)") } ?? false, "\(graded)")
        XCTAssertEqual(CatalogMatcher.suggestions(for: "Underwater Basket Weaving", in: catalog, limit: 3), [])
    }
}

import StorageCore

enum CatalogCourseRecordFixture {
    static func record(_ row: CatalogCSV.Row) -> CatalogCourseRecord {
        CatalogCourseRecord(
            baseID: row.baseID, title: row.title, subject: row.subject, grades: row.grades, status: row.status, version: row.version,
            previousBaseID: row.previousBaseID, updatedAt: 0)
    }
}

/// The course map as a spreadsheet, and bulk steps with per-item results.
final class CourseMapSheetTests: XCTestCase {
    func testTheSheetRoundTripsExportEditImport() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: CatalogTests.catalog, file: "cat.csv", actor: "ana")
        for (id, title) in [("c-alg", "Algebra 1"), ("c-eng", "English 9"), ("c-art", "=Art & Design")] {
            _ = try await service.addCourse(integrationID: integration, sourcedID: id, title: title, sender: .system)
        }
        let sheet = try service.exportCourseMap(integrationID: integration)
        let lines = sheet.split(separator: "\r\n").map(String.init)
        XCTAssertEqual(lines.first, RosterFlowService.courseMapColumns.joined(separator: ","))
        let algebra = try XCTUnwrap(lines.first { $0.contains(",c-alg,") })
        XCTAssertTrue(algebra.contains("ALG1-2024,Algebra I,"), "the suggestion is in the sheet: \(algebra)")
        XCTAssertTrue(lines.contains { $0.contains(",'=Art & Design,") }, "a formula-looking title is defused:\n\(sheet)")

        // The school fills base_id from the suggestion and says yes; the DSP leaves art for later.
        let filled = """
            course_id,sourced_id,school_course,base_id,verified
            ,c-alg,Algebra 1,ALG1-2024,yes
            ,c-eng,English 9,ENG9-2024,
            ,c-art,'=Art & Design,,
            """
        let result = try await service.importCourseMap(
            csv: filled, file: "map.csv", integrationID: integration, role: .schoolAdmin, actor: "school:pat")
        XCTAssertEqual(result.items.map(\.action), ["map+verify", "map", "-"])
        XCTAssertEqual(result.items.map(\.result), [.applied, .applied, .unchanged])
        let courses = try service.courses(integrationID: integration)
        XCTAssertEqual(courses.first { $0.sourcedID == "c-alg" }?.state, "verified")
        XCTAssertEqual(courses.first { $0.sourcedID == "c-eng" }?.state, "mapped")
        XCTAssertEqual(courses.first { $0.sourcedID == "c-eng" }?.baseID, "ENG9-2024")
        let history = try service.course(id: try XCTUnwrap(courses.first { $0.sourcedID == "c-alg" }?.id)).history
        XCTAssertTrue(history.contains { $0.actor == "school:pat" && $0.role == "school_admin" && $0.event == "verify" })

        // Importing the same sheet again changes nothing.
        let again = try await service.importCourseMap(
            csv: filled, file: "map.csv", integrationID: integration, role: .schoolAdmin, actor: "school:pat")
        XCTAssertEqual(again.applied, 0)
        XCTAssertEqual(again.refused, 0)
    }

    func testAMalformedSheetAppliesNothingAndNamesEveryRowUnlessPartial() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: CatalogTests.catalog, file: "cat.csv", actor: "ana")
        _ = try await service.addCourse(integrationID: integration, sourcedID: "c-alg", title: "Algebra 1", sender: .system)
        _ = try await service.addCourse(integrationID: integration, sourcedID: "c-eng", title: "English 9", sender: .system)
        let sheet = """
            sourced_id,base_id,verified
            c-alg,ALG1-2024,yes
            c-nope,ALG2-2024,
            c-eng,GEO-2019,
            c-eng,NOT-THERE,
            """
        let error = await assertRefused(.invalidInput) {
            try await service.importCourseMap(csv: sheet, file: "map.csv", integrationID: integration, role: nil, actor: "dsp")
        }
        let message = error?.message ?? ""
        for expected in [
            "map.csv:3: \(integration) has no course c-nope", "map.csv:4: GEO-2019 (Geometry) is retired",
            "map.csv:5: NOT-THERE is not in the vendor catalog",
        ] {
            XCTAssertTrue(message.contains(expected), "missing «\(expected)» in:\n\(message)")
        }
        XCTAssertEqual(try service.courses(integrationID: integration).map(\.state), ["shell_created", "shell_created"])
        await assertRefused(.invalidInput) {
            try await service.importCourseMap(
                csv: "sourced_id,base_id,verified\nc-alg,ALG1-2024,maybe\n", file: "m.csv", integrationID: integration, role: nil, actor: "dsp")
        }

        let partial = try await service.importCourseMap(
            csv: sheet, file: "map.csv", integrationID: integration, role: .dsp, actor: "dsp", partial: true)
        XCTAssertEqual(partial.items.map(\.result), [.refused, .refused, .refused, .refused])
        // A DSP may map but not verify: the map applied, then the verify was refused — reported on that row.
        XCTAssertTrue(partial.items[0].message?.hasPrefix("the map was applied, the verify was not: ") ?? false, "\(partial.items[0])")
        XCTAssertEqual(try service.courses(integrationID: integration).first { $0.sourcedID == "c-alg" }?.state, "mapped")
    }

    func testBulkStepsReportEachCourseAndDoNotStopAtARefusal() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        var ids: [String] = []
        for index in 1...3 {
            let course = try await service.addCourse(integrationID: integration, sourcedID: "c-\(index)", title: "Course \(index)", sender: .system)
            ids.append(course.id)
        }
        for id in ids.prefix(2) { _ = try await service.mapCourse(id: id, catalogTitle: "Catalog", baseID: "B-\(id)", actor: "dsp") }
        let mapped = try service.courseIDs(integrationID: integration, state: "mapped")
        XCTAssertEqual(Set(mapped), Set(ids.prefix(2)))
        let result = await service.bulkCourseStep("verify", references: ["c-1", "c-3", "c-2", "c-missing"], integrationID: integration, role: nil, actor: "school")
        XCTAssertEqual(result.items.map(\.result), [.applied, .refused, .applied, .refused])
        XCTAssertTrue(result.items[1].message?.contains("'verify' is not allowed in state 'shell_created'") ?? false, result.items[1].message ?? "")
        XCTAssertEqual(try service.courses(integrationID: integration).filter { $0.state == "verified" }.count, 2)
    }
}

/// The daily digests: one message per district and local day, in the district's zone, instead of one per course.
final class DigestTests: XCTestCase {
    func testTheSchoolAndTheDSPGetOneDigestPerDistrictAndLocalDay() async throws {
        // 12:00 UTC is 06:00 in Chicago (CST, UTC-6): before the digest hour there.
        let clock = TestClock("2026-03-02T12:00:00Z")
        let service = try await Fixture.service(clock: clock)
        let integration = try await Fixture.scheduledIntegration(service)   // America/Chicago
        var ids: [String] = []
        for index in 1...4 {
            let course = try await service.addCourse(
                integrationID: integration, sourcedID: "c-\(index)", title: "Course \(index)", sender: .system)
            ids.append(course.id)
            _ = try await service.mapCourse(id: course.id, catalogTitle: "Catalog \(index)", baseID: "B-\(index)", actor: "dsp")
        }
        _ = try await service.verifyCourse(id: ids[0], actor: "school")
        let early = try await service.sendDueDigests()
        XCTAssertEqual(early, [], "06:00 in Chicago: not yet")

        clock.advance(days: 1.0 / 24 + 0.001)   // 07:00 Chicago
        let first = try await service.sendDueDigests()
        XCTAssertEqual(first.map(\.template).sorted(), ["mappings-awaiting-verification", "verified-courses"])
        XCTAssertEqual(first.first { $0.kind == "awaiting-verification" }?.courses, 3)
        XCTAssertEqual(first.first { $0.kind == "verified-courses" }?.courses, 1)
        XCTAssertEqual(first.first?.localDate, "2026-03-02")
        let messages = try service.store.readNow { try $0.outbox(instanceID: integration) }.filter { $0.template == "mappings-awaiting-verification" }
        XCTAssertEqual(messages.count, 1)
        XCTAssertEqual(messages.first?.recipient, "school_contact")
        let values = try XCTUnwrap(JSONText.flatStrings(try XCTUnwrap(messages.first?.payload)))
        XCTAssertEqual(values["course_count"], "3")
        XCTAssertTrue(values["courses"]?.contains("- Course 2 (c-2) → Catalog 2 [B-2]") ?? false, values["courses"] ?? "")
        XCTAssertFalse(values["courses"]?.contains("Course 1") ?? true, "a verified course is not awaiting verification")

        // Later the same local day: nothing more, even with more to say.
        _ = try await service.verifyCourse(id: ids[1], actor: "school")
        clock.advance(days: 0.4)
        let again = try await service.sendDueDigests()
        XCTAssertEqual(again, [])
        // The next local day: a new digest, with today's list.
        clock.advance(days: 0.65)
        let next = try await service.sendDueDigests()
        XCTAssertEqual(next.first { $0.kind == "verified-courses" }?.courses, 2)
        XCTAssertEqual(next.first?.localDate, "2026-03-03")
        // Nothing awaiting: no digest of that kind.
        for id in ids.suffix(2) { _ = try await service.verifyCourse(id: id, actor: "school") }
        clock.advance(days: 1)
        let third = try await service.sendDueDigests()
        XCTAssertEqual(third.map(\.kind), ["verified-courses"])
    }
}

extension CatalogTests {
    func testACatalogCourseOfOtherGradesThanTheSISGivesNeedsAConfirmation() async throws {
        let service = try await Fixture.service()
        let integration = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: Self.catalog, file: "cat.csv", actor: "ana")
        let course = try await service.addCourse(integrationID: integration, sourcedID: "c-9", title: "Algebra", sender: .system)
        // The last sync held the course with its grades (as the planner stores them: grades|subjects).
        try service.store.writeNow { tx in
            try tx.insertSyncRun(SyncRunRecord(
                id: "run-1", integrationID: integration, bundle: "b", startedAt: 1, finishedAt: 1, decision: .applied, reasons: "[]",
                counts: "{}", report: "{}", basedOnRun: nil))
            try tx.applyRosterChanges(
                [RosterChange(operation: .add, record: RosterRecord(entity: "courses", sourcedID: "c-9", digest: 1, ref3: "12|Mathematics"))],
                integrationID: integration, runID: "run-1", checkpoint: nil, now: 1)
        }
        let refused = await assertRefused(.refused) { try await service.mapCourse(id: course.id, baseID: "ALG1-2024", actor: "dsp") }
        XCTAssertEqual(refused?.cause, "grade-mismatch")
        XCTAssertTrue(refused?.message.contains("for grades 12 in the SIS, but ALG1-2024 (Algebra I) is for grades 09, 10") ?? false,
                      refused?.message ?? "")
        let step = try await service.mapCourse(id: course.id, baseID: "ALG1-2024", actor: "dsp", confirmGrades: true)
        XCTAssertTrue(step.reason?.contains("confirmed grades 12 on a catalog course for 09, 10") ?? false, step.reason ?? "")
        // Grades that overlap need nothing.
        let other = try await service.addCourse(integrationID: integration, sourcedID: "c-10", title: "Algebra II", sender: .system)
        let mapped = try await service.mapCourse(id: other.id, baseID: "ALG2-2024", actor: "dsp")
        XCTAssertEqual(mapped.to, "mapped")
    }
}

/// Integration workflow version 6: the district hears when it goes live and when a paused integration resumes.
final class DistrictMessagesTests: XCTestCase {
    func testTheDistrictIsToldWhenItGoesLiveAndWhenItResumesAfterAPause() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        let course = try await service.addCourse(integrationID: id, sourcedID: "c1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: course.id, catalogTitle: "Cat Algebra", baseID: "B-1", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        func sent() throws -> [(String, String)] {
            try service.store.readNow { try $0.outbox(instanceID: id) }.map { ($0.template, $0.recipient) }
        }
        XCTAssertFalse(try sent().contains { $0.0 == "integration-live" }, "not live yet")
        _ = try await service.send("go_live", to: id, actor: Fixture.vendor)
        XCTAssertEqual(try sent().filter { $0.0 == "integration-live" }.map(\.1), ["school_contact"])

        _ = try await service.pause(integrationID: id, until: "2099-08-16", reason: "summer", actor: Fixture.vendor)
        XCTAssertFalse(try sent().contains { $0.0 == "integration-resumed" })
        _ = try? await service.resume(integrationID: id, actor: Fixture.vendor)
        XCTAssertEqual(try service.integration(id: id).state, "live")
        XCTAssertEqual(try sent().filter { $0.0 == "integration-resumed" }.map(\.1), ["school_contact"])
    }
}

/// Course-mapping version 3 and integration version 7: a course re-mapped away from its content withdraws it, and the
/// integration's state follows.
final class ContentWithdrawnTests: XCTestCase {
    /// A district with one course, content in place (so the integration is content_mapped).
    private func districtWithContent() async throws -> (RosterFlowService, String, String) {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: CatalogTests.catalog, file: "cat.csv", actor: "ana")
        let course = try await service.addCourse(integrationID: id, sourcedID: "c-1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: course.id, baseID: "ALG1-2024", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        XCTAssertEqual(try service.integration(id: id).state, "content_mapped")
        return (service, id, course.id)
    }

    private func dspMessages(_ service: RosterFlowService, course: String) throws -> [String] {
        try service.store.readNow { try $0.outbox(instanceID: course) }.filter { $0.recipient == "dsp" }.map(\.template)
    }

    func testADistrictReadyToGoLiveGoesBackToShellsCreatedAndTheDSPIsTold() async throws {
        let (service, id, course) = try await districtWithContent()
        _ = try await service.mapCourse(id: course, baseID: "ALG2-2024", actor: "dsp", reason: "wrong level")
        let integration = try service.integration(id: id)
        XCTAssertEqual(integration.state, "shells_created")
        let last = try XCTUnwrap(integration.history.last)
        XCTAssertEqual(last.event, "content_withdrawn")
        XCTAssertTrue(last.reason?.contains("Algebra I (Springfield USD) lost its content: mapped to Algebra II [ALG2-2024]") ?? false, last.reason ?? "")
        XCTAssertTrue(last.reason?.contains("wrong level") ?? false, last.reason ?? "")
        XCTAssertEqual(try dspMessages(service, course: course).filter { $0 == "course-content-withdrawn" }.count, 1)
        await assertRefused(.refused) { try await service.send("go_live", to: id, actor: Fixture.vendor) }

        // The course gets its content back: the integration is ready again.
        _ = try await service.verifyCourse(id: course, actor: "school")
        _ = try await service.contentAdded(id: course, actor: "dsp")
        XCTAssertEqual(try service.integration(id: id).state, "content_mapped")
    }

    func testALiveDistrictStaysLiveAndRecordsWhyInItsTimeline() async throws {
        let (service, id, course) = try await districtWithContent()
        _ = try await service.send("go_live", to: id, actor: Fixture.vendor)
        _ = try await service.mapCourse(id: course, baseID: "ALG2-2024", actor: "dsp", reason: "wrong level")
        let integration = try service.integration(id: id)
        XCTAssertEqual(integration.state, "live")
        XCTAssertEqual(integration.history.last?.event, "content_withdrawn")
        XCTAssertEqual(try service.course(id: course).state, "mapped")
        XCTAssertEqual(try dspMessages(service, course: course).filter { $0 == "course-content-withdrawn" }.count, 1)
        XCTAssertTrue(
            try service.tasks(integrationID: id).contains { $0.owner == "school_admin" && $0.instanceID == course },
            "the school verifies the new match")
    }

    func testMappingACourseWithoutContentWithdrawsNothing() async throws {
        let service = try await Fixture.service()
        let id = try await Fixture.scheduledIntegration(service)
        _ = try await service.importCatalog(csv: CatalogTests.catalog, file: "cat.csv", actor: "ana")
        let course = try await service.addCourse(integrationID: id, sourcedID: "c-1", title: "Algebra I", sender: .system)
        _ = try await service.mapCourse(id: course.id, baseID: "ALG1-2024", actor: "dsp")
        _ = try await service.mapCourse(id: course.id, baseID: "ALG2-2024", actor: "dsp")
        XCTAssertFalse(try service.integration(id: id).history.contains { $0.event == "content_withdrawn" })
        XCTAssertEqual(try dspMessages(service, course: course.id).filter { $0 == "course-content-withdrawn" }, [])
    }
}
