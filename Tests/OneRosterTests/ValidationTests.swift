import Foundation
import OneRoster
import XCTest

final class ValidationTests: OneRosterTestCase {
    func testMissingRequiredValue() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-1,org-s1,,student,,,\n"
        let b = try read(files)
        let i = try issue(b, .missingRequiredValue)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "enrollments.csv")
        XCTAssertEqual(i.line, 5)
        XCTAssertEqual(i.column, "userSourcedId")
        XCTAssertEqual(i.sourcedId, "e-9")
        XCTAssertTrue(i.message.contains("`userSourcedId` is empty"), i.message)
        XCTAssertFalse(i.fix.isEmpty)
        assertQuarantined(b, file: "enrollments.csv", line: 5, reason: .missingRequiredValue)
        XCTAssertFalse(b.enrollments.contains { $0.sourcedId == "e-9" })
        XCTAssertEqual(b.enrollments.count, 3)
        XCTAssertEqual(b.quarantined.first?.values["classSourcedId"], "cls-1")
    }

    func testSpacesOnlyIsMissing() throws {
        var files = Fixture.bundle11()
        files["orgs.csv"] = Fixture.orgs + "org-x,,, ,school,,org-d\n"
        let b = try read(files)
        let i = try issue(b, .missingRequiredValue)
        XCTAssertEqual(i.line, 4)
        XCTAssertEqual(i.column, "name")
        XCTAssertEqual(i.value, " ")
        assertQuarantined(b, file: "orgs.csv", line: 4, reason: .missingRequiredValue)
    }

    func testDeltaRequiresStatusAndDateLastModified() throws {
        var files = Fixture.bundle11()
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11.merging(["enrollments": "delta"]) { $1 })
        files["enrollments.csv"] = """
        sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
        e-1,active,2024-05-01T00:00:00Z,cls-1,org-s1,t-1,teacher,true,,
        e-2,,2024-05-01T00:00:00Z,cls-1,org-s1,s-1,student,,,

        """
        let b = try read(files)
        let i = try issue(b, .missingRequiredValue)
        XCTAssertEqual(i.line, 3)
        XCTAssertEqual(i.column, "status")
        assertQuarantined(b, file: "enrollments.csv", line: 3, reason: .missingRequiredValue)
        XCTAssertEqual(b.enrollments.map(\.sourcedId), ["e-1"])
        XCTAssertEqual(b.mode(of: .enrollments), .delta)
    }

    func testUnknownEnumValue() throws {
        var files = Fixture.bundle11()
        // Letter case alone is tolerated (ToleranceTests); a trailing space is not the value.
        files["orgs.csv"] = Fixture.orgs + "org-x,,,Weird,School ,,org-d\n"
        let b = try read(files)
        let i = try issue(b, .unknownEnumValue)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "orgs.csv")
        XCTAssertEqual(i.line, 4)
        XCTAssertEqual(i.column, "type")
        XCTAssertEqual(i.value, "School ")
        XCTAssertTrue(i.message.contains("Did you mean `school`?"), i.message)
        assertQuarantined(b, file: "orgs.csv", line: 4, reason: .unknownEnumValue)
        XCTAssertEqual(b.orgs.count, 2)
    }

    func testAdministratorIsNotA12Role() throws {
        var files = Fixture.bundle12()
        files["roles.csv"] = Fixture.roles12 + "r-5,,,s-1,secondary,administrator,,,org-d,\n"
        let b = try read(files)
        let i = try issue(b, .unknownEnumValue)
        XCTAssertEqual(i.file, "roles.csv")
        XCTAssertEqual(i.line, 6)
        XCTAssertEqual(i.column, "role")
        XCTAssertTrue(i.message.contains("districtAdministrator"), i.message)
        assertQuarantined(b, file: "roles.csv", line: 6, reason: .unknownEnumValue)
        XCTAssertEqual(b.roles.count, 4)
    }

    func testBadDates() throws {
        var files = Fixture.bundle11()
        files["academicSessions.csv"] = Fixture.sessions + "as-bad,,,Bad,term,1/05/2023,2025-01-01,as-y,2025\n"
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,2017-05-06 08:01:05,cls-1,org-s1,s-2,student,,,\n"
            + "e-10,,2024-05-01,cls-2,org-s1,s-1,student,,,\n"
        let b = try read(files)
        let dates = b.report.issues(withCode: .badDate)
        XCTAssertEqual(dates.count, 1, b.report.rendered())
        let start = try XCTUnwrap(dates.first { $0.file == "academicSessions.csv" })
        XCTAssertEqual(start.line, 5)
        XCTAssertEqual(start.column, "startDate")
        XCTAssertEqual(start.value, "1/05/2023")
        assertQuarantined(b, file: "academicSessions.csv", line: 5, reason: .badDate)
        // dateLastModified is bookkeeping: a space for the `T` is read as UTC, with a warning (ToleranceTests).
        let stamp = try issue(b, .nonISOTimestamp)
        XCTAssertEqual(stamp.line, 5)
        XCTAssertEqual(stamp.column, "dateLastModified")
        // A bare date is accepted with a warning.
        let imprecise = try issue(b, .impreciseTimestamp)
        XCTAssertEqual(imprecise.severity, .warning)
        XCTAssertEqual(imprecise.line, 6)
        XCTAssertTrue(b.enrollments.contains { $0.sourcedId == "e-10" })
        XCTAssertTrue(b.enrollments.contains { $0.sourcedId == "e-9" })
    }

    func testEndBeforeStartAndBadBooleanAndBadYear() throws {
        var files = Fixture.bundle11()
        files["academicSessions.csv"] = Fixture.sessions + "as-x,,,X,term,2025-01-06,2024-12-20,as-y,2025\n"
            + "as-z,,,Z,term,2025-01-06,2025-02-20,as-y,25\n"
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-2,org-s1,s-1,student,yes,,\n"
        let b = try read(files)
        let range = try issue(b, .endBeforeStart)
        XCTAssertEqual(range.line, 5)
        XCTAssertEqual(range.column, "endDate")
        assertQuarantined(b, file: "academicSessions.csv", line: 5, reason: .endBeforeStart)
        let year = try issue(b, .badYear)
        XCTAssertEqual(year.line, 6)
        XCTAssertEqual(year.column, "schoolYear")
        assertQuarantined(b, file: "academicSessions.csv", line: 6, reason: .badYear)
        let boolean = try issue(b, .badBoolean)
        XCTAssertEqual(boolean.file, "enrollments.csv")
        XCTAssertEqual(boolean.line, 5)
        XCTAssertEqual(boolean.column, "primary")
        XCTAssertEqual(boolean.value, "yes")
        assertQuarantined(b, file: "enrollments.csv", line: 5, reason: .badBoolean)
    }

    func testDanglingReference() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-404,org-s1,s-1,student,,,\n"
        let b = try read(files)
        let i = try issue(b, .danglingReference)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "enrollments.csv")
        XCTAssertEqual(i.line, 5)
        XCTAssertEqual(i.column, "classSourcedId")
        XCTAssertEqual(i.value, "cls-404")
        XCTAssertTrue(i.message.contains("no class `cls-404` in classes.csv"), i.message)
        assertQuarantined(b, file: "enrollments.csv", line: 5, reason: .danglingReference)
        XCTAssertEqual(b.enrollments.count, 3)
    }

    func testDanglingClassReferencesToCourseSchoolAndTerms() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes + "cls-3,,,X,,crs-9,,scheduled,,org-s9,\"as-t1,as-t9\",,,\n"
        let b = try read(files)
        let issues = b.report.issues(withCode: .danglingReference)
        XCTAssertEqual(Set(issues.map(\.column)), ["courseSourcedId", "schoolSourcedId", "termSourcedIds"])
        XCTAssertEqual(issues.first { $0.column == "termSourcedIds" }?.value, "as-t9")
        XCTAssertTrue(issues.allSatisfy { $0.line == 4 && $0.file == "classes.csv" })
        assertQuarantined(b, file: "classes.csv", line: 4, reason: .danglingReference)
    }

    func testHeldLookupSatisfiesReferencesToNonBulkFiles() throws {
        // A delta bundle with only enrollments: references are answered by the held lookup.
        let files = [
            "manifest.csv": Fixture.manifest("1.1", ["enrollments": "delta"]),
            "enrollments.csv": """
            sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
            e-1,active,2024-05-01T00:00:00Z,cls-1,org-s1,s-1,student,,,
            e-2,active,2024-05-01T00:00:00Z,cls-2,org-s1,s-1,student,,,
            e-3,tobedeleted,2024-05-01T00:00:00Z,cls-gone,org-s1,s-1,student,,,

            """,
        ]
        var asked: [String] = []
        let held = HeldSourcedIdsClosure { id, entity in
            asked.append("\(entity.rawValue):\(id)")
            return ["cls-1", "org-s1", "s-1"].contains(id)
        }
        let b = try read(files, held: held)
        XCTAssertEqual(b.enrollments.map(\.sourcedId), ["e-1", "e-3"], b.report.rendered())
        XCTAssertTrue(asked.contains("class:cls-1"))
        XCTAssertTrue(asked.contains("user:s-1"))
        let i = try issue(b, .danglingReference)
        XCTAssertEqual(i.line, 3)
        XCTAssertEqual(i.value, "cls-2")
        XCTAssertTrue(i.message.contains("this bundle has no classes.csv"), i.message)
        assertQuarantined(b, file: "enrollments.csv", line: 3, reason: .danglingReference)
    }

    func testHeldLookupIsNotUsedForBulkFiles() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-old,org-s1,s-1,student,,,\n"
        let b = try read(files, held: HeldSourcedIdSets([.rosterClass: ["cls-old"]]))
        let i = try issue(b, .danglingReference)
        XCTAssertEqual(i.value, "cls-old")
        XCTAssertTrue(i.message.contains("bulk file is the complete list"), i.message)
    }

    func testReferenceToQuarantinedRowSaysSo() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes + "cls-3,,,X,,crs-1,,lab,,org-s1,as-t1,,,\n"
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-3,org-s1,s-1,student,,,\n"
        let b = try read(files)
        let i = try issue(b, .danglingReference)
        XCTAssertEqual(i.file, "enrollments.csv")
        XCTAssertTrue(i.message.contains("line 4 of classes.csv"), i.message)
        assertQuarantined(b, file: "classes.csv", line: 4, reason: .unknownEnumValue)
        assertQuarantined(b, file: "enrollments.csv", line: 5, reason: .danglingReference)
    }

    func testSelfReferencesWithinAFile() throws {
        var files = Fixture.bundle11()
        // A school listed before its district, and a department whose parent is missing.
        files["orgs.csv"] = """
        sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
        org-s1,,,Test High,school,HS1,org-d
        org-d,,,Test District,district,,
        org-dep,,,Science Dept,department,,org-nowhere

        """
        let b = try read(files)
        // parentSourcedId is optional: the department loads with its parent left unresolved.
        XCTAssertEqual(Set(b.orgs.map(\.sourcedId)), ["org-s1", "org-d", "org-dep"])
        let i = try issue(b, .danglingOptionalReference)
        XCTAssertEqual(i.line, 4)
        XCTAssertEqual(i.column, "parentSourcedId")
        XCTAssertEqual(i.severity, .warning)
        XCTAssertTrue(b.quarantined.isEmpty)
    }

    func testDuplicateSourcedId() throws {
        var files = Fixture.bundle11()
        files["users.csv"] = Fixture.users11 + "s-1,,,true,org-s1,student,sam2,,Sam,Again,,,,,,,09,\n"
        let b = try read(files)
        let i = try issue(b, .duplicateSourcedId)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "users.csv")
        XCTAssertEqual(i.line, 5)
        XCTAssertEqual(i.column, "sourcedId")
        XCTAssertEqual(i.value, "s-1")
        XCTAssertTrue(i.message.contains("line 3"), i.message)
        assertQuarantined(b, file: "users.csv", line: 5, reason: .duplicateSourcedId)
        XCTAssertEqual(b.users.filter { $0.sourcedId == "s-1" }.map(\.familyName), ["Stu"])
    }

    func testMisspeltHeaders() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments.replacingOccurrences(of: "sourcedId,status,dateLastModified,classSourcedId",
                                                                            with: "sourcedId,status,dateLastModified,clasSourcedId")
        files["orgs.csv"] = Fixture.orgs.replacingOccurrences(of: "identifier,parentSourcedId", with: "Identifier,parentSourcedId")
        let b = try read(files)
        let misspelt = b.report.issues(withCode: .misspeltHeader)
        XCTAssertEqual(misspelt.count, 2, b.report.rendered())
        let enr = try XCTUnwrap(misspelt.first { $0.file == "enrollments.csv" })
        XCTAssertEqual(enr.line, 1)
        XCTAssertEqual(enr.column, "clasSourcedId")
        XCTAssertTrue(enr.message.contains("did you mean `classSourcedId`?"), enr.message)
        let org = try XCTUnwrap(misspelt.first { $0.file == "orgs.csv" })
        XCTAssertEqual(org.column, "Identifier")
        XCTAssertTrue(org.message.contains("did you mean `identifier`?"), org.message)
        XCTAssertEqual(org.severity, .warning)
        // identifier is optional: orgs still load, the value is kept as an extension.
        XCTAssertEqual(b.orgs.count, 2)
        XCTAssertEqual(b.orgs[1].extensions["Identifier"], "HS1")
        // classSourcedId is required: every enrollment is quarantined.
        let missing = try issue(b, .missingRequiredColumn)
        XCTAssertEqual(missing.file, "enrollments.csv")
        XCTAssertEqual(missing.line, 1)
        XCTAssertEqual(missing.column, "classSourcedId")
        XCTAssertTrue(missing.fix.contains("Rename the header `clasSourcedId`"), missing.fix)
        XCTAssertTrue(b.enrollments.isEmpty)
        for line in 2...4 { assertQuarantined(b, file: "enrollments.csv", line: line, reason: .missingRequiredColumn) }
    }

    func testSourcedIDCaseNearMiss() throws {
        var files = Fixture.bundle11()
        files["courses.csv"] = Fixture.courses.replacingOccurrences(of: "sourcedId,status", with: "sourcedID,status")
        let b = try read(files)
        let i = try issue(b, .misspeltHeader)
        XCTAssertEqual(i.column, "sourcedID")
        XCTAssertTrue(i.message.contains("did you mean `sourcedId`?"))
        assertQuarantined(b, file: "courses.csv", line: 2, reason: .missingRequiredColumn)
    }

    func testUnknownColumnWarning() throws {
        var files = Fixture.bundle11()
        files["orgs.csv"] = """
        sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId,principalEmail
        org-d,,,Test District,district,,,
        org-s1,,,Test High,school,HS1,org-d,p@example.org

        """
        let b = try read(files)
        let i = try issue(b, .unknownColumn)
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.column, "principalEmail")
        XCTAssertEqual(b.orgs[1].extensions, ["principalEmail": "p@example.org"])
    }

    func testManifestMissingFile() throws {
        var files = Fixture.bundle11()
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11.merging(["demographics": "bulk"]) { $1 })
        let b = try read(files)
        let i = try issue(b, .manifestMissingFile)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "demographics.csv")
        XCTAssertEqual(i.column, "file.demographics")
        XCTAssertEqual(i.value, "bulk")
        XCTAssertTrue(i.message.contains("line 10"), i.message)
        XCTAssertEqual(b.enrollments.count, 3)
    }

    func testFileNotInManifest() throws {
        var files = Fixture.bundle11()
        files["demographics.csv"] = "sourcedId,status,dateLastModified,birthDate,sex\ns-1,,,2010-01-01,male\n"
        files["Orgs2.csv"] = "x\n1\n"
        let b = try read(files)
        let issues = b.report.issues(withCode: .fileNotInManifest)
        XCTAssertEqual(issues.map(\.file).sorted(), ["Orgs2.csv", "demographics.csv"])
        let demo = try XCTUnwrap(issues.first { $0.file == "demographics.csv" })
        XCTAssertEqual(demo.severity, .warning)
        XCTAssertTrue(demo.message.contains("file.demographics=absent"), demo.message)
        XCTAssertTrue(b.demographics.isEmpty)
    }

    func testFileOmittedFromManifest() throws {
        var files = Fixture.bundle11()
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11)
            .replacingOccurrences(of: "file.enrollments,bulk\n", with: "")
        let b = try read(files)
        let i = try issue(b, .fileNotInManifest)
        XCTAssertEqual(i.file, "enrollments.csv")
        XCTAssertTrue(i.message.contains("does not list file.enrollments"), i.message)
        XCTAssertTrue(b.enrollments.isEmpty)
    }

    func testEmptyFiles() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
        files["courses.csv"] = ""
        files["classes.csv"] = ""
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11.merging(["classes": "absent", "courses": "absent"]) { $1 })
        files.removeValue(forKey: "classes.csv")
        files.removeValue(forKey: "courses.csv")
        files["courses.csv"] = ""
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11.merging(["classes": "absent"]) { $1 })
        let b = try read(files)
        let empties = b.report.issues(withCode: .emptyFile)
        XCTAssertEqual(empties.count, 2, b.report.rendered())
        let enr = try XCTUnwrap(empties.first { $0.file == "enrollments.csv" })
        XCTAssertEqual(enr.severity, .error)
        XCTAssertEqual(enr.line, 1)
        XCTAssertTrue(enr.message.contains("no data rows"), enr.message)
        let crs = try XCTUnwrap(empties.first { $0.file == "courses.csv" })
        XCTAssertNil(crs.line)
        XCTAssertTrue(crs.message.contains("is empty"), crs.message)
    }

    func testInvalidUTF8() throws {
        var files = Fixture.bundle11()
        files.removeValue(forKey: "users.csv")
        let bad = Data(Fixture.users11.utf8) + Data("s-3,,,true,org-s1,student,sol,,So".utf8) + Data([0xE9]) + Data(",Lee,,,,,,,,09,\n".utf8)
        let b = try read(files, binary: ["users.csv": bad])
        let i = try issue(b, .invalidUTF8)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "users.csv")
        XCTAssertEqual(i.line, 5)
        XCTAssertEqual(i.column, "givenName")
        XCTAssertEqual(i.value, "So\u{FFFD}")
        assertQuarantined(b, file: "users.csv", line: 5, reason: .invalidUTF8)
        XCTAssertEqual(b.users.count, 3)
    }

    func testWrongFieldCountFromCutOffFile() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-4,,,cls-2,org-s1"
        let b = try read(files)
        let i = try issue(b, .wrongFieldCount)
        XCTAssertEqual(i.line, 5)
        XCTAssertTrue(i.message.contains("5 values but the header has 10 columns"), i.message)
        assertQuarantined(b, file: "enrollments.csv", line: 5, reason: .wrongFieldCount)
    }

    func testLineBreakInFieldIsAWarningAndLinesStayPhysical() throws {
        var files = Fixture.bundle11()
        files["classes.csv"] = Fixture.classes.replacingOccurrences(of: "Room 1,", with: "\"Room 1\nNorth wing\",")
            + "cls-3,,,X,,crs-404,,scheduled,,org-s1,as-t1,,,\n"
        let b = try read(files)
        let lb = try issue(b, .lineBreakInField)
        XCTAssertEqual(lb.severity, .warning)
        XCTAssertEqual(lb.line, 2)
        XCTAssertEqual(b.classes.first?.location, "Room 1\nNorth wing")
        // The row after the embedded line break starts on physical line 4, the bad one on line 5.
        let dangling = try issue(b, .danglingReference)
        XCTAssertEqual(dangling.line, 5)
    }

    func testManifestMissing() throws {
        var files = Fixture.bundle11()
        files.removeValue(forKey: "manifest.csv")
        let b = try read(files)
        let i = try issue(b, .manifestMissing)
        XCTAssertEqual(i.severity, .error)
        XCTAssertEqual(i.file, "manifest.csv")
        XCTAssertEqual(b.version, .v1_1) // inferred from users.csv's role column
        XCTAssertEqual(b.mode(of: .users), .bulk)
        XCTAssertEqual(b.users.count, 3)
    }

    func testManifestBadValues() throws {
        var files = Fixture.bundle12()
        files["manifest.csv"] = Fixture.manifest("1.3", Fixture.rosterModes12.merging(["demographics": "full"]) { $1 })
        let b = try read(files)
        let bad = b.report.issues(withCode: .manifestBadValue)
        XCTAssertEqual(bad.count, 2, b.report.rendered())
        XCTAssertEqual(bad.first { $0.column == "oneroster.version" }?.line, 3)
        XCTAssertEqual(bad.first { $0.column == "file.demographics" }?.value, "full")
        XCTAssertEqual(b.version, .v1_2) // inferred from roles.csv
        XCTAssertEqual(b.roles.count, 4)
    }

    func test12UserWithoutRole() throws {
        var files = Fixture.bundle12()
        files["roles.csv"] = Fixture.roles12.replacingOccurrences(of: "r-4,,,s-2,primary,student,,,org-s1,\n", with: "")
        let b = try read(files)
        let i = try issue(b, .userWithoutRole)
        XCTAssertEqual(i.severity, .warning)
        XCTAssertEqual(i.line, 4)
        XCTAssertEqual(i.value, "s-2")
        XCTAssertEqual(b.users.count, 3)
    }

    func test11OnlyRoleIn12UsersColumns() throws {
        var files = Fixture.bundle12()
        files["users.csv"] = Fixture.users11
        let b = try read(files)
        let unknown = b.report.issues(withCode: .unknownColumn)
        XCTAssertEqual(Set(unknown.compactMap(\.column)), ["orgSourcedIds", "role"])
        XCTAssertTrue(unknown.first { $0.column == "role" }!.message.contains("roles.csv"))
    }

    func testIssueCapCountsTheRest() throws {
        var files = Fixture.bundle11()
        var text = Fixture.enrollments
        for i in 0..<30 { text += "x-\(i),,,cls-404,org-s1,s-1,student,,,\n" }
        files["enrollments.csv"] = text
        let dir = try write(files)
        let b = try OneRosterBundleReader(options: .init(maxIssuesPerFileAndCode: 10)).read(at: dir)
        XCTAssertEqual(b.report.issues(withCode: .danglingReference).count, 10)
        XCTAssertEqual(b.report.errorCount, 30)
        XCTAssertEqual(b.report.countsByCode["dangling-reference"], 30)
        XCTAssertEqual(b.report.files.first { $0.file == "enrollments.csv" }?.issuesNotListed["dangling-reference"], 20)
        XCTAssertEqual(b.quarantined.count, 30)
        XCTAssertTrue(b.report.rendered().contains("… and 20 more [dangling-reference] issues"))
    }
}
