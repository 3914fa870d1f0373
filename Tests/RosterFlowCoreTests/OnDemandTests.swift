import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// On-demand rostering on a generated district: provisioning modes side by side, identity linking, teacher imports,
/// pending placements, the nightly sync driving imported classes, explanations and platform events.
final class OnDemandTests: SyncTestCase {
    let permissive = SyncPolicy(maxDeleteShare: 1, maxUpdateShare: 1)

    // MARK: Helpers

    func csvLines(_ bundle: String, _ file: String) throws -> [String] {
        try String(contentsOfFile: bundle + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    func writeCSV(_ bundle: String, _ file: String, _ lines: [String]) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: bundle + "/" + file, atomically: true, encoding: .utf8)
    }

    func copyBundle(_ bundle: String, to name: String) throws -> String {
        let path = folder + "/" + name
        try FileManager.default.copyItem(atPath: bundle, toPath: path)
        return path
    }

    /// The held enrollments of the integration.
    func enrollments(_ integration: String? = nil) throws -> [RosterRecord] {
        let id: String = integration ?? integrationID
        return try service.store.readNow { try $0.rosterRecords(integrationID: id, entity: "enrollments", sourcedIDs: nil) }
    }

    func teacher(of classID: String) throws -> String {
        try XCTUnwrap(try enrollments().first { $0.ref1 == classID && $0.ref3 == "teacher" }?.ref2)
    }

    func students(of classID: String) throws -> [String] {
        try enrollments().filter { $0.ref1 == classID && $0.ref3 == "student" }.compactMap(\.ref2).sorted()
    }

    func user(_ id: String) throws -> RosterRecord {
        let integration: String = integrationID
        return try XCTUnwrap(try service.store.readNow { try $0.rosterRecords(integrationID: integration, entity: "users", sourcedIDs: [id]) }.first)
    }

    /// Outbox messages of one template.
    func outbox(_ template: String) throws -> [OutboxRecord] {
        try service.store.readNow { try $0.outbox(instanceID: nil) }.filter { $0.template == template }
    }

    func members(_ classID: String) throws -> [ClassMemberRecord] {
        let integration: String = integrationID
        return try service.store.readNow { try $0.classMembers(integrationID: integration, classSourcedID: classID, userSourcedID: nil) }
    }

    /// The integration made on-demand and synced with the sample district.
    func onDemandDistrict(_ bundle: String) async throws {
        _ = try await service.setProvisioningMode(integrationID: integrationID, mode: .onDemand, actor: "vendor:ana")
        let run = try await service.runSync(integrationID: integrationID, bundlePath: bundle, actor: "test")
        XCTAssertEqual(run.decision, "applied")
    }

    func signIn(_ student: String) async throws -> [PlacementView] {
        let link = try await service.linkIdentity(IdentityClaims(provider: "classlink", tenantID: "t-spring", providerUserID: "cl-\(student)", sourcedID: student))
        XCTAssertTrue(link.linked, "\(link)")
        return try await service.placeStudent(student)
    }

    // MARK: Modes

