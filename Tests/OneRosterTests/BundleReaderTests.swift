import Foundation
import OneRoster
import XCTest
import ZIPFoundation

final class BundleReaderTests: OneRosterTestCase {
    func testValid11BundleReadsEverything() throws {
        let b = try read(Fixture.bundle11())
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        // The fixture's users say `TRUE` and `False`: read, with a letter-case warning each.
        XCTAssertEqual(b.report.countsByCode, ["enum-letter-case": 2], b.report.rendered())
        XCTAssertEqual(b.version, .v1_1)
        XCTAssertEqual(b.manifest.sourceSystemName, "Test SIS")
        XCTAssertEqual(b.manifest.sourceSystemCode, "TSIS")
        XCTAssertEqual(b.mode(of: .enrollments), .bulk)
        XCTAssertEqual(b.mode(of: .demographics), .absent)
        XCTAssertEqual(b.orgs.map(\.sourcedId), ["org-d", "org-s1"])
        XCTAssertEqual(b.orgs[1].type, .school)
        XCTAssertEqual(b.orgs[1].parentSourcedId, "org-d")
        XCTAssertEqual(b.academicSessions.count, 3)
        XCTAssertEqual(b.academicSessions[0].startDate, OneRosterDate(year: 2024, month: 8, day: 15))
        XCTAssertEqual(b.academicSessions[0].schoolYear, 2025)
        XCTAssertEqual(b.courses.count, 1)
        XCTAssertEqual(b.classes.count, 2)
        XCTAssertEqual(b.users.count, 3)
        XCTAssertEqual(b.enrollments.count, 3)
        XCTAssertTrue(b.quarantined.isEmpty)
        let summary = try XCTUnwrap(b.report.files.first { $0.file == "enrollments.csv" })
        XCTAssertEqual(summary.rowsRead, 3)
        XCTAssertEqual(summary.rowsLoaded, 3)
        XCTAssertEqual(summary.rowsQuarantined, 0)
        XCTAssertEqual(b.enrollments[1].beginDate?.description, "2024-08-15")
        XCTAssertEqual(b.enrollments[0].primary, true)
        XCTAssertEqual(b.enrollments[1].primary, false)
        XCTAssertNil(b.enrollments[2].primary)
    }

    func testListsWithAndWithoutSpaces() throws {
        let b = try read(Fixture.bundle11())
        XCTAssertEqual(b.courses[0].grades, ["09", "10"])
        XCTAssertEqual(b.courses[0].subjects, ["Science", "Biology"])
        XCTAssertEqual(b.courses[0].subjectCodes, [])
        XCTAssertEqual(b.classes[0].termSourcedIds, ["as-t1", "as-t2"])
        XCTAssertEqual(b.classes[0].grades, ["09"])
        XCTAssertEqual(b.classes[1].grades, ["09", "10"])
        XCTAssertEqual(b.classes[1].termSourcedIds, ["as-t1"])
        XCTAssertEqual(b.users[2].orgSourcedIds, ["org-s1", "org-d"])
        XCTAssertEqual(b.users[1].userIds, [UserIdentifier(type: "LDAP", identifier: "2"), UserIdentifier(type: "SIS", identifier: "99")])
    }

    func testBooleansInAnyCase() throws {
        let b = try read(Fixture.bundle11())
        XCTAssertEqual(b.users.map(\.enabledUser), [true, true, false])
        XCTAssertEqual(b.report.issues(withCode: .enumLetterCase).map(\.value), ["TRUE", "False"])
    }

    func test11RolesDerivedFromUsers() throws {
        let b = try read(Fixture.bundle11())
        let sia = b.users[2]
        XCTAssertEqual(sia.role, .student)
        XCTAssertEqual(sia.roles.map(\.orgSourcedId), ["org-s1", "org-d"])
        XCTAssertEqual(sia.roles.map(\.roleType), [.primary, .secondary])
        XCTAssertNil(sia.roles[0].sourcedId)
        XCTAssertTrue(b.roles.isEmpty)
    }

    func test12LayoutWithRolesCSV() throws {
        let b = try read(Fixture.bundle12())
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        XCTAssertEqual(b.report.warningCount, 0, b.report.rendered())
        XCTAssertEqual(b.version, .v1_2)
        XCTAssertEqual(b.roles.count, 4)
        XCTAssertEqual(b.roles[1].role, .districtAdministrator)
        XCTAssertEqual(b.roles[1].beginDate?.description, "2024-08-01")
        let tina = try XCTUnwrap(b.users.first { $0.sourcedId == "t-1" })
        XCTAssertEqual(tina.role, .teacher)
        XCTAssertEqual(tina.roles.map(\.role), [.teacher, .districtAdministrator])
        XCTAssertEqual(tina.roles.map(\.sourcedId), ["r-1", "r-2"])
        XCTAssertEqual(tina.orgSourcedIds, ["org-s1", "org-d"])
        XCTAssertEqual(tina.preferredGivenName, "Tee")
        XCTAssertEqual(tina.pronouns, "she/her")
        XCTAssertEqual(tina.primaryOrgSourcedId, "org-s1")
        XCTAssertEqual(b.users.first { $0.sourcedId == "s-2" }?.role, .student)
    }

