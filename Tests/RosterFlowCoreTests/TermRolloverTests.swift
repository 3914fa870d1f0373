import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import WorkflowEngine
import XCTest

/// On-demand terms on a generated district (school year 2024–25: Fall 2024 ends 2025-01-18, Spring 2025 starts
/// 2025-01-21) with a clock the test moves: the current term from the held session dates, only enabled users linked and
/// placed, and the end of a term driven by class-import's timers: the teacher told once and offered next term's classes,
/// the one-click import joining a co-teacher's import, the archive after the grace period, and restore.
final class TermRolloverTests: XCTestCase {
    var folder: String!
    var clock: TestClock!
    var service: RosterFlowService!
    var integrationID: String!

    // Teachers the test gives classes to (the generator makes tch-000001…).
    let teacherA = "tch-000001", teacherB = "tch-000002", teacherC = "tch-000003", teacherD = "tch-000004"

    override func setUp() async throws {
        folder = try Fixture.folder()
        clock = TestClock("2025-01-10T18:00:00Z")
        service = try await Fixture.service(clock: clock)
        integrationID = try await Fixture.scheduledIntegration(service)
    }

    func lines(_ bundle: String, _ file: String) throws -> [String] {
        try String(contentsOfFile: bundle + "/" + file, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    func write(_ bundle: String, _ file: String, _ lines: [String]) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: bundle + "/" + file, atomically: true, encoding: .utf8)
    }

    /// The sample district with the teachers of some classes replaced: `teachers[class] = [teacher…]` (the named
    /// teachers teach only what the map says).
    func district(teachers: [String: [String]], edit: ((inout [String]) throws -> Void)? = nil) throws -> String {
        let path = folder + "/district"
        // 20 classes: course crs-k has classes k, k+5, k+10, k+15; terms by class number mod 3 (1: both, 2: fall, 0: spring).
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: 200, classes: 20, enrollments: 800, version: "1.2", seed: 7)
        var rows = try lines(path, "enrollments.csv")
        let header = rows[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let classColumn = try XCTUnwrap(header.firstIndex(of: "classSourcedId")), roleColumn = try XCTUnwrap(header.firstIndex(of: "role"))
        let schoolColumn = try XCTUnwrap(header.firstIndex(of: "schoolSourcedId")), userColumn = try XCTUnwrap(header.firstIndex(of: "userSourcedId"))
        let named = Set(teachers.values.joined())
        var schools: [String: String] = [:]
        rows = rows.filter { row in
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == header.count else { return true }
            schools[f[classColumn]] = f[schoolColumn]
            return f[roleColumn] != "teacher" || (teachers[f[classColumn]] == nil && !named.contains(f[userColumn]))
        }
        var n = 0
        for (cls, list) in teachers.sorted(by: { $0.key < $1.key }) {
            for teacher in list {
                n += 1
                rows.append("enr-test-\(n),,,\(cls),\(try XCTUnwrap(schools[cls])),\(teacher),teacher,true,,")
            }
        }
        try write(path, "enrollments.csv", rows)
        if let edit {
            var users = try lines(path, "users.csv")
            try edit(&users)
            try write(path, "users.csv", users)
        }
        return path
    }

    func onDemand(_ bundle: String) async throws {
        _ = try await service.setProvisioningMode(integrationID: integrationID, mode: .onDemand, actor: "vendor:ana")
        let run = try await service.runSync(integrationID: integrationID, bundlePath: bundle, actor: "test")
        XCTAssertEqual(run.decision, "applied", run.reasons.joined(separator: "; "))
    }

    func outbox(_ template: String) throws -> [OutboxRecord] {
        try service.store.readNow { try $0.outbox(instanceID: nil) }.filter { $0.template == template }
    }

    func state(_ classID: String) throws -> String? {
        let id: String = integrationID
        return try service.store.readNow { tx in try tx.importedClass(integrationID: id, classSourcedID: classID).flatMap { try tx.instance(id: $0.instanceID)?.state } }
    }

    func members(_ classID: String) throws -> [ClassMemberRecord] {
        let id: String = integrationID
        return try service.store.readNow { try $0.classMembers(integrationID: id, classSourcedID: classID, userSourcedID: nil) }
    }