    func testBothModesSideBySideOnOneGeneratedDistrict() async throws {
        let b = try bundle("b1")
        let other = try await service.requestIntegration(
            tenantID: "t-obrien", district: "O'Brien & <Sons> ISD", permission: "rule-based", contactEmail: "admin@obrien.example", sender: .system)
        _ = try await service.authenticate(integrationID: other.id, actor: Fixture.vendor)
        _ = try await service.schedule(integrationID: other.id, time: "02:30", timezone: "America/Chicago", actor: "school")
        _ = try await service.setProvisioningMode(integrationID: other.id, mode: .onDemand, actor: "vendor:ana")

        _ = try await sync(b)
        let onDemand = try await service.runSync(integrationID: other.id, bundlePath: b, actor: "test")
        XCTAssertEqual(onDemand.decision, "applied")

        let pre = try service.integration(id: integrationID), od = try service.integration(id: other.id)
        XCTAssertEqual(pre.provisioningMode, "pre-provisioned")
        XCTAssertEqual(od.provisioningMode, "on-demand")
        XCTAssertGreaterThan(pre.courseCount, 0, "the pre-provisioned district gets course shells")
        XCTAssertEqual(od.courseCount, 0, "the on-demand district gets none")
        XCTAssertEqual(pre.state, "shells_created")
        XCTAssertEqual(od.state, "scheduled")
        XCTAssertEqual(try enrollments(other.id).count, try enrollments().count, "the held roster is kept in both modes")

        // Teachers import only in the on-demand district.
        let teacher = try self.teacher(of: "cls-1")
        let refused = await assertRefused(.refused) {
            try await self.service.importClasses(teacher: teacher, classes: ["cls-1"], integrationID: self.integrationID, actor: "t")
        }
        XCTAssertTrue(refused?.message.contains("pre-provisioned") == true, refused?.message ?? "")
        let imported = try await service.importClasses(teacher: teacher, classes: ["cls-1"], integrationID: other.id, actor: "t")
        XCTAssertEqual(imported.map(\.outcome), ["imported"])

        // Switching is refused once the other mode created something, with the reason.
        let shells = await assertRefused(.refused) {
            try await self.service.setProvisioningMode(integrationID: self.integrationID, mode: .onDemand, actor: "vendor:ana")
        }
        XCTAssertTrue(shells?.message.contains("course shells") == true, shells?.message ?? "")
        let classes = await assertRefused(.refused) {
            try await self.service.setProvisioningMode(integrationID: other.id, mode: .preProvisioned, actor: "vendor:ana")
        }
        XCTAssertTrue(classes?.message.contains("already imported 1 class") == true, classes?.message ?? "")
    }

    // MARK: Identity linking