    func test12UserProfiles() throws {
        var files = Fixture.bundle12()
        files["manifest.csv"] = Fixture.manifest("1.2", Fixture.rosterModes12.merging(["userProfiles": "bulk"]) { a, _ in a })
        files["userProfiles.csv"] = """
        sourcedId,status,dateLastModified,userSourcedId,profileType,vendorId,applicationId,description,credentialType,username,password
        up-1,,,t-1,lms,vendor-x,app-1,LMS account,username,tina.t,

        """
        files["roles.csv"] = Fixture.roles12.replacingOccurrences(of: "r-1,,,t-1,primary,teacher,,,org-s1,", with: "r-1,,,t-1,primary,teacher,,,org-s1,up-1")
        let b = try read(files)
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        XCTAssertEqual(b.userProfiles.map(\.sourcedId), ["up-1"])
        XCTAssertEqual(b.userProfiles[0].vendorId, "vendor-x")
        XCTAssertEqual(b.roles[0].userProfileSourcedId, "up-1")
    }

    func testColumnsInAnyOrderAndMetadataKept() throws {
        var files = Fixture.bundle11()
        files["orgs.csv"] = """
        type,name,metadata.ncesId,sourcedId,parentSourcedId,identifier,dateLastModified,status
        district,Test District,0601234,org-d,,,,
        school,"Test High, North",,org-s1,org-d,HS1,2024-05-01T18:25:43.511Z,active

        """
        let b = try read(files)
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        XCTAssertEqual(b.report.countsByCode, ["enum-letter-case": 2], b.report.rendered())
        XCTAssertEqual(b.orgs.count, 2)
        XCTAssertEqual(b.orgs[0].extensions, ["metadata.ncesId": "0601234"])
        XCTAssertEqual(b.orgs[1].extensions, [:])
        XCTAssertEqual(b.orgs[1].name, "Test High, North")
        XCTAssertEqual(b.orgs[1].identifier, "HS1")
        XCTAssertEqual(b.orgs[1].dateLastModified, Date(timeIntervalSince1970: 1_714_587_943.511))
    }

