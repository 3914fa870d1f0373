import Foundation
import OneRoster
@testable import RosterFlowCore
import XCTest

/// The per-field digest vector: a change in any one field shows as exactly that field, and the record digest it is
/// read alongside stays what earlier releases stored.
final class FieldDigestTests: XCTestCase {
    static let day1 = OneRosterDate(year: 2026, month: 8, day: 15)!
    static let day2 = OneRosterDate(year: 2027, month: 6, day: 10)!

    /// Each mutation changes the field of that name, and nothing else.
    func assertEachFieldDetected(
        _ entity: RosterEntity, base: OneRosterRecord, mutations: [(String, OneRosterRecord)],
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let names = FieldDigests.names(entity)
        let vector = try XCTUnwrap(FieldDigests.vector(base), file: file, line: line)
        XCTAssertEqual(vector.count, entity == .enrollments ? 14 : names.count * 2, "\(entity): 14 or 16 bits a field",
                       file: file, line: line)
        XCTAssertEqual(Set(mutations.map(\.0)), Set(names), "\(entity): every field is mutated once", file: file, line: line)
        let digest = try XCTUnwrap(SyncPlanner.fingerprint(base), file: file, line: line).digest
        for (name, mutated) in mutations {
            XCTAssertEqual(FieldDigests.changed(entity, old: vector, new: FieldDigests.vector(mutated)), [name],
                           "\(entity).\(name)", file: file, line: line)
            XCTAssertNotEqual(SyncPlanner.fingerprint(mutated)?.digest, digest, "\(entity).\(name) changes the record digest",
                              file: file, line: line)
        }
        XCTAssertEqual(FieldDigests.changed(entity, old: vector, new: FieldDigests.vector(base)), [], file: file, line: line)
        XCTAssertNil(FieldDigests.changed(entity, old: nil, new: vector), "no held vector: unknown", file: file, line: line)
    }

    /// The field count the comparison uses without building the names is the names' count, for every entity; a vector
    /// read from a slice (not starting at index 0) is compared by its own bytes.
    func testFieldCountsMatchTheNamesAndSlicesCompareInPlace() throws {
        for entity in RosterEntity.allCases {
            XCTAssertEqual(FieldDigests.fieldCount(entity), FieldDigests.names(entity).count, "\(entity)")
        }
        let a = Data([0xff, 0xff]) + Data(repeating: 0, count: 38)
        var b = Data([0x00]) + Data(repeating: 0, count: 38)
        b[21] = 1
        // Users: 16 bits a field; the slice starts at index 2 / 1 of its storage, its field 10 differs in one bit.
        XCTAssertEqual(FieldDigests.changedMask(.users, old: a.dropFirst(2), new: b.dropFirst(1)), 1 << 10)
        XCTAssertEqual(FieldDigests.changedMask(.users, old: a.dropFirst(2), new: a.dropFirst(2)), 0)
    }

    /// Any set of differing bits names exactly the fields whose slots hold them (`width` bits a field, packed from bit 0),
    /// for every entity: one bit at each position, and bits in several fields at once.
    func testDifferingBitsNameTheFieldsWhoseSlotsHoldThem() throws {
        for entity in RosterEntity.allCases where FieldDigests.fieldCount(entity) > 0 {
            let width = FieldDigests.width(entity)
            let old = Data((0..<FieldDigests.byteCount(entity)).map { UInt8(truncatingIfNeeded: $0 &* 37) })
            for bit in 0..<(FieldDigests.fieldCount(entity) * width) {
                var new = old
                new[bit / 8] ^= 1 << UInt8(bit % 8)
                XCTAssertEqual(FieldDigests.changedMask(entity, old: old, new: new), 1 << UInt32(bit / width), "\(entity) bit \(bit)")
            }
            var new = old
            new[0] ^= 0b1000_0001  // two bits of field 0
            new[new.count - 1] ^= 0x80  // the last field's last bit
            let last = UInt32(FieldDigests.fieldCount(entity) - 1)
            XCTAssertEqual(FieldDigests.changedMask(entity, old: old, new: new), 1 | 1 << last, "\(entity)")
            XCTAssertNil(FieldDigests.changedMask(entity, old: old, new: new.dropLast()), "\(entity): not the entity's length")
        }
    }