    func testLinkingBySourcedIdThenUsernameThenEmailInsideTheDistrictOnly() async throws {
        let b = try bundle("b1")
        // Two students share one e-mail (a family address): matching on it must refuse, not guess.
        let shared = try copyBundle(b, to: "shared-email")
        var users = try csvLines(shared, "users.csv")
        let header = users[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let emailColumn = try XCTUnwrap(header.firstIndex(of: "email"))
        let studentRows = users.indices.filter { users[$0].hasPrefix("stu-") }
        for index in studentRows.prefix(2) {
            var fields = users[index].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            fields[emailColumn] = "family@springfield.example"
            users[index] = fields.joined(separator: ",")
        }
        try writeCSV(shared, "users.csv", users)
        try await onDemandDistrict(shared)

        let students = Array(Set(try enrollments().filter { $0.ref3 == "student" }.compactMap(\.ref2))).sorted()
        let a = try user(try XCTUnwrap(students.first { try user($0).ref2 != "family@springfield.example" }))
        let bySourcedID = try await service.linkIdentity(IdentityClaims(provider: "classlink", tenantID: "t-spring", providerUserID: "1", sourcedID: a.sourcedID))
        XCTAssertEqual([bySourcedID.sourcedID, bySourcedID.matchedOn], [a.sourcedID, "sourcedId"])
        XCTAssertEqual(bySourcedID.roles, ["student"], "roles come from the enrollments")

        let b2 = try user(try XCTUnwrap(students.last))
        let byUsername = try await service.linkIdentity(IdentityClaims(
            provider: "classlink", tenantID: "t-spring", providerUserID: "2", sourcedID: "", username: b2.ref1, email: "x@y.example"))
        XCTAssertEqual([byUsername.sourcedID, byUsername.matchedOn], [b2.sourcedID, "username"])

        let c = try user(try XCTUnwrap(students.dropFirst(3).first { try user($0).ref2 != "family@springfield.example" }))
        let byEmail = try await service.linkIdentity(IdentityClaims(
            provider: "classlink", tenantID: "t-spring", providerUserID: "3", email: c.ref2?.uppercased()))
        XCTAssertEqual([byEmail.sourcedID, byEmail.matchedOn], [c.sourcedID, "email"])

        let ambiguous = try await service.linkIdentity(IdentityClaims(
            provider: "classlink", tenantID: "t-spring", providerUserID: "4", email: "family@springfield.example"))
        XCTAssertFalse(ambiguous.linked)
        XCTAssertTrue(ambiguous.reason?.contains("2 people") == true, ambiguous.reason ?? "")
        XCTAssertTrue(ambiguous.supportCode?.hasPrefix("RF-") == true)

        // Another tenant never reaches this district's users, even with a sourcedId that exists here.
        let otherTenant = try await service.linkIdentity(IdentityClaims(
            provider: "classlink", tenantID: "t-obrien", providerUserID: "5", sourcedID: a.sourcedID))
        XCTAssertFalse(otherTenant.linked)
        XCTAssertTrue(otherTenant.reason?.contains("t-obrien") == true, otherTenant.reason ?? "")

        let queue = try service.unlinkedIdentities()
        XCTAssertEqual(Set(queue.map(\.supportCode)), Set([ambiguous.supportCode, otherTenant.supportCode].compactMap { $0 }))

        // The vendor admin links the ambiguous one by hand; the other tenant's has no district to be linked in.
        let integration: String = integrationID
        let family = try XCTUnwrap(try service.store.readNow { try $0.rosterRecords(integrationID: integration, entity: "users", sourcedIDs: nil) }
            .first { $0.ref2 == "family@springfield.example" }?.sourcedID)
        let manual = try await service.resolveUnlinked(supportCode: ambiguous.supportCode!, sourcedID: family, actor: "vendor:ana")
        XCTAssertEqual([manual.sourcedID, manual.matchedOn], [family, "manual"])
        await assertRefused(.refused) { try await self.service.resolveUnlinked(supportCode: otherTenant.supportCode!, sourcedID: a.sourcedID, actor: "v") }
        XCTAssertEqual(try service.unlinkedIdentities().map(\.supportCode), [otherTenant.supportCode])

        // A second sign-in is the same link, and the platform heard of each account once.
        let again = try await service.linkIdentity(IdentityClaims(provider: "classlink", tenantID: "t-spring", providerUserID: "1", email: "ignored@x.example"))
        XCTAssertEqual([again.sourcedID, again.matchedOn], [a.sourcedID, "sourcedId"])
        XCTAssertEqual(try outbox("account-created").count, 4)
        let keys = try outbox("account-created").compactMap { JSONText.flatStrings($0.payload)?["idempotency_key"] }
        XCTAssertEqual(Set(keys).count, 4)
    }

    // MARK: Teacher import

    func testATeacherImportsOnlyTheirOwnClassesAndACoTeacherJoins() async throws {
        let b = try bundle("b1")
        try await onDemandDistrict(b)
        let first = try teacher(of: "cls-1")
        let notTheirs = try XCTUnwrap((1...10).map { "cls-\($0)" }.first { try teacher(of: $0) != first })
        let coTeacher = try teacher(of: notTheirs)

        // The held roster says which classes a teacher teaches, grouped by term.
        let terms = try service.availableClasses(teacher: first)
        let listed = terms.flatMap(\.classes)
        XCTAssertTrue(listed.contains { $0.classSourcedID == "cls-1" })
        XCTAssertFalse(listed.contains { $0.classSourcedID == notTheirs })
        let cls1 = try XCTUnwrap(listed.first { $0.classSourcedID == "cls-1" })
        XCTAssertEqual(cls1.studentCount, try students(of: "cls-1").count)
        XCTAssertFalse(cls1.periods.isEmpty)
        XCTAssertNotNil(cls1.course)
        XCTAssertTrue(terms.allSatisfy { $0.term.hasPrefix("as-") == false }, "terms are named by their titles: \(terms.map(\.term))")

        let refused = try await service.importClasses(teacher: first, classes: ["cls-1", notTheirs], actor: "teacher")
        XCTAssertEqual(refused.map(\.outcome), ["imported", "refused"])
        XCTAssertTrue(refused[1].reason?.contains("only their own classes") == true, refused[1].reason ?? "")
        XCTAssertNil(try service.store.readNow { [integrationID] in try $0.importedClass(integrationID: integrationID!, classSourcedID: notTheirs) },
                     "a refused import leaves nothing behind")

        // The SIS adds a co-teacher to cls-1: they see it as imported and join it; it is never duplicated.
        let withCo = try copyBundle(b, to: "co-teacher")
        var rows = try csvLines(withCo, "enrollments.csv")
        rows.append("enr-co-1,,,cls-1,\(try XCTUnwrap(rows.first { $0.contains(",cls-1,") }?.split(separator: ",", omittingEmptySubsequences: false)[4])),\(coTeacher),teacher,false,,")
        try writeCSV(withCo, "enrollments.csv", rows)
        _ = try await service.runSync(integrationID: integrationID, bundlePath: withCo, actor: "test")
        let seen = try XCTUnwrap(try service.availableClasses(teacher: coTeacher).flatMap(\.classes).first { $0.classSourcedID == "cls-1" })
        XCTAssertEqual(seen.state, "imported")
        XCTAssertNotNil(seen.importedBy)
        XCTAssertEqual(try XCTUnwrap(try service.availableClasses(teacher: first).flatMap(\.classes).first { $0.classSourcedID == "cls-1" }).coTeachers.count, 1)
        let joined = try await service.importClasses(teacher: coTeacher, classes: ["cls-1"], actor: "teacher")
        XCTAssertEqual(joined.map(\.outcome), ["joined"])
        XCTAssertEqual(joined[0].instanceID, refused[0].instanceID)
        let integration: String = integrationID
        XCTAssertEqual(try service.store.readNow { try $0.importedClasses(integrationID: integration) }.count, 1)
        XCTAssertEqual(try members("cls-1").filter { $0.role == "teacher" && $0.status == "active" }.map(\.userSourcedID).sorted(), [first, coTeacher].sorted())
        let repeated = try await service.importClasses(teacher: first, classes: ["cls-1"], actor: "teacher")
        XCTAssertEqual(repeated.map(\.outcome), ["unchanged"])

        // The co-teacher leaves (the SIS drops their enrollment): the class stays for the first teacher.
        _ = try await service.runSync(integrationID: integrationID, bundlePath: b, policy: permissive, actor: "test")
        XCTAssertEqual(try service.store.readNow { try $0.instance(id: refused[0].instanceID!)?.state }, "imported")
        XCTAssertEqual(try members("cls-1").filter { $0.role == "teacher" && $0.status == "active" }.map(\.userSourcedID), [first])
        XCTAssertEqual(try outbox("class-imported").count, 1, "the platform heard of the class once")
    }

    // MARK: Placement

    func testAPendingPlacementResolvesWhenTheTeacherImportsWithoutASecondSignIn() async throws {
        let b = try bundle("b1")
        try await onDemandDistrict(b)
        let student = try XCTUnwrap(try students(of: "cls-1").first)
        let teacher = try self.teacher(of: "cls-1")
        let teacherName = try XCTUnwrap(try user(teacher).title)

        let before = try await signIn(student)
        let waiting = try XCTUnwrap(before.first { $0.classSourcedID == "cls-1" })
        XCTAssertEqual(waiting.status, "pending")
        XCTAssertTrue(waiting.message.contains(teacherName) && waiting.message.contains("hasn't set up"), waiting.message)
        XCTAssertEqual(try outbox("student-placed").count, 0)

        let imported = try await service.importClasses(teacher: teacher, classes: ["cls-1"], actor: "teacher")
        XCTAssertEqual(imported.first?.placed, 1)
        let after = try XCTUnwrap(try service.placements(student: student).first { $0.classSourcedID == "cls-1" })
        XCTAssertEqual(after.status, "placed")

        // Signing in again changes nothing and tells the platform nothing twice.
        _ = try await signIn(student)
        let placed = try outbox("student-placed")
        XCTAssertEqual(placed.count, 1)
        XCTAssertEqual(JSONText.flatStrings(placed[0].payload)?["student_sourced_id"], student)
        XCTAssertEqual(placed[0].recipient, "platform")
        XCTAssertEqual(try outbox("class-imported").count, 1)

        // A student who signs in after the import is placed at once.
        let late = try XCTUnwrap(try students(of: "cls-1").dropFirst().first)
        let latePlacements = try await signIn(late)
        XCTAssertEqual(latePlacements.first { $0.classSourcedID == "cls-1" }?.status, "placed")
        XCTAssertEqual(try outbox("student-placed").count, 2)
    }

    // MARK: The nightly sync

    func testTheNightlySyncAddsDropsChangesTeachersAndArchivesADeletedClass() async throws {
        let b = try bundle("b1")
        try await onDemandDistrict(b)
        let teacher = try self.teacher(of: "cls-1")
        let roster = try students(of: "cls-1")
        for student in roster.prefix(2) { _ = try await signIn(student) }
        _ = try await service.importClasses(teacher: teacher, classes: ["cls-1"], actor: "teacher")
        let cls2Teacher = try self.teacher(of: "cls-2")
        _ = try await service.importClasses(teacher: cls2Teacher, classes: ["cls-2"], actor: "teacher")
        // A signed-in student not in cls-1 yet: the SIS adds them.
        let newcomer = try XCTUnwrap(try enrollments().filter { $0.ref3 == "student" }.compactMap(\.ref2).first { !roster.contains($0) })
        _ = try await signIn(newcomer)
        let dropped = roster[0]

        let changed = try copyBundle(b, to: "changed")
        var rows = try csvLines(changed, "enrollments.csv")
        let school = String(try XCTUnwrap(rows.first { $0.contains(",cls-1,") }).split(separator: ",", omittingEmptySubsequences: false)[4])
        rows.removeAll { $0.contains(",cls-1,") && $0.contains(",\(dropped),") }               // a drop
        rows.append("enr-new-1,,,cls-1,\(school),\(newcomer),student,,,")                       // an add
        let newTeacher = try XCTUnwrap((1...10).map { "cls-\($0)" }.map(self.teacher(of:)).first { $0 != teacher })
        rows.append("enr-new-2,,,cls-1,\(school),\(newTeacher),teacher,false,,")               // a teacher change
        rows.removeAll { $0.contains(",cls-2,") }                                               // cls-2 deleted in the SIS
        try writeCSV(changed, "enrollments.csv", rows)
        try writeCSV(changed, "classes.csv", try csvLines(changed, "classes.csv").filter { !$0.hasPrefix("cls-2,") })

        let run = try await service.runSync(integrationID: integrationID, bundlePath: changed, policy: permissive, actor: "test")
        XCTAssertEqual(run.decision, "applied", "\(run.reasons)")
        let members = try self.members("cls-1")
        XCTAssertEqual(members.first { $0.userSourcedID == dropped }?.status, "archived", "a drop archives the membership")
        XCTAssertEqual(members.first { $0.userSourcedID == newcomer && $0.role == "student" }?.status, "active", "an add places a signed-in student")
        XCTAssertEqual(members.first { $0.userSourcedID == newTeacher && $0.role == "teacher" }?.status, "active", "a new teacher is applied")
        XCTAssertEqual(try outbox("membership-archived").filter { JSONText.flatStrings($0.payload)?["class_sourced_id"] == "cls-1" }.count, 1)

        let cls2 = try XCTUnwrap(try service.store.readNow { [integrationID] in try $0.importedClass(integrationID: integrationID!, classSourcedID: "cls-2") })
        XCTAssertEqual(try service.store.readNow { try $0.instance(id: cls2.instanceID)?.state }, "archived", "a deleted class is archived, not dropped")
        let told = try outbox("class-deleted-in-sis")
        XCTAssertEqual(told.map(\.recipient), [try XCTUnwrap(try user(cls2Teacher).ref2)], "its teacher is told")
        XCTAssertTrue(try service.store.readNow { try $0.transitions(instanceID: cls2.instanceID) }.contains { $0.event == "deleted_in_sis" })

        // Changes to an imported roster through RosterFlow are refused: the SIS owns it.
        let refused = await assertRefused(.refused) {
            try await self.service.changeImportedRoster(classID: "cls-1", integrationID: self.integrationID)
        }
        XCTAssertTrue(refused?.message.contains("make this change in your SIS") == true, refused?.message ?? "")
    }

    func testALargeDropInOneImportedClassIsHeldForApproval() async throws {
        let b = try bundle("b1")
        try await onDemandDistrict(b)
        let teacher = try self.teacher(of: "cls-1")
        let roster = try students(of: "cls-1")
        for student in roster { _ = try await signIn(student) }
        _ = try await service.importClasses(teacher: teacher, classes: ["cls-1"], actor: "teacher")
        let leaving = Set(roster.prefix(roster.count / 2))

        let cut = try copyBundle(b, to: "cut")
        try writeCSV(cut, "enrollments.csv", try csvLines(cut, "enrollments.csv").filter { row in
            !(row.contains(",cls-1,") && leaving.contains { row.contains(",\($0),") })
        })
        let held = try await service.runSync(integrationID: integrationID, bundlePath: cut, policy: permissive, actor: "test")
        XCTAssertEqual(held.decision, "held")
        XCTAssertTrue(held.reasons.contains { $0.contains("would lose \(leaving.count) of \(roster.count) students") }, "\(held.reasons)")
        XCTAssertEqual(try members("cls-1").filter { $0.status == "archived" }.count, 0, "nothing is archived while held")

        _ = try await service.approveSync(runID: held.id, actor: "vendor:ana")
        XCTAssertEqual(Set(try members("cls-1").filter { $0.status == "archived" }.map(\.userSourcedID)), leaving)
        XCTAssertEqual(try outbox("membership-archived").count, leaving.count)
    }

    // MARK: Explain

    func testExplainPlacementWalksTheChainInPlainWords() async throws {
        let b = try bundle("b1")
        try await onDemandDistrict(b)
        let student = try XCTUnwrap(try students(of: "cls-1").first)
        let teacher = try self.teacher(of: "cls-1")
        let teacherName = try XCTUnwrap(try user(teacher).title)

        let unknown = try service.explainPlacement(student: student, classID: "cls-1")
        XCTAssertEqual(unknown.status, "none")
        XCTAssertTrue(unknown.steps.contains { $0.contains("has not signed in yet") }, "\(unknown.steps)")
        XCTAssertTrue(unknown.steps.contains { $0.contains("No teacher has imported") && $0.contains(teacherName) }, "\(unknown.steps)")

        _ = try await signIn(student)
        _ = try await service.importClasses(teacher: teacher, classes: ["cls-1"], actor: "teacher")
        let placed = try service.explainPlacement(student: student, classID: "cls-1")
        XCTAssertEqual(placed.status, "placed")
        let text = placed.steps.joined(separator: "\n")
        for part in ["linked to", "matching the sourcedId", "enrolls", "as student", "was imported by \(teacherName)", "is placed in the class",
                     "The last sync touching it was run_"] {
            XCTAssertTrue(text.contains(part), "missing '\(part)' in:\n\(text)")
        }
        let inClass = Set(try students(of: "cls-1"))
        let elsewhere = try XCTUnwrap(try enrollments().first { $0.ref3 == "student" && $0.ref1 != "cls-1" && !inClass.contains($0.ref2!) })
        let notEnrolled = try service.explainPlacement(student: elsewhere.ref2!, classID: "cls-1")
        XCTAssertTrue(notEnrolled.steps.contains { $0.contains("does not enroll") }, "\(notEnrolled.steps)")
    }
}
