import RosterFlowApp
import Foundation
import OneRoster
@testable import RosterFlowCore
import StorageCore
import StorageSQLite
import XCTest

/// OneRoster syncs end to end on real files: diff, safeguards, approve/reject, delta/absent, lifecycle effects.
final class SyncTests: SyncTestCase {
    func lines(_ bundle: String, _ file: String) throws -> [String] {
        try String(contentsOfFile: bundle + "/" + file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init).filter { !$0.isEmpty }
    }

    /// The fields of one CSV line (quotes honoured; the sample bundles have no line breaks in fields).
    func fields(_ line: String) -> [String] {
        var out: [String] = [], field = "", quoted = false
        for c in line {
            if c == "\"" { quoted.toggle() } else if c == ",", !quoted { out.append(field); field = "" } else { field.append(c) }
        }
        return out + [field]
    }

    func write(_ bundle: String, _ file: String, _ lines: [String]) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: bundle + "/" + file, atomically: true, encoding: .utf8)
    }

    /// Copies a bundle folder.
    func copy(_ bundle: String, to name: String) throws -> String {
        let path = folder + "/" + name
        try FileManager.default.copyItem(atPath: bundle, toPath: path)
        return path
    }

    func setMode(_ bundle: String, _ file: String, _ mode: String) throws {
        try write(bundle, "manifest.csv", try lines(bundle, "manifest.csv").map { $0.hasPrefix("file.\(file),") ? "file.\(file),\(mode)" : $0 })
    }

    func testFirstSyncCreatesShellsAndTheSameBundleTwiceChangesNothing() async throws {
        let b = try bundle("b1")
        let first = try await sync(b)
        XCTAssertEqual(first.decision, "applied")
        XCTAssertEqual(first.counts["enrollments"]?.adds, 800)
        XCTAssertEqual(first.counts["users"]?.adds, 200)
        let courseCount = try lines(b, "courses.csv").count - 1
        XCTAssertGreaterThan(courseCount, 1)
        XCTAssertEqual(first.lifecycle.filter { $0.workflow == "course-mapping" }.count, courseCount)
        XCTAssertEqual(try service.integration(id: integrationID).state, "shells_created")
        XCTAssertEqual(try service.courses(integrationID: integrationID).count, courseCount)

        // Read, validated and diffed again in full: nothing to change.
        let second = try await sync(b, revalidate: true)
        XCTAssertEqual(second.decision, "unchanged")
        XCTAssertEqual(second.counts.values.map { $0.adds + $0.updates + $0.deletes }.reduce(0, +), 0)
        XCTAssertEqual(second.counts["enrollments"]?.unchanged, 800)
        XCTAssertTrue(second.reasons.isEmpty, "\(second.reasons)")
        XCTAssertEqual(try service.courses(integrationID: integrationID).count, courseCount)
        XCTAssertEqual(try held(.enrollments), 800)
        let history = try service.rosterHistory(sourcedID: "enr-00000001")
        XCTAssertEqual(history.map(\.operation), ["add"])
        XCTAssertEqual(history.first?.runID, first.id)

        // Byte-for-byte the bundle that was applied: recognised by its SHA-256, not read again, same outcome.
        let third = try await sync(b)
        XCTAssertEqual(third.decision, "unchanged")
        XCTAssertTrue(third.reasons.first?.contains("byte-for-byte the one run \(first.id) applied") ?? false, "\(third.reasons)")
        XCTAssertEqual(third.counts, second.counts)
        XCTAssertEqual(third.report?.files.map(\.rowsRead), first.report?.files.map(\.rowsRead))
        XCTAssertEqual(try held(.enrollments), 800)
    }

    func testAnIdenticalBundleIsReadAgainWheneverItCouldChangeSomething() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        func readAgain(_ run: SyncRunView) -> Bool { !(run.reasons.first?.contains("byte-for-byte") ?? false) }

        // A different policy could delete differently.
        let other = try await service.runSync(
            integrationID: integrationID, bundlePath: b, policy: SyncPolicy(implicitDeletes: ["users"]), actor: "test")
        XCTAssertTrue(readAgain(other))
        XCTAssertEqual(other.decision, "unchanged")

        // One byte more is another bundle.
        let changed = try copy(b, to: "changed")
        var users = try lines(changed, "users.csv")
        users[1] = users[1].replacingOccurrences(of: ",true,", with: ",false,")
        try write(changed, "users.csv", users)
        let applied = try await sync(changed)
        XCTAssertEqual(applied.decision, "applied")
        XCTAssertEqual(applied.counts["users"]?.updates, 1)

        // A course the SIS deleted but students started is kept: the same bundle again must delete it again (and keep
        // it again), so it is read.
        let course = try XCTUnwrap(try service.courses(integrationID: integrationID).first { $0.sourcedID == "crs-1" })
        _ = try await service.mapCourse(id: course.id, catalogTitle: "Algebra", baseID: "ALG", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        _ = try await service.studentStarted(id: course.id, actor: "platform")
        let withoutCourse = try copy(changed, to: "without-course")
        try write(withoutCourse, "courses.csv", try lines(withoutCourse, "courses.csv").filter { !$0.hasPrefix("crs-1,") })
        let classesOfCourse = Set(try lines(withoutCourse, "classes.csv").dropFirst().map(fields).filter { $0[5] == "crs-1" }.map { $0[0] })
        try write(withoutCourse, "classes.csv", try lines(withoutCourse, "classes.csv").filter { !classesOfCourse.contains(fields($0)[0]) })
        try write(withoutCourse, "enrollments.csv", try lines(withoutCourse, "enrollments.csv").filter {
            !classesOfCourse.contains(fields($0)[3])
        })
        let dropped = try await sync(withoutCourse)
        XCTAssertEqual(dropped.decision, "held", "it removes students from a locked course")
        _ = try await service.approveSync(runID: dropped.id, actor: "vendor")
        XCTAssertEqual(try held(.courses), try lines(b, "courses.csv").count - 1, "the started course is kept")
        let again = try await sync(withoutCourse)
        XCTAssertTrue(readAgain(again), "\(again.reasons)")
        XCTAssertEqual(again.counts["courses"]?.deletes, 1, "the kept course is still omitted by the SIS")
    }

    func testBulkThatWouldDeleteTooMuchIsHeldThenApproved() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let cut = try copy(b, to: "cut")
        let enrollments = try lines(cut, "enrollments.csv")
        try write(cut, "enrollments.csv", Array(enrollments.prefix(1 + 400)))  // half of them: a truncated export
        let run = try await sync(cut)
        XCTAssertEqual(run.decision, "held")
        XCTAssertEqual(run.counts["enrollments"]?.deletes, 400)
        XCTAssertTrue(run.reasons.first?.contains("would delete 400 of 800 enrollments (50%, more than the 10% allowed)") ?? false,
                      "\(run.reasons)")
        XCTAssertEqual(try held(.enrollments), 800, "a held run changes nothing")
        XCTAssertEqual(try service.integration(id: integrationID).state, "on_hold")
        await assertRefused(.refused) { try await self.sync(b) }  // no new sync while one is held

        let approved = try await service.approveSync(runID: run.id, actor: "vendor")
        XCTAssertEqual(approved.decision, "approved")
        XCTAssertEqual(try held(.enrollments), 400)
        XCTAssertEqual(try service.integration(id: integrationID).state, "shells_created", "resumed where it was")
        let shellNotices = try service.store.readNow { try $0.outbox(instanceID: integrationID) }.filter { $0.template == "shells-created" }
        XCTAssertEqual(shellNotices.count, 1, "resuming from on_hold does not tell the DSP about the shells again")
        await assertRefused(.refused) { try await self.service.approveSync(runID: run.id, actor: "vendor") }
        XCTAssertEqual(try service.rosterHistory(sourcedID: "enr-00000800").map(\.operation), ["add", "delete"])
    }

    func testApproveWithoutDeletesParksThemAndRejectDropsARun() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let cut = try copy(b, to: "cut")
        try write(cut, "enrollments.csv", Array(try lines(cut, "enrollments.csv").prefix(1 + 600)))
        let held1 = try await sync(cut)
        XCTAssertEqual(held1.decision, "held")
        let partial = try await service.approveSync(runID: held1.id, withoutDeletes: true, actor: "vendor")
        XCTAssertEqual(partial.decision, "approved-without-deletes")
        XCTAssertEqual(try held(.enrollments), 800, "deletes stay parked")

        // The same export again: the parked deletes stay parked and hold nothing; a cut deeper still holds again.
        let nightly = try await sync(cut)
        XCTAssertEqual(nightly.decision, "unchanged")
        let deeper = try copy(b, to: "deeper")
        try write(deeper, "enrollments.csv", Array(try lines(deeper, "enrollments.csv").prefix(1 + 400)))
        let held2 = try await sync(deeper)
        XCTAssertEqual(held2.decision, "held")
        let dropped = try await service.rejectSync(runID: held2.id, actor: "vendor")
        XCTAssertEqual(dropped.decision, "dropped")
        XCTAssertEqual(try held(.enrollments), 800)
        XCTAssertEqual(try service.integration(id: integrationID).state, "shells_created")
    }

    func testDeltaAppliesOnlyItsRowsAndAbsentLeavesDataAlone() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let delta = try copy(b, to: "delta")
        let header = try lines(delta, "enrollments.csv")[0]
        try write(delta, "enrollments.csv", [
            header,
            "enr-00000005,tobedeleted,2026-01-05T10:00:00Z,cls-5,org-school-1,tch-000005,teacher,true,,",
            "enr-99999999,active,2026-01-05T10:00:00Z,cls-1,org-school-1,tch-000001,teacher,false,,",
        ])
        try setMode(delta, "enrollments", "delta")
        for file in ["users", "classes", "courses", "orgs", "academicSessions", "roles"] {
            try setMode(delta, file, "absent")
            try FileManager.default.removeItem(atPath: delta + "/\(file).csv")
        }
        let run = try await sync(delta)
        XCTAssertEqual(run.decision, "applied", "\(run.reasons) \(run.report?.issues.map(\.message) ?? [])")
        XCTAssertEqual(run.counts["enrollments"]?.adds, 1)
        XCTAssertEqual(run.counts["enrollments"]?.deletes, 1)
        XCTAssertEqual(run.counts["users"]?.deletes, 0)
        XCTAssertEqual(try held(.enrollments), 800)
        XCTAssertEqual(try held(.users), 200, "absent: untouched")
    }

    func testRemovingAStudentFromALockedCourseIsHeldWhateverThePercentages() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        // Lock crs-1: a student started it.
        let course = try XCTUnwrap(try service.courses(integrationID: integrationID).first { $0.sourcedID == "crs-1" })
        _ = try await service.mapCourse(id: course.id, catalogTitle: "Algebra", baseID: "ALG", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        _ = try await service.studentStarted(id: course.id, actor: "platform")

        // Drop one student enrollment of a class of crs-1: 1 of 800 is far below 10%.
        let classesOfCourse = Set(try lines(b, "classes.csv").dropFirst().map(fields).filter { $0[5] == "crs-1" }.map { $0[0] })
        XCTAssertFalse(classesOfCourse.isEmpty)
        let enrollments = try lines(b, "enrollments.csv")
        let victim = try XCTUnwrap(enrollments.dropFirst().first {
            let f = fields($0)
            return classesOfCourse.contains(f[3]) && f[6] == "student"
        })
        let cut = try copy(b, to: "one-less")
        try write(cut, "enrollments.csv", enrollments.filter { $0 != victim })
        let run = try await sync(cut)
        XCTAssertEqual(run.decision, "held")
        XCTAssertEqual(run.counts["enrollments"]?.deletes, 1)
        XCTAssertTrue(run.reasons.contains { $0.contains("from course crs-1, whose mapping is locked") }, "\(run.reasons)")
    }

    /// A copy of `bundle` in which the SIS re-keyed one student: same username, e-mail and identifier, new sourcedId.
    /// With `rekeyEnrollments`, the student's enrollments get new sourcedIds too (else they keep theirs, re-pointed).
    func rekeyed(_ bundle: String, to name: String, rekeyEnrollments: Bool, newID: String = "stu-new-1") throws
        -> (path: String, oldID: String, enrollments: [String])
    {
        let renamed = try copy(bundle, to: name)
        let users = try lines(renamed, "users.csv")
        let student = try XCTUnwrap(users.first { $0.hasPrefix("stu-0") })
        let oldID = String(student.split(separator: ",")[0])
        try write(renamed, "users.csv", users.map { $0 == student ? newID + $0.dropFirst(oldID.count) : $0 })
        try write(renamed, "roles.csv", try lines(renamed, "roles.csv").map {
            $0.replacingOccurrences(of: ",\(oldID),", with: ",\(newID),")
        })
        var rekeyedEnrollments: [String] = []
        try write(renamed, "enrollments.csv", try lines(renamed, "enrollments.csv").map { line in
            guard line.contains(",\(oldID),") else { return line }
            var fields = self.fields(line)
            if rekeyEnrollments {
                rekeyedEnrollments.append(fields[0])
                fields[0] = "new-" + fields[0]
            }
            return fields.joined(separator: ",").replacingOccurrences(of: ",\(oldID),", with: ",\(newID),")
        })
        return (renamed, oldID, rekeyedEnrollments)
    }

    func testAChangedSourcedIdIsProposedAsAMergeAndApprovedAsOne() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let (renamed, oldID, enrollments) = try rekeyed(b, to: "renamed", rekeyEnrollments: true)
        XCTAssertFalse(enrollments.isEmpty, "the sample student has enrollments")
        let run = try await sync(renamed)
        XCTAssertEqual(run.decision, "held")
        XCTAssertTrue(run.reasons.contains { $0.contains("user \(oldID) disappears while new user stu-new-1 has the same username") },
                      "\(run.reasons)")
        XCTAssertEqual(run.merges.filter { $0.entity == "users" }.map { [$0.oldID, $0.newID, $0.matchedOn] }, [[oldID, "stu-new-1", "username"]])
        XCTAssertEqual(Set(run.merges.filter { $0.entity == "enrollments" }.map(\.oldID)), Set(enrollments))
        XCTAssertEqual(Set(run.merges.filter { $0.entity == "enrollments" }.map(\.newID)), Set(enrollments.map { "new-" + $0 }))

        // A person must choose: merge, or delete and add.
        let refusal = await assertRefused(.refused) { try await self.service.approveSync(runID: run.id, actor: "vendor") }
        XCTAssertTrue(refusal?.message.contains("--merge") ?? false, refusal?.message ?? "")
        XCTAssertEqual(try service.integration(id: integrationID).state, "on_hold", "a refused approval changes nothing")

        let approved = try await service.approveSync(runID: run.id, merge: true, actor: "vendor")
        XCTAssertEqual(approved.decision, "approved")
        XCTAssertEqual(Set(approved.merges.map(\.status)), ["merged"])
        XCTAssertEqual(try service.integration(id: integrationID).state, "shells_created")
        let heldUsers = Set(try service.store.readNow { try $0.rosterRecords(integrationID: integrationID, entity: "users") }.map(\.sourcedID))
        XCTAssertTrue(heldUsers.contains("stu-new-1"))
        XCTAssertFalse(heldUsers.contains(oldID))

        // The old id's story continues under the new one.
        XCTAssertEqual(try service.rosterHistory(sourcedID: oldID).map(\.operation), ["add", "delete", "merged-into"])
        XCTAssertEqual(try service.rosterHistory(sourcedID: oldID).last?.mergedWith, "stu-new-1")
        XCTAssertEqual(try service.rosterHistory(sourcedID: "stu-new-1").map(\.operation), ["add", "merged-from"])
        let current = try service.store.readNow { try $0.currentSourcedID(integrationID: integrationID, entity: "users", sourcedID: oldID) }
        XCTAssertEqual(current, "stu-new-1")

        // The DSP (and every webhook subscriber) is told, one line per merge.
        let notice = try XCTUnwrap(try service.store.readNow { try $0.outbox(instanceID: integrationID) }
            .first { $0.template == "sourced-ids-merged" })
        XCTAssertEqual(notice.recipient, "dsp")
        XCTAssertTrue(notice.payload.contains("user \(oldID) is now stu-new-1 (same username"), notice.payload)

        // The same bundle again: nothing left to do.
        let again = try await sync(renamed)
        XCTAssertEqual(again.decision, "unchanged")
    }

    func testADeclinedMergeDeletesTheOldUserAndAddsTheNew() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let (renamed, oldID, _) = try rekeyed(b, to: "renamed", rekeyEnrollments: false)
        let run = try await sync(renamed)
        XCTAssertEqual(run.decision, "held")
        XCTAssertEqual(run.merges.map(\.entity), ["users"], "enrollments kept their sourcedIds: they are updates, not merges")
        let approved = try await service.approveSync(runID: run.id, merge: false, actor: "vendor")
        XCTAssertEqual(approved.merges.map(\.status), ["declined"])
        XCTAssertEqual(try service.rosterHistory(sourcedID: oldID).map(\.operation), ["add", "delete"])
        XCTAssertTrue(try service.store.readNow { try $0.aliases(involving: oldID) }.isEmpty)
        XCTAssertFalse(try service.store.readNow { try $0.outbox(instanceID: integrationID) }.contains { $0.template == "sourced-ids-merged" })

        // A rejected run's proposals are dropped with it.
        let (again, _, _) = try rekeyed(renamed, to: "renamed-again", rekeyEnrollments: false, newID: "stu-new-2")
        let second = try await sync(again)
        XCTAssertEqual(second.decision, "held")
        let dropped = try await service.rejectSync(runID: second.id, actor: "vendor")
        XCTAssertEqual(dropped.merges.map(\.status), ["dropped"])
    }

    func testARekeyedStudentInALockedCourseIsAMergeNotARemoval() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let (renamed, oldID, enrollments) = try rekeyed(b, to: "renamed", rekeyEnrollments: true)
        // Lock the course of the student's first class.
        let enrollment = try XCTUnwrap(try lines(b, "enrollments.csv").map(fields).first { $0[0] == enrollments.first })
        let courseOfClass = try XCTUnwrap(try lines(b, "classes.csv").map(fields).first { $0[0] == enrollment[3] })[5]
        let course = try XCTUnwrap(try service.courses(integrationID: integrationID).first { $0.sourcedID == courseOfClass })
        _ = try await service.mapCourse(id: course.id, catalogTitle: "Algebra", baseID: "ALG", actor: "dsp")
        _ = try await service.verifyCourse(id: course.id, actor: "school")
        _ = try await service.contentAdded(id: course.id, actor: "dsp")
        _ = try await service.studentStarted(id: course.id, actor: "platform")

        let run = try await sync(renamed)
        XCTAssertEqual(run.decision, "held")
        XCTAssertEqual(run.reasons.count, 1, "only the merge holds it, not a removal from the locked course: \(run.reasons)")
        XCTAssertTrue(run.reasons[0].contains("user \(oldID) disappears"), run.reasons[0])
        // --without-deletes parks real deletes, but a merge's old half is not one.
        _ = try await service.approveSync(runID: run.id, withoutDeletes: true, merge: true, actor: "vendor")
        let heldEnrollments = Set(try service.store.readNow { try $0.rosterRecords(integrationID: integrationID, entity: "enrollments") }.map(\.sourcedID))
        XCTAssertTrue(heldEnrollments.isDisjoint(with: enrollments))
        XCTAssertTrue(heldEnrollments.isSuperset(of: enrollments.map { "new-" + $0 }))
    }

    /// Digests are stored in held rosters: the streaming fingerprint must give exactly the values of the original
    /// formula (each field joined, lists joined by commas), or every held record would look updated.
    func testFingerprintsKeepTheStoredDigestFormula() throws {
        let b = try bundle("b1")
        let read = try OneRosterBundleReader().read(at: URL(fileURLWithPath: b))
        var checked = 0
        for record in SyncPlanner.allRecords(in: read) {
            let expected: Int64
            switch record {
            case let .org(o):
                expected = Digest.of([o.name, o.type.rawValue, o.identifier, o.parentSourcedId], o.extensions)
            case let .academicSession(s):
                expected = Digest.of([s.title, s.type.rawValue, "\(s.startDate)", "\(s.endDate)", s.parentSourcedId,
                                      String(s.schoolYear)], s.extensions)
            case let .course(c):
                expected = Digest.of([c.title, c.schoolYearSourcedId, c.courseCode, c.grades.joined(separator: ","),
                                      c.orgSourcedId, c.subjects.joined(separator: ","), c.subjectCodes.joined(separator: ",")],
                                     c.extensions)
            case let .rosterClass(c):
                expected = Digest.of([c.title, c.grades.joined(separator: ","), c.courseSourcedId, c.classCode,
                                      c.classType.rawValue, c.location, c.schoolSourcedId, c.termSourcedIds.joined(separator: ","),
                                      c.subjects.joined(separator: ","), c.subjectCodes.joined(separator: ","),
                                      c.periods.joined(separator: ",")], c.extensions)
            case let .user(u):
                let roles = u.roles.map { "\($0.roleType.rawValue):\($0.role.rawValue)@\($0.orgSourcedId)" }.sorted()
                expected = Digest.of([String(u.enabledUser), u.username, u.userIds.map(\.csvText).joined(separator: ","),
                                      u.givenName, u.familyName, u.middleName, u.identifier, u.email, u.sms, u.phone,
                                      u.agentSourcedIds.joined(separator: ","), u.grades.joined(separator: ","), u.role?.rawValue,
                                      u.orgSourcedIds.joined(separator: ","), roles.joined(separator: ","), u.preferredGivenName,
                                      u.preferredFamilyName, u.primaryOrgSourcedId], u.extensions)
            case let .enrollment(e):
                expected = Digest.of([e.classSourcedId, e.schoolSourcedId, e.userSourcedId, e.role.rawValue,
                                      e.primary.map { String($0) }, e.beginDate.map { "\($0)" }, e.endDate.map { "\($0)" }],
                                     e.extensions)
            default:
                continue
            }
            XCTAssertEqual(SyncPlanner.rosterRecord(record)?.record.digest, expected, "\(record)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 1000)
    }

    /// An add is kept in the record itself until the record changes; its history still reads add, update, delete.
    func testHistoryShowsAddUpdateAndDeleteOfARecord() async throws {
        let b = try bundle("b1")
        let first = try await sync(b)
        let users = try lines(b, "users.csv")
        let student = try XCTUnwrap(users.first { $0.hasPrefix("stu-") })
        let id = fields(student)[0]
        XCTAssertEqual(try service.rosterHistory(sourcedID: id).map(\.operation), ["add"])
        let oldTitle = try XCTUnwrap(service.rosterHistory(sourcedID: id).first?.title)

        let changed = try copy(b, to: "changed")
        var row = fields(student)
        row[6] = "Renamed"  // givenName
        try write(changed, "users.csv", users.map { $0 == student ? row.joined(separator: ",") : $0 })
        let second = try await sync(changed)
        XCTAssertEqual(second.decision, "applied")
        let history = try service.rosterHistory(sourcedID: id)
        XCTAssertEqual(history.map(\.operation), ["add", "update"])
        XCTAssertEqual(history.map(\.runID), [first.id, second.id])
        XCTAssertEqual(history.first?.title, oldTitle, "the add keeps the title the record had when it was added")
        XCTAssertEqual(history.last?.title.map { $0.hasPrefix("Renamed ") }, true)

        // A delta file deletes one enrollment: its add is written out before its delete.
        let enrollment = try XCTUnwrap(try lines(b, "enrollments.csv").dropFirst().first)
        let enrollmentID = fields(enrollment)[0]
        let delta = try copy(changed, to: "delta")
        try setMode(delta, "enrollments", "delta")
        var deleted = fields(enrollment)
        deleted[1] = "tobedeleted"
        deleted[2] = "2026-01-05T10:00:00Z"
        try write(delta, "enrollments.csv", [try lines(b, "enrollments.csv")[0], deleted.joined(separator: ",")])
        let third = try await sync(delta)
        XCTAssertEqual(third.decision, "applied", "\(third.reasons)")
        XCTAssertEqual(try service.rosterHistory(sourcedID: enrollmentID).map(\.operation), ["add", "delete"])
        XCTAssertEqual(try service.rosterHistory(sourcedID: enrollmentID).map(\.runID), [first.id, third.id])
    }

    /// Held digests are merged with files in sourcedId order and indexed when a file is out of order: the same
    /// bundle in another row order changes nothing, and omitted rows are deleted either way.
    func testRowOrderDoesNotChangeTheDiff() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let shuffled = try copy(b, to: "shuffled")
        let enrollments = try lines(shuffled, "enrollments.csv")
        // Sorted, with 5 rows left out in the middle: a merge.
        let kept = [enrollments[0]] + enrollments.dropFirst().enumerated().filter { !(100..<105).contains($0.offset) }.map(\.element)
        try write(shuffled, "enrollments.csv", kept)
        let merged = try await sync(shuffled)
        XCTAssertEqual(merged.decision, "applied", "\(merged.reasons)")
        XCTAssertEqual(merged.counts["enrollments"].map { [$0.adds, $0.updates, $0.deletes, $0.unchanged] }, [0, 0, 5, 795])
        // The same rows in reverse order, 5 more left out: an index from the second row on.
        let reversed = [kept[0]] + kept.dropFirst().reversed().enumerated().filter { !(10..<15).contains($0.offset) }.map(\.element)
        try write(shuffled, "enrollments.csv", reversed)
        let indexed = try await sync(shuffled)
        XCTAssertEqual(indexed.decision, "applied", "\(indexed.reasons)")
        XCTAssertEqual(indexed.counts["enrollments"].map { [$0.adds, $0.updates, $0.deletes, $0.unchanged] }, [0, 0, 5, 790])
        XCTAssertEqual(try held(.enrollments), 790)
        XCTAssertEqual(indexed.counts["users"].map { [$0.adds, $0.updates, $0.deletes] }, [0, 0, 0])
    }

    /// A plan's deletes come in sourcedId order, the same ones, each carrying its held record's references and title,
    /// whether the diff merged the held digests with a file in order (its unseen records listed in key order, not
    /// sorted again, and kept as their deletes as it passed them) or indexed them for a file out of order (the plan
    /// then reads them); a quarantined row is not deleted either way.
    func testDeletesComeInSourcedIdOrderWhetherMergedOrIndexed() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let changed = try copy(b, to: "omitted")
        let enrollments = try lines(changed, "enrollments.csv")
        let omitted = [3, 100, 101, 102, 500]
        let kept = [enrollments[0]] + enrollments.dropFirst().enumerated().filter { !omitted.contains($0.offset) }
            .map { $0.element.hasPrefix("enr-00000010,") ? $0.element.replacingOccurrences(of: ",student,", with: ",pupil,")
                .replacingOccurrences(of: ",teacher,", with: ",pupil,") : $0.element }
        XCTAssertTrue(kept.contains { $0.contains(",pupil,") }, "a row to quarantine")
        func deletes(_ rows: [String]) async throws -> [[String?]] {
            try write(changed, "enrollments.csv", rows)
            let run = try await sync(changed, dryRun: true)
            XCTAssertEqual(run.decision, "dry-run", "\(run.reasons)")
            return try service.store.readNow { try $0.changeSet(runID: run.id) }
                .filter { $0.operation == .delete && $0.record.entity == "enrollments" }.map(Self.shown)
        }
        let omittedIDs = Set(enrollments.dropFirst().enumerated().filter { omitted.contains($0.offset) }.map { fields($0.element)[0] })
        let expected = try service.store.readNow { try $0.rosterRecords(integrationID: integrationID, entity: "enrollments") }
            .filter { omittedIDs.contains($0.sourcedID) }.map { Self.shown(RosterChange.deleting($0)) }
        let merged = try await deletes(kept)
        let indexed = try await deletes([kept[0]] + kept.dropFirst().reversed())
        XCTAssertEqual(merged.count, 5)
        XCTAssertEqual(merged, expected)
        XCTAssertEqual(indexed, merged)
    }

    private static func shown(_ change: RosterChange) -> [String?] {
        let r = change.record
        return [r.sourcedID, String(r.digest), r.ref1, r.ref2, r.ref3, r.title, r.ref4, r.fields.map { "\($0.count) bytes" }]
    }

    /// The held records a bulk file omits are kept as their deletes while the diff merges the held digests in order
    /// (so a rollover's millions are not read again to plan them), exactly as the store makes them; not when the
    /// file's omissions are not deletes, nor once a file comes out of order (its held digests are then indexed). SQLite's
    /// cursor has them at hand; PostgreSQL's does not (its plan reads them).
    func testTheDiffKeepsTheDeletesOfOmittedRecordsWhileItMergesInOrder() async throws {
        _ = try await sync(try bundle("b1"))
        try service.store.readNow { tx in
            let held = try tx.rosterRecords(integrationID: integrationID, entity: "enrollments")
            XCTAssertGreaterThan(held.count, 100)
            let counts = try tx.rosterCounts(integrationID: integrationID)
            func diff(capturing: Bool, streamed: [Int]) throws -> SyncDiff {
                var diff = SyncDiff(heldCounts: counts)
                let merge = HeldDigestMerge(tx: tx, integrationID: integrationID) { _ in capturing }
                for index in streamed { _ = try merge.held(.enrollments, held[index].sourcedID, explicitDelete: false) }
                try merge.finish(&diff)
                return diff
            }
            let everyOther = Array(stride(from: 0, to: held.count, by: 2))
            let omitted = held.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            var merged = try diff(capturing: true, streamed: everyOther)
            XCTAssertEqual(merged.unseenHeld(.enrollments), omitted.map(\.sourcedID))
            if Fixture.domainPostgresURL == nil {
                XCTAssertEqual(merged.takeUnseenDeletes(.enrollments)?.changes.map(Self.shown), omitted.map { Self.shown(RosterChange.deleting($0)) })
                XCTAssertNil(merged.takeUnseenDeletes(.enrollments), "taken out")
            } else {
                XCTAssertNil(merged.takeUnseenDeletes(.enrollments), "PostgreSQL's cursor has no records at hand: the plan reads them")
            }
            var notAsked = try diff(capturing: false, streamed: everyOther)
            XCTAssertNil(notAsked.takeUnseenDeletes(.enrollments))
            var outOfOrder = try diff(capturing: true, streamed: [2, 0] + everyOther.dropFirst(2))
            XCTAssertNil(outOfOrder.takeUnseenDeletes(.enrollments))
            XCTAssertEqual(Set(outOfOrder.unseenHeld(.enrollments)), Set(omitted.map(\.sourcedID)))

            // A long run of held records passed over for one streamed record (a rollover's year ending) is told, so that
            // the pipeline lets the reader go on meanwhile; short ones are not.
            let told = ToldPassingOver()
            var passing = SyncDiff(heldCounts: counts)
            let merge = HeldDigestMerge(tx: tx, integrationID: integrationID, passingOver: told.tell,
                                        longPassOver: 10) { _ in true }
            for index in [0, 5, 11, 12, 40, held.count - 1] {
                _ = try merge.held(.enrollments, held[index].sourcedID, explicitDelete: false)
                told.said.append("after \(index)")
            }
            try merge.finish(&passing)
            XCTAssertEqual(told.said, ["after 0", "after 5", "after 11", "after 12", "true", "false", "after 40",
                                       "true", "false", "after \(held.count - 1)"])
            XCTAssertEqual(passing.unseenHeld(.enrollments).count, held.count - 6)
        }
    }

    private final class ToldPassingOver {
        var said: [String] = []
        func tell(_ on: Bool) { said.append(String(on)) }
    }

    func testACourseAddedByALaterSyncGetsAShellAndTheDSPIsTold() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let more = try copy(b, to: "more")
        try write(more, "courses.csv", try lines(more, "courses.csv") + ["crs-new,,,as-2025,Robotics,ROB-1,09,org-district,Engineering,ENG"])
        let run = try await sync(more)
        XCTAssertEqual(run.decision, "applied")
        let shell = try XCTUnwrap(try service.courses(integrationID: integrationID).first { $0.sourcedID == "crs-new" })
        XCTAssertEqual(shell.title, "Robotics")
        let messages = try service.store.readNow { try $0.outbox(instanceID: shell.id) }
        XCTAssertEqual(messages.map(\.template), ["course-added-after-startup"])
    }

    func testDemographicsAreHeldAsFingerprintsAndFollowBulkSemantics() async throws {
        let path = folder + "/demo"
        _ = try SampleBundle.write(to: URL(fileURLWithPath: path), users: 200, classes: 10, enrollments: 800, version: "1.2",
                                   seed: 7, demographics: true)
        let first = try await sync(path)
        XCTAssertEqual(first.counts["demographics"]?.adds, 200)
        XCTAssertEqual(try held(.demographics), 200)
        // Only a fingerprint is held: no birth date or race flag is stored.
        let record = try XCTUnwrap(try service.store.readNow { try $0.rosterRecords(integrationID: integrationID, entity: "demographics") }.first)
        XCTAssertNil(record.ref1)
        XCTAssertNil(record.title)

        let changed = try copy(path, to: "demo-changed")
        var rows = try lines(changed, "demographics.csv")
        var fields = self.fields(rows[1])
        let id = fields[0]
        fields[3] = fields[3] == "2010-01-01" ? "2010-01-02" : "2010-01-01"  // birthDate
        rows[1] = fields.joined(separator: ",")
        rows.remove(at: 2)  // omitted from a bulk file: deleted
        try write(changed, "demographics.csv", rows)
        let second = try await sync(changed)
        XCTAssertEqual(second.decision, "applied")
        XCTAssertEqual(second.counts["demographics"]?.updates, 1)
        XCTAssertEqual(second.counts["demographics"]?.deletes, 1)
        XCTAssertEqual(try service.rosterHistory(sourcedID: id).filter { $0.entity == "demographics" }.map(\.operation), ["add", "update"])
    }

    func testAQuarantinedRowInABulkFileIsNotDeleted() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        let bad = try copy(b, to: "bad-row")
        // Break one enrollment's role: the row is quarantined, not read as omitted.
        try write(bad, "enrollments.csv", try lines(bad, "enrollments.csv").map {
            $0.hasPrefix("enr-00000010,") ? $0.replacingOccurrences(of: ",student,", with: ",pupil,").replacingOccurrences(of: ",teacher,", with: ",pupil,") : $0
        })
        let run = try await sync(bad)
        XCTAssertEqual(run.counts["enrollments"]?.deletes, 0)
        XCTAssertGreaterThan(run.errorCount, 0)
        XCTAssertTrue(run.report?.issues.contains { $0.code == .unknownEnumValue && $0.file == "enrollments.csv" } ?? false)
        XCTAssertEqual(try held(.enrollments), 800)
        // The district's OneRoster admin is told which row was skipped and how to fix it.
        let notices = try service.store.readNow { try $0.outbox(instanceID: integrationID) }.filter { $0.template == "sync-problems" }
        XCTAssertEqual(notices.count, 1)
        XCTAssertEqual(notices.first?.recipient, "district_admin")
        XCTAssertTrue(notices.first?.payload.contains("pupil") ?? false, notices.first?.payload ?? "")
        XCTAssertTrue(notices.first?.payload.contains("enrollments.csv") ?? false, notices.first?.payload ?? "")
    }

    func testABundleWithoutAManifestIsRejectedAndADryRunChangesNothing() async throws {
        let b = try bundle("b1")
        let dry = try await sync(b, dryRun: true)
        XCTAssertEqual(dry.decision, "dry-run")
        XCTAssertEqual(dry.counts["users"]?.adds, 200)
        XCTAssertEqual(try held(.users), 0)
        XCTAssertEqual(try service.integration(id: integrationID).state, "scheduled")

        try FileManager.default.removeItem(atPath: b + "/manifest.csv")
        let run = try await sync(b)
        XCTAssertEqual(run.decision, "rejected")
        XCTAssertTrue(run.reasons.first?.contains("no manifest.csv") ?? false, "\(run.reasons)")
        XCTAssertEqual(try held(.users), 0)
        XCTAssertEqual(try service.syncRuns(integrationID: integrationID).map(\.decision), ["rejected", "dry-run"])
        let messages = try service.store.readNow { try $0.outbox(instanceID: integrationID) }
        XCTAssertEqual(messages.filter { $0.template == "sync-failed" }.map(\.recipient), ["district_admin"], "one notice, for the rejection")
        XCTAssertTrue(messages.first { $0.template == "sync-failed" }?.payload.contains("no manifest.csv") ?? false)
        XCTAssertFalse(messages.contains { $0.template == "sync-problems" }, "a dry run tells no one")

        // An unreadable bundle is rejected too, and the district is told.
        let unreadable = try await sync(folder + "/no-such-bundle.zip")
        XCTAssertEqual(unreadable.decision, "rejected")
        XCTAssertEqual(try service.store.readNow { try $0.outbox(instanceID: integrationID) }.filter { $0.template == "sync-failed" }.count, 2)
    }

    func testNightlySyncsRunOncePerLocalDayAndAlertWhenLateOrSourceless() async throws {
        let clock = TestClock("2026-03-06T12:00:00Z")
        let service = try await Fixture.service(clock: clock)
        let id = try await Fixture.scheduledIntegration(service)  // 02:30 America/Chicago
        XCTAssertEqual(try service.integration(id: id).nextSyncAt, "2026-03-07T08:30:00Z")
        let none = try await service.runDueSyncs()
        XCTAssertEqual(none, [])

        // Due, but no source: alert and move on.
        clock.advance(days: 1)
        let sourceless = try await service.runDueSyncs()
        XCTAssertEqual(sourceless.map(\.decision), ["not-run"])
        XCTAssertTrue(sourceless.first?.alert?.contains("no bundle source") ?? false)
        XCTAssertEqual(sourceless.first?.nextSyncAt, "2026-03-08T08:00:00Z", "02:30 does not exist that night: 03:00 CDT")

        try await service.setSyncSource(integrationID: id, source: try bundle("nightly"))
        clock.advance(days: 1)  // 2026-03-08T12:00Z, 3.5 h after the due time: late
        let late = try await service.runDueSyncs()
        XCTAssertEqual(late.map(\.decision), ["applied"])
        XCTAssertTrue(late.first?.alert?.contains("minutes late") ?? false)
        XCTAssertEqual(late.first?.nextSyncAt, "2026-03-09T07:30:00Z", "02:30 CDT once daylight saving began")
        let again = try await service.runDueSyncs()
        XCTAssertEqual(again, [], "once per day")

        // A worker down for three nights runs one catch-up sync, not three.
        clock.advance(days: 3)
        let catchUp = try await service.runDueSyncs()
        XCTAssertEqual(catchUp.map(\.decision), ["unchanged"])
        XCTAssertEqual(catchUp.first?.nextSyncAt, "2026-03-12T07:30:00Z")
        let alerts = try service.store.readNow { try $0.outbox(instanceID: id) }.filter { $0.template == "missed-sync" }
        XCTAssertEqual(alerts.count, 3)
    }

    /// Two workers on one database read the same due list; each nightly sync runs once. The second worker gets the
    /// sync lock only after the first moved the schedule on, finds the sync no longer due and runs nothing.
    func testTwoWorkersThatReadTheSameDueListRunEachNightlySyncOnce() async throws {
        let clock = TestClock("2026-03-06T12:00:00Z")
        let database = try Fixture.newDatabase()
        let first = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        _ = try await first.importCustomers(csv: Fixture.registry, file: "customers.csv")
        let second = try RosterFlowService(databasePath: database, workflowsPath: Fixture.workflows, clock: { clock.now })
        var ids: [String] = []
        for (tenant, district, email) in [
            ("t-spring", "Springfield USD", "it@springfield.example"), ("t-obrien", "O'Brien & <Sons> ISD", "admin@obrien.example"),
        ] {
            let integration = try await first.requestIntegration(
                tenantID: tenant, district: district, permission: "full", contactEmail: email, sender: .system)
            _ = try await first.authenticate(integrationID: integration.id, actor: Fixture.vendor)
            _ = try await first.schedule(integrationID: integration.id, time: "02:30", timezone: "America/Chicago", actor: "school")
            try await first.setSyncSource(integrationID: integration.id, source: try bundle("nightly-\(tenant)"))
            ids.append(integration.id)
        }
        clock.advance(days: 1)

        // The second worker read the due list, then the first ran both syncs before the second got to them.
        let now = clock.now
        let stale = try second.store.readNow { try $0.dueSyncs(now: now) }
        XCTAssertEqual(stale.map(\.integrationID).sorted(), ids.sorted())
        let ran = try await first.runDueSyncs()
        XCTAssertEqual(ran.map(\.decision), ["applied", "applied"])
        let late = try await second.runDueSyncs(stale, now: now)
        XCTAssertEqual(late.map(\.decision), ["done-elsewhere", "done-elsewhere"])
        XCTAssertEqual(late.map(\.nextSyncAt), ran.map(\.nextSyncAt), "the schedule the first worker moved on")
        XCTAssertEqual(try first.store.readNow { try $0.syncRuns(integrationID: nil) }.count, 2, "one run per integration")

        // Both at once over several nights: every night's sync once, never a second (unchanged) run.
        for night in 1...4 {
            clock.advance(days: 1)
            async let a = first.runDueSyncs()
            async let b = second.runDueSyncs()
            let outcomes = try await a + b
            let runs = outcomes.filter { $0.runID != nil }
            XCTAssertEqual(runs.map(\.integrationID).sorted(), ids.sorted(), "night \(night): \(outcomes)")
            XCTAssertTrue(
                outcomes.allSatisfy { $0.runID != nil || ["busy", "done-elsewhere"].contains($0.decision) }, "\(outcomes)")
            XCTAssertEqual(
                try first.store.readNow { try $0.syncRuns(integrationID: nil) }.count, 2 + 2 * night, "night \(night): \(outcomes)")
        }
    }

    func testImplicitDeletesFollowTheIntegrationsStoredPolicy() async throws {
        let b = try bundle("b1")
        _ = try await sync(b)
        try await service.setSyncPolicy(
            integrationID: integrationID, policy: SyncPolicy(implicitDeletes: ["enrollments"], maxDeleteShare: 0.5))
        XCTAssertEqual(try service.syncPolicy(integrationID: integrationID).implicitDeletes, ["enrollments"])
        let fewer = try copy(b, to: "fewer")
        let users = try lines(fewer, "users.csv")
        try write(fewer, "users.csv", Array(users.dropLast(3)))  // three users omitted
        try write(fewer, "enrollments.csv", Array(try lines(fewer, "enrollments.csv").dropLast(3)))
        let run = try await sync(fewer)
        XCTAssertEqual(run.decision, "applied", "\(run.reasons)")
        XCTAssertEqual(run.counts["users"]?.deletes, 0, "users are not deleted by omission under this policy")
        XCTAssertEqual(run.counts["enrollments"]?.deletes, 3)
        await assertRefused(.invalidInput) {
            try await self.service.setSyncPolicy(integrationID: self.integrationID, policy: SyncPolicy(maxDeleteShare: 10))
        }
        await assertRefused(.invalidInput) {
            try await self.service.runSync(integrationID: self.integrationID, bundlePath: b,
                                           policy: SyncPolicy(implicitDeletes: ["pupils"]), actor: "t")
        }
    }
}