    func testAChangeInEachUserFieldIsNamed() throws {
        let base = User(
            sourcedId: "u1", username: "ana", userIds: [UserIdentifier(type: "SIS", identifier: "1")], givenName: "Ana",
            familyName: "Lopez", middleName: "M", identifier: "100", email: "ana@x.example", sms: "555", phone: "556",
            agentSourcedIds: ["p1"], grades: ["09"], role: .student, orgSourcedIds: ["sch-1"],
            roles: [RoleAssignment(userSourcedId: "u1", roleType: .primary, role: .student, orgSourcedId: "sch-1")],
            preferredGivenName: "Annie", preferredFamilyName: "L", primaryOrgSourcedId: "sch-1", extensions: ["metadata.a": "1"])
        func with(_ change: (inout User) -> Void) -> OneRosterRecord {
            var user = base
            change(&user)
            return .user(user)
        }
        try assertEachFieldDetected(.users, base: .user(base), mutations: [
            ("enabledUser", with { $0.enabledUser = false }),
            ("username", with { $0.username = "ana2" }),
            ("userIds", with { $0.userIds = [UserIdentifier(type: "SIS", identifier: "2")] }),
            ("givenName", with { $0.givenName = "Anna" }),
            ("familyName", with { $0.familyName = "López" }),
            ("middleName", with { $0.middleName = nil }),
            ("identifier", with { $0.identifier = "101" }),
            ("email", with { $0.email = "ana.lopez@x.example" }),
            ("sms", with { $0.sms = "557" }),
            ("phone", with { $0.phone = "558" }),
            ("agentSourcedIds", with { $0.agentSourcedIds = ["p1", "p2"] }),
            ("grades", with { $0.grades = ["10"] }),
            ("role", with { $0.role = .teacher }),
            ("orgSourcedIds", with { $0.orgSourcedIds = ["sch-2"] }),
            ("roles", with { $0.roles[0].role = .teacher }),
            ("preferredGivenName", with { $0.preferredGivenName = "Ann" }),
            ("preferredFamilyName", with { $0.preferredFamilyName = "Lo" }),
            ("primaryOrgSourcedId", with { $0.primaryOrgSourcedId = "sch-2" }),
            ("metadata", with { $0.extensions["metadata.a"] = "2" }),
        ])
    }