    func students(of classID: String) throws -> [String] {
        let id: String = integrationID
        return try service.store.readNow { try $0.rosterEnrollments(integrationID: id, classSourcedID: classID) }
            .filter { $0.ref3 == "student" }.compactMap(\.ref2)
    }

    /// Moves the clock a day at a time, firing due timers after each day, as the worker does.
    func days(_ count: Int) async throws {
        for _ in 0..<count {
            clock.advance(days: 1)
            _ = try await service.fireDueTimers()
        }
    }

    // MARK: The current term, enabled users

    func testTheCurrentTermIsTheOneWhoseDatesContainTodayAndTheHeldRosterKeepsTheDates() async throws {
        // cls-8 is Fall only, cls-3 Spring only, cls-1 both.
        try await onDemand(try district(teachers: ["cls-8": [teacherA], "cls-3": [teacherA], "cls-1": [teacherA]]))
        var terms = try service.availableClasses(teacher: teacherA)
        XCTAssertEqual(terms.first?.termSourcedID, "as-2025-s1", "\(terms.map(\.termSourcedID))")
        XCTAssertEqual(terms.filter(\.current).map(\.term), ["Fall 2024"])
        XCTAssertEqual([terms.first?.startDate, terms.first?.endDate], ["2024-08-19", "2025-01-18"])
        XCTAssertEqual(Set(terms.first?.classes.map(\.classSourcedID) ?? []), ["cls-8", "cls-1"])

        // Between the terms (the weekend of 2025-01-19), the next term to start is current; then the spring term.
        clock.advance(days: 9)
        terms = try service.availableClasses(teacher: teacherA)
        XCTAssertEqual(terms.filter(\.current).map(\.termSourcedID), ["as-2025-s2"])
        clock.advance(days: 30)
        terms = try service.availableClasses(teacher: teacherA)
        XCTAssertEqual(terms.first?.termSourcedID, "as-2025-s2")
        XCTAssertEqual(terms.filter(\.current).count, 1)
    }

    func testTermsHeldWithoutDatesFallBackToTheNewestSchoolYear() {
        func term(_ id: String, year: String, dates: String?) -> HeldTerm {
            HeldTerm(RosterRecord(entity: "academicSessions", sourcedID: id, digest: 0, ref1: "semester", ref3: year, title: id, ref4: dates))
        }
        let old = [term("a", year: "2024", dates: nil), term("b", year: "2025", dates: nil)]
        XCTAssertEqual(OnDemand.currentTerm(old, today: "2025-03-01"), "b", "held before dates were kept: the newest school year")
        let dated = [term("fall", year: "2025", dates: "2024-08-19|2025-01-18"), term("spring", year: "2025", dates: "2025-01-21|2025-06-14"),
                     term("year", year: "2025", dates: "2024-08-19|2025-06-14")]
        XCTAssertEqual(OnDemand.currentTerm(dated, today: "2025-01-10"), "fall", "the narrowest term containing today")
        XCTAssertEqual(OnDemand.currentTerm(Array(dated.prefix(2)), today: "2025-01-19"), "spring", "between terms: the next to start")
        XCTAssertEqual(OnDemand.currentTerm(dated, today: "2025-01-19"), "year", "the school year contains the break")
        XCTAssertEqual(OnDemand.currentTerm(dated, today: "2025-07-01"), "spring", "after them all: the last to end")
        XCTAssertEqual(OnDemand.currentTerm([term("x", year: "2025", dates: "garbage")], today: "2025-01-01"), "x")
    }