    func testBOMAndCRLFInBundleFiles() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = "\u{FEFF}" + Fixture.enrollments.replacingOccurrences(of: "\n", with: "\r\n")
        files["orgs.csv"] = String(Fixture.orgs.dropLast()) // no final newline
        let b = try read(files)
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        XCTAssertEqual(b.enrollments.map(\.sourcedId), ["e-1", "e-2", "e-3"])
        XCTAssertEqual(b.orgs.count, 2)
    }

    func testLegacyInactiveReadsAsToBeDeleted() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-4,inactive,2024-05-01T00:00:00Z,cls-2,org-s1,s-1,student,,,\n"
        let b = try read(files)
        let e4 = try XCTUnwrap(b.enrollments.first { $0.sourcedId == "e-4" })
        XCTAssertEqual(e4.status, .tobedeleted)
        let issue = try issue(b, .legacyStatus)
        XCTAssertEqual(issue.severity, .warning)
        XCTAssertEqual(issue.file, "enrollments.csv")
        XCTAssertEqual(issue.line, 5)
        XCTAssertEqual(issue.column, "status")
        XCTAssertEqual(issue.value, "inactive")
    }

    func testZipBundleMatchesFolderBundle() throws {
        let folder = try write(Fixture.bundle12())
        let zipURL = try makeTempDir().appendingPathComponent("bundle.zip")
        let archive = try Archive(url: zipURL, accessMode: .create)
        for name in Fixture.bundle12().keys.sorted() {
            try archive.addEntry(with: name, relativeTo: folder, compressionMethod: .deflate)
        }
        let fromZip = try OneRosterBundleReader().read(at: zipURL)
        let fromFolder = try OneRosterBundleReader().read(at: folder)
        XCTAssertEqual(fromZip.report, fromFolder.report)
        XCTAssertEqual(fromZip.users, fromFolder.users)
        XCTAssertEqual(fromZip.enrollments, fromFolder.enrollments)
        XCTAssertEqual(fromZip.roles.count, 4)
        XCTAssertEqual(fromZip.report.errorCount, 0)
    }

    func testZipWithFilesInSubfolder() throws {
        let root = try makeTempDir()
        let inner = root.appendingPathComponent("export-2024")
        try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
        for (name, text) in Fixture.bundle11() { try Data(text.utf8).write(to: inner.appendingPathComponent(name)) }
        let zipURL = try makeTempDir().appendingPathComponent("nested.zip")
        let archive = try Archive(url: zipURL, accessMode: .create)
        for name in Fixture.bundle11().keys.sorted() {
            try archive.addEntry(with: "export-2024/" + name, relativeTo: root, compressionMethod: .deflate)
        }
        let b = try OneRosterBundleReader().read(at: zipURL)
        XCTAssertEqual(b.enrollments.count, 3)
        XCTAssertEqual(b.report.errorCount, 0, b.report.rendered())
        XCTAssertEqual(try issue(b, .filesInSubfolder).severity, .warning)
    }

    func testNotABundle() throws {
        let dir = try makeTempDir()
        let url = dir.appendingPathComponent("x.txt")
        try Data("hello".utf8).write(to: url)
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: url)) { error in
            XCTAssertEqual(error as? OneRosterBundleError, .notABundle(url.path))
        }
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: dir.appendingPathComponent("missing")))
    }

    func testVisitorStreamsWithoutRetaining() throws {
        let dir = try write(Fixture.bundle12())
        var kinds: [String] = []
        var enrollments = 0
        let reader = OneRosterBundleReader(options: .init(retainRecords: false))
        let b = try reader.read(at: dir, visitor: { record in
            switch record {
            case .org: kinds.append("org")
            case .user(let u):
                kinds.append("user")
                XCTAssertFalse(u.roles.isEmpty)
            case .role: kinds.append("role")
            case .enrollment: enrollments += 1
            default: break
            }
        })
        XCTAssertEqual(enrollments, 3)
        XCTAssertTrue(b.enrollments.isEmpty)
        XCTAssertTrue(b.users.isEmpty)
        XCTAssertEqual(kinds.filter { $0 == "org" }.count, 2)
        XCTAssertEqual(kinds.filter { $0 == "user" }.count, 3)
        // Roles come before the users they are attached to.
        XCTAssertLessThan(kinds.lastIndex(of: "role")!, kinds.firstIndex(of: "user")!)
        XCTAssertEqual(b.report.files.first { $0.file == "enrollments.csv" }?.rowsLoaded, 3)
    }

    func testExtensibleEnumsAndCodable() throws {
        XCTAssertEqual(OrgType(rawValue: "ext:campus"), .ext("campus"))
        XCTAssertNil(OrgType(rawValue: "ext:"))
        XCTAssertNil(OrgType(rawValue: "School"))
        let data = try JSONEncoder().encode([OrgType.school, .ext("campus")])
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "[\"school\",\"ext:campus\"]")
        XCTAssertEqual(try JSONDecoder().decode([OrgType].self, from: data), [.school, .ext("campus")])
        let date = try JSONEncoder().encode(OneRosterDate("2024-02-29"))
        XCTAssertEqual(String(decoding: date, as: UTF8.self), "\"2024-02-29\"")
        XCTAssertNil(OneRosterDate("2023-02-29"))
        XCTAssertNil(OneRosterDate("2023-2-01"))
        XCTAssertEqual(OneRosterTimestamp.parse("2024-05-01T20:25:43+02:00"), .dateTime(Date(timeIntervalSince1970: 1_714_587_943)))
        XCTAssertEqual(OneRosterTimestamp.format(Date(timeIntervalSince1970: 1_714_587_943.511)), "2024-05-01T18:25:43.511Z")
        XCTAssertNil(OneRosterTimestamp.parse("2017-05-06 08:01:05"))
    }

    func testReportIsCodableAndRendered() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = Fixture.enrollments + "e-9,,,cls-404,org-s1,s-1,student,,,\n"
        let b = try read(files)
        let json = try b.report.jsonData()
        let decoded = try JSONDecoder().decode(ValidationReport.self, from: json)
        XCTAssertEqual(decoded, b.report)
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertTrue(text.contains("\"code\" : \"dangling-reference\""), text)
        let human = b.report.rendered()
        XCTAssertTrue(human.contains("enrollments.csv (bulk: 4 rows, 3 loaded, 1 quarantined)"), human)
        XCTAssertTrue(human.contains("error   enrollments.csv:5 column classSourcedId value \"cls-404\" [dangling-reference]"), human)
        XCTAssertTrue(human.contains("Fix: "), human)
        XCTAssertTrue(human.contains("Totals: 1 error, 2 warnings"), human)
        XCTAssertTrue(human.hasPrefix("Root causes (1), by rows they cost:\n  1 row: enrollment `e-9` (enrollments.csv:5) was not loaded [dangling-reference]"), human)
    }
}