    func testAChangeInEachEnrollmentClassCourseOrgAndSessionFieldIsNamed() throws {
        let enrollment = Enrollment(
            sourcedId: "e1", classSourcedId: "c1", schoolSourcedId: "s1", userSourcedId: "u1", role: .student, primary: true,
            beginDate: Self.day1, endDate: Self.day2)
        func e(_ change: (inout Enrollment) -> Void) -> OneRosterRecord { var x = enrollment; change(&x); return .enrollment(x) }
        try assertEachFieldDetected(.enrollments, base: .enrollment(enrollment), mutations: [
            ("classSourcedId", e { $0.classSourcedId = "c2" }), ("schoolSourcedId", e { $0.schoolSourcedId = "s2" }),
            ("userSourcedId", e { $0.userSourcedId = "u2" }), ("role", e { $0.role = .teacher }),
            ("primary", e { $0.primary = false }), ("beginDate", e { $0.beginDate = Self.day2 }),
            ("endDate", e { $0.endDate = nil }), ("metadata", e { $0.extensions = ["metadata.x": "y"] }),
        ])

        let rosterClass = RosterClass(
            sourcedId: "c1", title: "Algebra I P1", grades: ["09"], courseSourcedId: "crs1", classCode: "ALG1", classType: .scheduled,
            location: "R101", schoolSourcedId: "s1", termSourcedIds: ["t1"], subjects: ["Math"], subjectCodes: ["M1"], periods: ["1"])
        func c(_ change: (inout RosterClass) -> Void) -> OneRosterRecord { var x = rosterClass; change(&x); return .rosterClass(x) }
        try assertEachFieldDetected(.classes, base: .rosterClass(rosterClass), mutations: [
            ("title", c { $0.title = "Algebra I P2" }), ("grades", c { $0.grades = ["10"] }),
            ("courseSourcedId", c { $0.courseSourcedId = "crs2" }), ("classCode", c { $0.classCode = "ALG2" }),
            ("classType", c { $0.classType = .homeroom }), ("location", c { $0.location = "R102" }),
            ("schoolSourcedId", c { $0.schoolSourcedId = "s2" }), ("termSourcedIds", c { $0.termSourcedIds = ["t1", "t2"] }),
            ("subjects", c { $0.subjects = ["Maths"] }), ("subjectCodes", c { $0.subjectCodes = ["M2"] }),
            ("periods", c { $0.periods = ["2"] }), ("metadata", c { $0.extensions = ["metadata.room": "A"] }),
        ])

        let course = Course(sourcedId: "crs1", schoolYearSourcedId: "y1", title: "Algebra I", courseCode: "ALG", grades: ["09"],
                            orgSourcedId: "s1", subjects: ["Math"], subjectCodes: ["M1"])
        func k(_ change: (inout Course) -> Void) -> OneRosterRecord { var x = course; change(&x); return .course(x) }
        try assertEachFieldDetected(.courses, base: .course(course), mutations: [
            ("title", k { $0.title = "Algebra 1" }), ("schoolYearSourcedId", k { $0.schoolYearSourcedId = "y2" }),
            ("courseCode", k { $0.courseCode = "ALG-1" }), ("grades", k { $0.grades = ["09", "10"] }),
            ("orgSourcedId", k { $0.orgSourcedId = "s2" }), ("subjects", k { $0.subjects = [] }),
            ("subjectCodes", k { $0.subjectCodes = ["M9"] }), ("metadata", k { $0.extensions = ["metadata.k": "v"] }),
        ])

        let org = Org(sourcedId: "s1", name: "Lincoln High", type: .school, identifier: "LHS", parentSourcedId: "d1")
        func o(_ change: (inout Org) -> Void) -> OneRosterRecord { var x = org; change(&x); return .org(x) }
        try assertEachFieldDetected(.orgs, base: .org(org), mutations: [
            ("name", o { $0.name = "Lincoln HS" }), ("type", o { $0.type = .district }),
            ("identifier", o { $0.identifier = nil }), ("parentSourcedId", o { $0.parentSourcedId = "d2" }),
            ("metadata", o { $0.extensions = ["metadata.n": "1"] }),
        ])

        let session = AcademicSession(sourcedId: "y1", title: "2026-27", type: .schoolYear, startDate: Self.day1, endDate: Self.day2,
                                      parentSourcedId: nil, schoolYear: 2027)
        func s(_ change: (inout AcademicSession) -> Void) -> OneRosterRecord { var x = session; change(&x); return .academicSession(x) }
        try assertEachFieldDetected(.academicSessions, base: .academicSession(session), mutations: [
            ("title", s { $0.title = "2026/27" }), ("type", s { $0.type = .term }),
            ("startDate", s { $0.startDate = OneRosterDate(year: 2026, month: 8, day: 16)! }),
            ("endDate", s { $0.endDate = Self.day1 }), ("parentSourcedId", s { $0.parentSourcedId = "p" }),
            ("schoolYear", s { $0.schoolYear = 2026 }), ("metadata", s { $0.extensions = ["metadata.s": "1"] }),
        ])
    }

    /// Demographics keep no vector: a 16-bit digest of a race flag or birth date could be reversed.
    func testDemographicsKeepNoFieldDigests() {
        XCTAssertNil(FieldDigests.vector(.demographics(Demographics(sourcedId: "u1", birthDate: Self.day1, white: true))))
        XCTAssertEqual(FieldDigests.names(.demographics), [])
    }

    /// The record digest is stored in held rosters: reading the fields through the shared visitor must give the very
    /// values earlier releases stored (computed independently with FNV-1a over the same field sequence).
    func testTheRecordDigestIsUnchanged() throws {
        let enrollment = Enrollment(sourcedId: "enr-1", classSourcedId: "cls-1", schoolSourcedId: "sch-1", userSourcedId: "stu-1",
                                    role: .student)
        XCTAssertEqual(SyncPlanner.fingerprint(.enrollment(enrollment))?.digest, 8_436_415_276_528_750_656)
        let user = User(sourcedId: "u1", username: "ana", givenName: "Ana", familyName: "Lopez", email: "ana@x.example",
                        role: .student, orgSourcedIds: ["sch-1"], extensions: ["metadata.x": "1"])
        XCTAssertEqual(SyncPlanner.fingerprint(.user(user))?.digest, -6_114_268_694_358_278_415)
    }
}