    func testOnlyEnabledUsersAreLinkedAndPlaced() async throws {
        let disabled = "stu-0000001", twin = "stu-0000002"
        var twinEmail = ""
        let bundle = try district(teachers: [:]) { users in
            let header = users[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            let enabled = try XCTUnwrap(header.firstIndex(of: "enabledUser")), email = try XCTUnwrap(header.firstIndex(of: "email"))
            for i in users.indices where users[i].hasPrefix(disabled + ",") || users[i].hasPrefix(twin + ",") {
                var f = users[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if f[0] == twin { twinEmail = f[email] }
                if f[0] == disabled { f[enabled] = "false" }
                users[i] = f.joined(separator: ",")
            }
            // The disabled student shares the twin's e-mail: only the enabled one may be linked by it.
            for i in users.indices where users[i].hasPrefix(disabled + ",") {
                var f = users[i].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                f[email] = twinEmail
                users[i] = f.joined(separator: ",")
            }
        }
        try await onDemand(bundle)
        let id: String = integrationID
        XCTAssertEqual(try service.store.readNow { try $0.rosterRecords(integrationID: id, entity: "users", sourcedIDs: [disabled, twin]) }.map(\.ref4),
                       ["false", "true"], "the held roster keeps enabledUser")

        let bySourcedID = try await service.linkIdentity(IdentityClaims(provider: "classlink", tenantID: "t-spring", providerUserID: "9", sourcedID: disabled))
        XCTAssertFalse(bySourcedID.linked)
        XCTAssertTrue(bySourcedID.reason?.contains("not enabled") == true, bySourcedID.reason ?? "")
        XCTAssertNotNil(bySourcedID.supportCode)
        let byEmail = try await service.linkIdentity(IdentityClaims(provider: "classlink", tenantID: "t-spring", providerUserID: "10", email: twinEmail.uppercased()))
        XCTAssertEqual([byEmail.sourcedID, byEmail.matchedOn], [twin, "email"], "the disabled namesake is not a second match")
        let refused = await assertRefused(.refused) { try await self.service.placeStudent(disabled, integrationID: id) }
        XCTAssertTrue(refused?.message.contains("not enabled") == true, refused?.message ?? "")
        let placed = try await service.placeStudent(twin, integrationID: id)
        XCTAssertFalse(placed.isEmpty)
    }

    // MARK: Term rollover

    func testATermEndOffersTheTeacherNextTermsClassesOnceThenArchivesAfterTheGraceAndRestores() async throws {
        // Course 3: cls-8 in the fall, cls-3 in the spring (taught by A and B). Course 2: cls-2 in the fall (A).
        // Course 5: cls-5 in the fall (C); its spring class cls-15 is D's, so C teaches nothing of it next term.
        try await onDemand(try district(teachers: [
            "cls-8": [teacherA], "cls-2": [teacherA], "cls-3": [teacherA, teacherB], "cls-5": [teacherC], "cls-15": [teacherD],
        ]))
        let id: String = integrationID
        let byB = try await service.importClasses(teacher: teacherB, classes: ["cls-3"], actor: "t")
        XCTAssertEqual(byB.map(\.outcome), ["imported"])
        let byA = try await service.importClasses(teacher: teacherA, classes: ["cls-8", "cls-2"], actor: "t")
        XCTAssertEqual(byA.map(\.outcome), ["imported", "imported"])
        let byC = try await service.importClasses(teacher: teacherC, classes: ["cls-5"], actor: "t")
        XCTAssertEqual(byC.map(\.outcome), ["imported"])
        let student = try XCTUnwrap(try students(of: "cls-8").first)
        _ = try await service.linkIdentity(IdentityClaims(provider: "classlink", tenantID: "t-spring", providerUserID: "s", sourcedID: student))
        _ = try await service.placeStudent(student, integrationID: id)
        XCTAssertTrue(try members("cls-8").contains { $0.userSourcedID == student && $0.status == "active" })

        // Days pass inside the fall term: the daily check finds the term running.
        try await days(3)
        XCTAssertEqual(try state("cls-8"), "imported")
        XCTAssertTrue(try outbox("next-term-classes").isEmpty)
        XCTAssertTrue(try service.nextTermOffers(teacher: teacherA).isEmpty)

        // The fall term ends on 2025-01-18 (Chicago): the next daily checks end its classes.
        try await days(7)
        XCTAssertEqual([try state("cls-8"), try state("cls-2"), try state("cls-5")], ["ended", "ended", "ended"])
        XCTAssertEqual(try state("cls-3"), "imported", "the spring class runs on")
        let offers = try service.nextTermOffers(teacher: teacherA)
        XCTAssertEqual(offers.count, 1)
        XCTAssertEqual(offers.first?.endedTermSourcedID, "as-2025-s1")
        XCTAssertEqual(offers.first?.classes.map(\.classSourcedID), ["cls-3"])
        XCTAssertEqual(offers.first?.classes.map(\.endedClassSourcedID), ["cls-8"])
        XCTAssertEqual(offers.first?.status, "open")
        let mails = try outbox("next-term-classes")
        XCTAssertEqual(mails.count, 1, "two of A's classes ended, and A is told once")
        let email = try service.store.readNow { try $0.rosterRecords(integrationID: id, entity: "users", sourcedIDs: [self.teacherA]) }.first?.ref2
        XCTAssertEqual(mails.first?.recipient, email, "to the teacher's own e-mail")
        XCTAssertTrue(JSONText.flatStrings(mails.first?.payload ?? "")?["classes"]?.contains("cls-3") == true)
        XCTAssertTrue(try service.nextTermOffers(teacher: teacherC).isEmpty, "C teaches none of the same courses next term")
        XCTAssertTrue(try service.nextTermOffers(teacher: teacherB).isEmpty, "B's class did not end")

        // Another tick tells nobody again.
        try await days(1)
        XCTAssertEqual(try outbox("next-term-classes").count, 1)
        XCTAssertEqual(try service.nextTermOffers(teacher: teacherA).count, 1)

        // One click: the offered class, which B imported, is joined, never duplicated.
        let answer = try await service.answerNextTermOffer(teacher: teacherA, accept: true, actor: "teacher:a")
        XCTAssertEqual(answer.imports.map(\.outcome), ["joined"])
        XCTAssertEqual(answer.offer.status, "accepted")
        XCTAssertTrue(try members("cls-3").contains { $0.userSourcedID == teacherA && $0.role == "teacher" && $0.status == "active" })
        XCTAssertEqual(try service.store.readNow { try $0.importedClasses(integrationID: id) }.filter { $0.classSourcedID == "cls-3" }.count, 1)
        await assertRefused(.notFound) { try await self.service.answerNextTermOffer(teacher: self.teacherA, accept: true, actor: "teacher:a") }

        // The grace period: 14 days after the class ended it is archived, with its students' work kept.
        try await days(11)
        XCTAssertEqual(try state("cls-8"), "ended")
        XCTAssertTrue(try members("cls-8").contains { $0.userSourcedID == student && $0.status == "active" }, "open during the grace period")
        try await days(2)
        XCTAssertEqual([try state("cls-8"), try state("cls-2"), try state("cls-5")], ["archived", "archived", "archived"])
        XCTAssertEqual(try members("cls-8").first { $0.userSourcedID == student }?.status, "archived")
        XCTAssertEqual(try state("cls-3"), "imported")
        let archived = try service.placements(student: student, integrationID: id).first { $0.classSourcedID == "cls-8" }
        XCTAssertEqual(archived?.status, "archived")

        // Restored after its term: open again, and no end-of-term timer archives it again.
        await assertRefused(.refused) { try await self.service.restoreClass(classID: "cls-8", integrationID: id, actor: "dsp", role: .dsp) }
        let restored = try await service.restoreClass(classID: "cls-8", integrationID: id, actor: "vendor:ana")
        XCTAssertEqual(restored.state, "restored")
        XCTAssertEqual(restored.restoredStudents, 1)
        XCTAssertEqual(try members("cls-8").first { $0.userSourcedID == student }?.status, "active")
        try await days(20)
        XCTAssertEqual(try state("cls-8"), "restored")
        XCTAssertEqual(try outbox("next-term-classes").count, 1)
    }

    func testAnOfferCanBeDeclinedAndAClassImportedOnVersionOneMovesToTheDailyCheck() async throws {
        // A database whose class was imported on class-import version 1 (no end-of-term timer), opened after the upgrade.
        let workflows = try Fixture.folder() + "/Workflows"
        try FileManager.default.createDirectory(atPath: workflows, withIntermediateDirectories: true)
        for name in ["integration.yaml", "course-mapping.yaml"] {
            try FileManager.default.copyItem(atPath: Fixture.workflows + "/" + name, toPath: workflows + "/" + name)
        }
        try Self.versionOne.write(toFile: workflows + "/class-import.yaml", atomically: true, encoding: .utf8)
        let database = folder + "/v1.sqlite"
        let clock: TestClock = self.clock
        let old = try RosterFlowService(databasePath: database, workflowsPath: workflows, clock: { clock.now })
        _ = try await old.importCustomers(csv: Fixture.registry, file: "customers.csv")
        let id = try await Fixture.scheduledIntegration(old)
        _ = try await old.setProvisioningMode(integrationID: id, mode: .onDemand, actor: "vendor:ana")
        _ = try await old.runSync(integrationID: id, bundlePath: try district(teachers: ["cls-8": [teacherA], "cls-3": [teacherA]]), actor: "test")
        _ = try await old.importClasses(teacher: teacherA, classes: ["cls-8"], integrationID: id, actor: "t")
        let instance = try XCTUnwrap(try old.store.readNow { try $0.importedClass(integrationID: id, classSourcedID: "cls-8") }?.instanceID)
        XCTAssertEqual(try old.store.readNow { try $0.timers(instanceID: instance) }.count, 0)

        let upgraded = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        let file = Fixture.workflows + "/migrations/class-import-1-to-2.yaml"
        let plan = try upgraded.migrationPlan(yaml: try String(contentsOfFile: file, encoding: .utf8), file: file)
        let report = try upgraded.migrate(plan, dryRun: false, sender: Sender(actor: "vendor:ana", role: .vendorAdmin))
        XCTAssertEqual(report.migrated, 1)
        XCTAssertEqual(try upgraded.store.readNow { try $0.instance(id: instance) }?.version, 2)
        XCTAssertEqual(try upgraded.store.readNow { try $0.timers(instanceID: instance) }.map(\.event), ["check_term"])

        // Its daily check runs from now on; at the term's end the teacher is offered cls-3, and declines.
        for _ in 0..<10 {
            clock.advance(days: 1)
            _ = try await upgraded.fireDueTimers()
        }
        XCTAssertEqual(try upgraded.store.readNow { try $0.instance(id: instance) }?.state, "ended")
        XCTAssertEqual(try upgraded.nextTermOffers(teacher: teacherA, integrationID: id).first?.classes.map(\.classSourcedID), ["cls-3"])
        let declined = try await upgraded.answerNextTermOffer(teacher: teacherA, accept: false, integrationID: id, actor: "teacher:a")
        XCTAssertEqual(declined.offer.status, "declined")
        XCTAssertTrue(declined.imports.isEmpty)
        XCTAssertNil(try upgraded.store.readNow { try $0.importedClass(integrationID: id, classSourcedID: "cls-3") })
    }

    /// class-import version 1 as shipped before the end of term was a timer.
    static let versionOne = """
        workflow: class-import
        version: 1
        description: A class of an on-demand integration, imported by a teacher who teaches it, joined by its co-teachers, archived at the end of its term or when the SIS deletes it, and restorable.
        initial: available
        states:
          available:
            description: The held roster has the class; none of its teachers has imported it yet.
            on:
              import: { to: imported, guard: teaches_class, roles: [system, vendor_admin], effects: [record_class_import] }
          imported:
            description: A teacher imported the class.
            on:
              join: { to: stay, guard: teaches_class, roles: [system, vendor_admin], effects: [join_class] }
              term_ended: { to: archived, roles: [system, vendor_admin], effects: [archive_class] }
              deleted_in_sis: { to: archived, roles: [system], effects: [archive_class, tell_class_teachers] }
            refuse:
              restore: "the class is not archived, so there is nothing to restore"
          archived:
            description: The class ended or the SIS deleted it.
            on:
              restore: { to: imported, roles: [vendor_admin], effects: [restore_class] }
            refuse:
              import: "the class is archived (it ended or the SIS deleted it); a vendor admin can restore it"
              join: "the class is archived (it ended or the SIS deleted it); a vendor admin can restore it"
        """
}
