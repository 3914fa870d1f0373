import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// The school-year rollover: recognised and held with its own reason, never confused with an export cut short, and
/// the course map carried forward on request.
final class RolloverTests: SyncTestCase {
    /// The sample district in a school year; after 2025, its fourth course (new code, new title) also gets a new
    /// subject, so that nothing of last year matches it.
    func district(_ name: String, year: Int) throws -> String {
        let path = folder + "/" + name
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: 200, classes: 20, enrollments: 800, version: "1.2",
                                   seed: 7, schoolYear: year)
        if year > 2025 {
            let courses = path + "/courses.csv"
            let lines = try String(contentsOfFile: courses, encoding: .utf8).components(separatedBy: "\n").map { line in
                line.hasPrefix("crs-\(year)-4,") ? line.replacingOccurrences(of: ",Social Studies,SS", with: ",Robotics,ROB") : line
            }
            XCTAssertTrue(lines.contains { $0.hasSuffix(",Robotics,ROB") })
            try lines.joined(separator: "\n").write(toFile: courses, atomically: true, encoding: .utf8)
        }
        return path
    }

    /// The first year synced, every course mapped, and one of them started by a student.
    func mappedFirstYear() async throws -> [CourseView] {
        let first = try await sync(try district("y2025", year: 2025))
        XCTAssertEqual(first.decision, "applied")
        let courses = try service.courses(integrationID: integrationID)
        XCTAssertEqual(courses.count, 5)
        for course in courses {
            _ = try await service.mapCourse(id: course.id, catalogTitle: "Catalog \(course.title)", baseID: "BASE-\(course.sourcedID)", actor: "dsp")
        }
        return try service.courses(integrationID: integrationID)
    }

    /// The hold reason that sums up a carry-forward counts in plain words: one course matches, several match.
    func testTheCarryForwardNoteCountsInPlainWords() {
        func note(newCourses: Int, matched: Int) -> String {
            let rollover = Rollover(
                fromYear: 2025, toYear: 2026, classesEnding: 1, classesStarting: 1, usersLeaving: 0, usersStaying: 0, usersJoining: 0,
                newCourses: (0..<newCourses).map { RosterRecord(entity: "courses", sourcedID: "crs-\($0)", digest: 0) },
                endingCourses: [])
            let proposals = (0..<matched).map {
                CarryForwardRecord(newSourcedID: "crs-\($0)", newTitle: "Algebra I", oldCourseID: "crs_old\($0)", oldSourcedID: "old-\($0)",
                                   oldTitle: "Algebra I", catalogTitle: "Algebra I", baseID: "ALG1-2024", matchedOn: "course code",
                                   evidence: "same course code `MATH-100`")
            }
            return RosterFlowService.carryForwardNote(proposals, rollover)
        }
        let usual = " as usual (`sync show RUN` lists the matches)"
        XCTAssertEqual(note(newCourses: 20, matched: 1),
                       "carry-forward: 1 of the 20 new courses matches a mapped course of last year (1 by course code); "
                           + "the other 19 get shells and DSP tasks" + usual)
        XCTAssertEqual(note(newCourses: 5, matched: 4),
                       "carry-forward: 4 of the 5 new courses match a mapped course of last year (4 by course code); "
                           + "the other one gets a shell and a DSP task" + usual)
        XCTAssertEqual(note(newCourses: 3, matched: 3),
                       "carry-forward: all 3 new courses match a mapped course of last year (3 by course code); "
                           + "`sync show RUN` lists the matches")
        XCTAssertEqual(note(newCourses: 1, matched: 1),
                       "carry-forward: the new course matches a mapped course of last year (1 by course code); "
                           + "`sync show RUN` lists the matches")
        XCTAssertEqual(note(newCourses: 7, matched: 0),
                       "carry-forward: none of the 7 new courses matches a mapped course of last year; they get shells and DSP tasks as usual")
        XCTAssertEqual(note(newCourses: 1, matched: 0),
                       "carry-forward: the new course matches no mapped course of last year; it gets a shell and a DSP task as usual")
        XCTAssertEqual(note(newCourses: 0, matched: 0),
                       "carry-forward: the rollover starts no new course, so there is nothing to carry forward")
    }

    func testANewSchoolYearIsHeldAsARolloverWithItsNumbers() async throws {
        _ = try await mappedFirstYear()
        let run = try await sync(try district("y2026", year: 2026))
        XCTAssertEqual(run.decision, "held")
        let reason = try XCTUnwrap(run.reasons.first)
        XCTAssertTrue(reason.hasPrefix("school-year rollover from 2024–25 to 2025–26: 20 classes ending, 20 classes starting; "), reason)
        let users = try XCTUnwrap(run.counts["users"])
        XCTAssertTrue(reason.contains("\(users.deletes) users leaving, \(200 - users.deletes) users staying, 0 users joining"), reason)
        XCTAssertGreaterThan(users.deletes, 0, "seniors leave")
        XCTAssertFalse(run.reasons.contains { $0.contains("would delete") || $0.contains("would change") }, "\(run.reasons)")
        XCTAssertTrue(run.reasons.contains {
            $0.hasPrefix("carry-forward: 4 of the 5 new courses match a mapped course of last year")
                && $0.contains("; the other one gets a shell and a DSP task as usual")
        }, "\(run.reasons)")

        let matches = Dictionary(uniqueKeysWithValues: run.carryForward.map { ($0.newSourcedID, $0) })
        XCTAssertEqual(matches["crs-2026-1"]?.oldSourcedID, "crs-1")
        XCTAssertEqual(matches["crs-2026-1"]?.matchedOn, "course code")
        XCTAssertEqual(matches["crs-2026-2"]?.matchedOn, "course code", "renamed, same code")
        XCTAssertEqual(matches["crs-2026-3"]?.matchedOn, "title", "new code, same title in capitals")
        XCTAssertEqual(matches["crs-2026-3"]?.oldSourcedID, "crs-3")
        XCTAssertTrue(matches["crs-2026-3"]?.evidence.hasPrefix("same title once normalised") ?? false)
        XCTAssertEqual(matches["crs-2026-5"]?.oldSourcedID, "crs-5")
        XCTAssertEqual(matches["crs-2026-1"]?.baseID, "BASE-crs-1")
    }

    func testApprovingWithCarryForwardStartsTheNewCoursesMappedNeverLocked() async throws {
        let old = try await mappedFirstYear()
        let started = try XCTUnwrap(old.first { $0.sourcedID == "crs-1" })
        _ = try await service.verifyCourse(id: started.id, actor: "school")
        _ = try await service.contentAdded(id: started.id, actor: "dsp")
        _ = try await service.studentStarted(id: started.id, actor: "dsp")

        let run = try await sync(try district("y2026", year: 2026))
        XCTAssertEqual(run.decision, "held")
        let approved = try await service.approveSync(runID: run.id, merge: nil, carryForward: true, actor: Fixture.vendor)
        XCTAssertEqual(approved.decision, "approved")
        let courses = Dictionary(uniqueKeysWithValues: try service.courses(integrationID: integrationID).map { ($0.sourcedID, $0) })
        let carried = try XCTUnwrap(courses["crs-2026-1"])
        XCTAssertEqual(carried.state, "mapped", "awaiting the school's verification")
        XCTAssertEqual(carried.catalogTitle, "Catalog \(started.title)")
        XCTAssertEqual(carried.baseID, "BASE-crs-1")
        XCTAssertFalse(carried.locked)
        XCTAssertTrue(carried.history.last?.reason?.contains("carried forward by sync \(run.id) from last year's") ?? false)
        XCTAssertEqual(courses["crs-2026-3"]?.baseID, "BASE-crs-3")
        // Unmatched: a shell for the DSP, as for any new course.
        XCTAssertEqual(courses["crs-2026-4"]?.state, "shell_created")
        XCTAssertNil(courses["crs-2026-4"]?.baseID)
        // Last year's started course stays locked, as history.
        XCTAssertEqual(courses["crs-1"]?.state, "locked")
    }

    func testPlainApprovalMapsTheNewYearAnewAndCarryForwardIsRefusedForOtherRuns() async throws {
        _ = try await mappedFirstYear()
        let run = try await sync(try district("y2026", year: 2026))
        _ = try await service.approveSync(runID: run.id, actor: Fixture.vendor)
        XCTAssertEqual(Set(try service.courses(integrationID: integrationID).filter { $0.sourcedID.hasPrefix("crs-2026") }.map(\.state)),
                       ["shell_created"])

        // A run that is no rollover has nothing to carry forward.
        let cut = try copyCutInHalf(try district("again2026", year: 2026))
        let held = try await sync(cut)
        XCTAssertEqual(held.decision, "held")
        await assertRefused(.invalidInput) {
            try await self.service.approveSync(runID: held.id, carryForward: true, actor: Fixture.vendor)
        }
    }

    /// The bundle with the second half of its classes and their enrollments left out, as an export cut short.
    func copyCutInHalf(_ bundle: String) throws -> String {
        let cut = bundle + "-cut"
        try? FileManager.default.removeItem(atPath: cut)
        try FileManager.default.copyItem(atPath: bundle, toPath: cut)
        let classes = try String(contentsOfFile: cut + "/classes.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let kept = Array(classes.prefix(1 + (classes.count - 1) / 2))
        try (kept.joined(separator: "\n") + "\n").write(toFile: cut + "/classes.csv", atomically: true, encoding: .utf8)
        let keptIDs = Set(kept.dropFirst().map { String($0.prefix { $0 != "," }) })
        let enrollments = try String(contentsOfFile: cut + "/enrollments.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        let keptEnrollments = [enrollments[0]] + enrollments.dropFirst().filter { keptIDs.contains($0.split(separator: ",")[3].description) }
        try (keptEnrollments.joined(separator: "\n") + "\n").write(toFile: cut + "/enrollments.csv", atomically: true, encoding: .utf8)
        return cut
    }

    func testAnExportCutInHalfIsStillHeldAsABrokenExport() async throws {
        let year = try district("y2025", year: 2025)
        _ = try await sync(year)
        let run = try await sync(try copyCutInHalf(year))
        XCTAssertEqual(run.decision, "held")
        XCTAssertTrue(run.reasons.contains { $0.hasPrefix("classes.csv would delete 10 of 20 classes") }, "\(run.reasons)")
        XCTAssertFalse(run.reasons.contains { $0.contains("rollover") }, "\(run.reasons)")
        XCTAssertTrue(run.carryForward.isEmpty)
    }

    func testCarryForwardMatchesByCodeThenTitleThenGradesAndSubject() {
        func held(_ id: String, _ title: String, code: String?, grades: String, subjects: String) -> RosterRecord {
            RosterRecord(entity: "courses", sourcedID: id, digest: 0, ref1: "org", ref2: code, ref3: "\(grades)|\(subjects)", title: title)
        }
        func mapped(_ id: String, _ record: RosterRecord) -> (course: CourseRecord, held: RosterRecord?) {
            (CourseRecord(id: "crs_\(id)", integrationID: "int", sourcedID: id, title: record.title ?? "", catalogTitle: "Cat \(id)",
                          baseID: "B-\(id)", createdAt: 0), record)
        }
        let old = [
            mapped("a", held("a", "Algebra I (2025)", code: "MATH-1", grades: "09", subjects: "Mathematics")),
            mapped("b", held("b", "Biology", code: "SCI-1", grades: "10", subjects: "Science")),
            mapped("c", held("c", "Chemistry", code: "SCI-2", grades: "11", subjects: "Science")),
            mapped("d", held("d", "Drama", code: "ART-1", grades: "09", subjects: "Arts")),
            mapped("e", held("e", "Etching", code: "ART-2", grades: "09", subjects: "Arts")),
        ]
        let new = [
            held("n1", "Algebra 1", code: "math-1", grades: "09", subjects: "Mathematics"),
            held("n2", "BIOLOGY", code: "SCI-77", grades: "10", subjects: "Science"),
            held("n3", "Chem Lab", code: "SCI-78", grades: "11", subjects: "Science"),
            held("n4", "Theatre", code: "ART-9", grades: "09", subjects: "Arts"),
        ]
        let proposals = Dictionary(uniqueKeysWithValues: Rollover.carryForward(newCourses: new, mapped: old).map { ($0.newSourcedID, $0) })
        XCTAssertEqual(proposals["n1"]?.oldSourcedID, "a")
        XCTAssertEqual(proposals["n1"]?.evidence, "same course code `MATH-1`")
        XCTAssertEqual(proposals["n2"]?.oldSourcedID, "b")
        XCTAssertEqual(proposals["n2"]?.matchedOn, "title")
        XCTAssertEqual(proposals["n3"]?.oldSourcedID, "c")
        XCTAssertEqual(proposals["n3"]?.evidence, "same grades 11 and subject Science")
        XCTAssertNil(proposals["n4"], "two of last year's courses have grades 09 and Arts: no guess")
        XCTAssertEqual(Rollover.normalisedTitle("Algebra I (2025-26)"), "algebra 1")
        XCTAssertEqual(Rollover.normalisedTitle("ALGEBRA  1"), "algebra 1")
    }

    /// A course of last year matched at one level is no candidate at the next: what is left can be one match.
    func testACourseMatchedAlreadyIsNoLongerACandidate() {
        func course(_ id: String, _ title: String, code: String) -> RosterRecord {
            RosterRecord(entity: "courses", sourcedID: id, digest: 0, ref1: "org", ref2: code, ref3: "09|Arts", title: title)
        }
        let old = ["x": "ART-1", "y": "ART-2", "z": "ART-3"].sorted { $0.key < $1.key }.map { id, code in
            (course: CourseRecord(id: "crs_\(id)", integrationID: "int", sourcedID: id, title: "Painting", catalogTitle: "Cat \(id)",
                                  baseID: "B-\(id)", createdAt: 0), held: Optional(course(id, "Painting", code: code)))
        }
        let new = [course("n1", "Painting", code: "ART-1"), course("n2", "Painting", code: "ART-3"), course("n3", "Painting", code: "ART-9")]
        let proposals = Rollover.carryForward(newCourses: new, mapped: old)
        XCTAssertEqual(proposals.map(\.newSourcedID), ["n1", "n2", "n3"])
        XCTAssertEqual(proposals.map(\.oldSourcedID), ["x", "z", "y"], "n3's title matches y alone once x and z are taken")
        XCTAssertEqual(proposals.map(\.matchedOn), ["course code", "course code", "title"])
        // Two left with the same title: no guess.
        XCTAssertEqual(Rollover.carryForward(newCourses: [course("n9", "Painting", code: "ART-9")], mapped: old).count, 0)
    }

    /// The carry-forward and the catalog matcher read a title the same way (one normaliser): what is one title for one
    /// is one title for the other.
    func testTheCarryForwardAndTheCatalogMatcherNormaliseTitlesAlike() {
        let titles = ["Algebra I (2025-26)", "ALGEBRA  1", "Algebra 1", "Álgebra II", "algebra 2", "The Biology of Cells",
                      "Español III", "Grade 9 English", "English 9 — 2026", "AP U.S. History", "Chem Lab S1", "2026", ""]
        for title in titles {
            XCTAssertEqual(Rollover.normalisedTitle(title) ?? "", CatalogMatcher.normalised(title), title)
        }
        XCTAssertEqual(CatalogMatcher.normalised("Algebra I (2025-26)"), CatalogMatcher.normalised("ALGEBRA 1"))
        XCTAssertEqual(Rollover.normalisedTitle("Álgebra II"), Rollover.normalisedTitle("algebra 2"))
        XCTAssertEqual(CatalogMatcher.normalised("Álgebra II"), "algebra 2")
        XCTAssertEqual(Rollover.normalisedTitle("English 10 (2025-26)"), "english 10", "a grade is no school year")
        XCTAssertNil(Rollover.normalisedTitle("2026"))
    }
}

extension SyncTests {
    /// A required reference resolves through the roster's aliases: a delta enrollment naming a merged user's old id loads.
    func testAReferenceToAMergedUsersOldIdResolvesThroughItsAlias() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let (renamed, oldID, _) = try rekeyed(b, to: "renamed", rekeyEnrollments: true)
        let run = try await sync(renamed)
        _ = try await service.approveSync(runID: run.id, merge: true, actor: "vendor")

        let delta = folder + "/delta"
        try FileManager.default.createDirectory(atPath: delta, withIntermediateDirectories: true)
        try "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.enrollments,delta\n"
            .write(toFile: delta + "/manifest.csv", atomically: true, encoding: .utf8)
        try """
            sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
            enr-via-alias,active,2027-01-04T00:00:00Z,cls-1,org-school-1,\(oldID),student,,,

            """.write(toFile: delta + "/enrollments.csv", atomically: true, encoding: .utf8)
        let applied = try await sync(delta)
        XCTAssertEqual(applied.errorCount, 0, applied.report?.rendered() ?? "")
        XCTAssertEqual(applied.counts["enrollments"]?.adds, 1)
    }
}
