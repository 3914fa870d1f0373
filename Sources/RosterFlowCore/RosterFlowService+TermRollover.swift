import Foundation
import StorageCore
import WorkflowEngine

/// What answering a next-term offer did: the offer as it now stands, and each class's import.
public struct NextTermOfferAnswer: Sendable, Codable, Equatable {
    public var offer: NextTermOfferRecord
    /// For an accepted offer: each offered class imported, joined (a co-teacher imported it first), unchanged or refused.
    public var imports: [ClassImportResult]
}

/// What restoring an archived class did.
public struct ClassRestoreResult: Sendable, Codable, Equatable {
    public var integrationID: String
    public var classSourcedID: String
    public var instanceID: String
    /// `imported` (its term is still running) or `restored` (restored after its term: no end-of-term timers).
    public var state: String
    /// Students whose archived memberships were made active again.
    public var restoredStudents: Int
}

/// One of a teacher's imported classes whose term is over: ended (open for the grace period) or archived.
public struct EndedClassView: Sendable, Codable, Equatable {
    public var classSourcedID: String
    public var title: String
    /// `ended` (still open until ``archiveDueAt``) or `archived` (read-only; an admin can restore it).
    public var state: String
    /// When an ended class is archived (the grace period's end), seconds since 1970.
    public var archiveDueAt: Double?
    /// When the class entered its current state, seconds since 1970.
    public var since: Double
}

extension RosterFlowService {
    // MARK: Term rollover for teachers

    /// The imported classes `teacher` teaches (imported or joined) that ended or were archived, newest first.
    public func endedClasses(teacher: String, integrationID: String? = nil) throws -> [EndedClassView] {
        let integrationID = try rosterIntegration(user: teacher, given: integrationID)
        return try read { tx in
            let mine = try tx.classMembers(integrationID: integrationID, classSourcedID: nil, userSourcedID: teacher).filter { $0.role == "teacher" }
            var views: [EndedClassView] = []
            for member in mine {
                guard let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: member.classSourcedID),
                      let instance = try tx.instance(id: imported.instanceID),
                      [OnDemand.ClassImport.State.ended, OnDemand.ClassImport.State.archived].contains(instance.state)
                else { continue }
                let due = instance.state == OnDemand.ClassImport.State.ended
                    ? try tx.timers(instanceID: instance.id).first { $0.event == OnDemand.ClassImport.Event.graceOver }?.dueAt : nil
                views.append(EndedClassView(classSourcedID: imported.classSourcedID, title: imported.title, state: instance.state,
                                            archiveDueAt: due, since: instance.enteredAt))
            }
            return views.sorted { ($0.since, $0.classSourcedID) > ($1.since, $1.classSourcedID) }
        }
    }

    /// A teacher's offers of next term's classes, newest first: made once per ended term when the teacher's imported
    /// classes of that term ended and the same courses have classes they teach next term.
    public func nextTermOffers(teacher: String, integrationID: String? = nil) throws -> [NextTermOfferRecord] {
        let integrationID = try rosterIntegration(user: teacher, given: integrationID)
        return try read { tx in try tx.nextTermOffers(integrationID: integrationID, teacherSourcedID: teacher) }
    }

    /// Answers the teacher's newest open offer. Accepting imports every offered class for the teacher in one go (a class
    /// a co-teacher imported already is joined, never duplicated; each class is applied or refused on its own) and
    /// marks the offer accepted, in one transaction; declining only marks it. Not found when no offer is open.
    public func answerNextTermOffer(teacher: String, accept: Bool, integrationID: String? = nil, actor: String) async throws -> NextTermOfferAnswer {
        let integrationID = try rosterIntegration(user: teacher, given: integrationID)
        let runtime = self.runtime
        return try await write { tx, now in
            guard let offer = try tx.nextTermOffers(integrationID: integrationID, teacherSourcedID: teacher).first(where: { $0.status == "open" }) else {
                throw RosterFlowError(.notFound, "\(try OnDemand.name(tx, integrationID: integrationID, user: teacher)) (\(teacher)) has no open "
                    + "offer of next term's classes: one is made when their imported classes' term ends and they teach the same courses next term")
            }
            var imports: [ClassImportResult] = []
            if accept {
                imports = try Self.importEach(tx, runtime: runtime, integrationID: integrationID, teacher: teacher,
                                              classes: offer.classes.map(\.classSourcedID), actor: actor, now: now)
            }
            let status = accept ? "accepted" : "declined"
            try tx.decideNextTermOffer(integrationID: integrationID, teacherSourcedID: teacher, endedTermSourcedID: offer.endedTermSourcedID,
                                       status: status, actor: actor, at: now)
            var decided = offer
            decided.status = status
            decided.decidedAt = now
            decided.decidedBy = actor
            return NextTermOfferAnswer(offer: decided, imports: imports)
        }
    }

    /// Restores an archived imported class (its students' archived memberships become active again): back to
    /// `imported` while its term runs, else `restored` (it stays open without end-of-term timers). The workflow decides
    /// who may (vendor and school admins).
    public func restoreClass(classID: String, integrationID: String, actor: String, role: Role = .vendorAdmin) async throws -> ClassRestoreResult {
        let runtime = self.runtime
        return try await write { tx, now in
            guard let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: classID) else {
                throw RosterFlowError(.notFound, "no teacher of \(integrationID) has imported a class \(classID)")
            }
            let archived = try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: nil)
                .filter { $0.role == "student" && $0.status == "archived" && ($0.how == "class-deleted" || $0.how == "class-archived") }.count
            let step = try runtime.apply(tx, instanceID: imported.instanceID, event: OnDemand.ClassImport.Event.restore,
                                         sender: Sender(actor: actor, role: role), reason: "restored by \(actor)", now: now)
            return ClassRestoreResult(integrationID: integrationID, classSourcedID: classID, instanceID: imported.instanceID, state: step.to,
                                      restoredStudents: archived)
        }
    }
}
