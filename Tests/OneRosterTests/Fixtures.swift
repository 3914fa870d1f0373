import Foundation
import OneRoster
import XCTest

/// Inline OneRoster fixtures written to temporary folders.
enum Fixture {
    static func manifest(_ version: String, _ modes: [String: String], extra: [String] = []) -> String {
        let files11 = ["academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
                       "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users"]
        let files12 = ["academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
                       "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales",
                       "orgs", "resources", "resultLearningObjectiveIds", "results", "resultScoreScales", "roles",
                       "scoreScales", "userProfiles", "userResources", "users"]
        var lines = ["propertyName,value", "manifest.version,1.0", "oneroster.version,\(version)"]
        for f in (version == "1.1" ? files11 : files12) {
            lines.append("file.\(f),\(modes[f] ?? "absent")")
        }
        lines.append("source.systemName,Test SIS")
        lines.append("source.systemCode,TSIS")
        lines += extra
        return lines.joined(separator: "\n") + "\n"
    }

    static let rosterModes11 = ["orgs": "bulk", "academicSessions": "bulk", "courses": "bulk", "classes": "bulk",
                                "users": "bulk", "enrollments": "bulk"]
    static let rosterModes12 = rosterModes11.merging(["roles": "bulk"]) { a, _ in a }

    static let orgs = """
    sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
    org-d,,,Test District,district,,
    org-s1,,,Test High,school,HS1,org-d

    """

    static let sessions = """
    sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
    as-y,,,2024-25,schoolYear,2024-08-15,2025-06-30,,2025
    as-t1,,,Fall,term,2024-08-15,2024-12-20,as-y,2025
    as-t2,,,Spring,term,2025-01-06,2025-06-30,as-y,2025

    """

    static let courses = """
    sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes
    crs-1,,,as-y,Biology,BIO1,"09,10",org-d,"Science, Biology",

    """

    static let classes = """
    sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods
    cls-1,,,Biology P1,09,crs-1,BIO1-1,scheduled,Room 1,org-s1,"as-t1, as-t2",Science,,1
    cls-2,,,Biology P2,"09,10",crs-1,BIO1-2,scheduled,Room 2,org-s1,as-t1,Science,,2

    """

    static let users11 = """
    sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password
    t-1,,,true,org-s1,teacher,tina,{LDAP:1},Tina,Teach,,,tina@example.org,,,,,
    s-1,,,TRUE,org-s1,student,sam,"{LDAP:2},{SIS:99}",Sam,Stu,,1001,,,,,09,
    s-2,,,False,"org-s1,org-d",student,sia,,Sia,Stu,,1002,,,,,10,

    """

    static let users12 = """
    sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns
    t-1,,,true,tina,{LDAP:1},Tina,Teach,,,tina@example.org,,,,,,,Tee,,,org-s1,she/her
    s-1,,,true,sam,,Sam,Stu,,1001,,,,,09,,,,,,org-s1,
    s-2,,,true,sia,,Sia,Stu,,1002,,,,,10,,,,,,org-s1,

    """

    static let roles12 = """
    sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId
    r-1,,,t-1,primary,teacher,,,org-s1,
    r-2,,,t-1,secondary,districtAdministrator,2024-08-01,,org-d,
    r-3,,,s-1,primary,student,,,org-s1,
    r-4,,,s-2,primary,student,,,org-s1,

    """

    static let enrollments = """
    sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
    e-1,,,cls-1,org-s1,t-1,teacher,true,,
    e-2,,,cls-1,org-s1,s-1,student,false,2024-08-15,2025-06-30
    e-3,,,cls-2,org-s1,s-2,student,,,

    """

    /// A valid 1.1 bundle.
    static func bundle11() -> [String: String] {
        ["manifest.csv": manifest("1.1", rosterModes11), "orgs.csv": orgs, "academicSessions.csv": sessions,
         "courses.csv": courses, "classes.csv": classes, "users.csv": users11, "enrollments.csv": enrollments]
    }

    /// A valid 1.2 bundle.
    static func bundle12() -> [String: String] {
        ["manifest.csv": manifest("1.2", rosterModes12), "orgs.csv": orgs, "academicSessions.csv": sessions,
         "courses.csv": courses, "classes.csv": classes, "users.csv": users12, "roles.csv": roles12,
         "enrollments.csv": enrollments]
    }
}

/// Test base: temporary folders, cleaned up after each test.
class OneRosterTestCase: XCTestCase {
    var tempDirs: [URL] = []

    override func tearDown() {
        for d in tempDirs { try? FileManager.default.removeItem(at: d) }
        tempDirs = []
        super.tearDown()
    }

    func makeTempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("or-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        tempDirs.append(url)
        return url
    }

    func write(_ files: [String: String], binary: [String: Data] = [:]) throws -> URL {
        let dir = try makeTempDir()
        for (name, text) in files { try Data(text.utf8).write(to: dir.appendingPathComponent(name)) }
        for (name, data) in binary { try data.write(to: dir.appendingPathComponent(name)) }
        return dir
    }

    func read(_ files: [String: String], binary: [String: Data] = [:], held: any HeldSourcedIds = NoHeldSourcedIds(),
              file: StaticString = #filePath, line: UInt = #line) throws -> OneRosterBundle {
        let dir = try write(files, binary: binary)
        return try OneRosterBundleReader().read(at: dir, held: held)
    }

    /// Finds exactly one issue with a code (and optional file) or fails.
    @discardableResult
    func issue(_ bundle: OneRosterBundle, _ code: IssueCode, file: String? = nil,
               sourceFile: StaticString = #filePath, sourceLine: UInt = #line) throws -> ValidationIssue {
        let found = bundle.report.issues.filter { $0.code == code && (file == nil || $0.file == file) }
        XCTAssertEqual(found.count, 1, "issues with \(code.rawValue): \(found)\n\(bundle.report.rendered())",
                       file: sourceFile, line: sourceLine)
        return try XCTUnwrap(found.first, file: sourceFile, line: sourceLine)
    }

    func assertQuarantined(_ bundle: OneRosterBundle, file: String, line: Int, reason: IssueCode,
                           sourceFile: StaticString = #filePath, sourceLine: UInt = #line) {
        let row = bundle.quarantined.first { $0.file == file && $0.line == line }
        XCTAssertNotNil(row, "no quarantined row \(file):\(line); have \(bundle.quarantined.map { "\($0.file):\($0.line)" })",
                        file: sourceFile, line: sourceLine)
        if let row {
            XCTAssertTrue(row.reasons.contains(reason), "reasons \(row.reasons)", file: sourceFile, line: sourceLine)
        }
    }
}
