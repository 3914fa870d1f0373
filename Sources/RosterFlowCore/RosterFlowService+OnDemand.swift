import Foundation
import StorageCore
import WorkflowEngine

/// What a sign-in said about the person: the verified claims identity linking reads (the OIDC callback passes them).
public struct IdentityClaims: Sendable, Equatable {
    /// The sign-in provider, e.g. `classlink`.
    public var provider: String
    /// The district's tenant id in the sign-in (ClassLink `TenantId`), joined to the integration's tenant.
    public var tenantID: String
    /// The provider's own user id (ClassLink `UserId`).
    public var providerUserID: String
    /// The OneRoster user sourcedId, when the provider gives one (ClassLink `SourcedId`; empty without OneRoster).
    public var sourcedID: String?
    /// The login name (ClassLink `LoginId`), compared with the OneRoster `username`.
    public var username: String?
    /// The e-mail, compared with the OneRoster `email` (case set aside).
    public var email: String?

    /// Claims with every field given; empty strings count as absent.
    public init(provider: String, tenantID: String, providerUserID: String, sourcedID: String? = nil, username: String? = nil,
                email: String? = nil) {
        self.provider = provider
        self.tenantID = tenantID
        self.providerUserID = providerUserID
        self.sourcedID = sourcedID?.isEmpty == true ? nil : sourcedID
        self.username = username?.isEmpty == true ? nil : username
        self.email = email?.isEmpty == true ? nil : email
    }
}

/// The outcome of linking a sign-in: the linked OneRoster user and how, or the support code of the unlinked queue.
public struct IdentityLinkView: Sendable, Codable, Equatable {
    public var linked: Bool
    public var integrationID: String?
    public var sourcedID: String?
    public var name: String?
    /// `sourcedId`, `username`, `email` or `manual`.
    public var matchedOn: String?
    /// The person's roles, from their OneRoster enrollments (never from the sign-in's role claim).
    public var roles: [String]
    /// For an unlinked sign-in: the code to give support, and why.
    public var supportCode: String?
    public var reason: String?
}

/// One class a teacher may import, as the held roster says.
public struct AvailableClassView: Sendable, Codable, Equatable {
    public var classSourcedID: String
    public var title: String
    public var course: String?
    public var periods: [String]
    public var studentCount: Int
    /// The other teachers of the class (names).
    public var coTeachers: [String]
    /// `available`, `imported` or `archived`; with who imported it.
    public var state: String
    public var importedBy: String?
}

/// A teacher's classes of one term.
public struct TermClassesView: Sendable, Codable, Equatable {
    public var termSourcedID: String
    public var term: String
    public var schoolYear: String?
    /// The term's first and last days (`YYYY-MM-DD`), when the roster gave them.
    public var startDate: String?
    public var endDate: String?
    /// The current term, preselected: the one whose dates contain today (between terms the next one; for terms held
    /// without dates, the newest school year).
    public var current: Bool
    public var classes: [AvailableClassView]
}

/// What importing one class did.
public struct ClassImportResult: Sendable, Codable, Equatable {
    public var classSourcedID: String
    /// `imported`, `joined` (a co-teacher had imported it), `unchanged` (already theirs) or `refused`.
    public var outcome: String
    public var instanceID: String?
    public var reason: String?
    /// Students placed by the import (pending placements resolved).
    public var placed: Int
}

/// A student's place in one class they are enrolled in.
public struct PlacementView: Sendable, Codable, Equatable {
    public var classSourcedID: String
    public var title: String
    /// `placed`, `pending` (waiting for a teacher to import the class), `archived` (dropped or class archived; work
    /// kept) or `not-signed-in`.
    public var status: String
    /// The class's teachers (names): whom a pending placement waits for.
    public var teachers: [String]
    /// A sentence for the student.
    public var message: String
}

/// The chain that explains whether a student is in a class.
public struct PlacementExplanation: Sendable, Codable, Equatable {
    public var studentSourcedID: String
    public var classSourcedID: String
    public var integrationID: String
    /// Each link of the chain, in order, in plain words.
    public var steps: [String]
    /// The student's membership now: `placed`, `pending`, `archived` or `none`.
    public var status: String
}

extension RosterFlowService {
    // MARK: Provisioning mode

    /// The integration's provisioning mode (`pre-provisioned` unless set).
    public func provisioningMode(integrationID: String) throws -> ProvisioningMode {
        try read { tx in
            guard try tx.integration(id: integrationID) != nil else { throw RosterFlowError(.notFound, "there is no integration \(integrationID)") }
            return try tx.provisioningMode(integrationID: integrationID) ?? .preProvisioned
        }
    }

    /// Sets the integration's provisioning mode; refused once the other mode has created something (course shells for
    /// pre-provisioned, imported classes for on-demand), with the reason.
    public func setProvisioningMode(integrationID: String, mode: ProvisioningMode, actor: String) async throws -> ProvisioningMode {
        try await write { tx, now in
            guard let integration = try tx.integration(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID)")
            }
            let current = try tx.provisioningMode(integrationID: integrationID) ?? .preProvisioned
            if current == mode { return mode }
            switch mode {
            case .onDemand:
                let shells = try tx.courses(integrationID: integrationID).count
                if shells > 0 {
                    throw RosterFlowError(
                        .refused, "\(integration.district) (\(integrationID)) already has \(shells) course shell\(shells == 1 ? "" : "s") "
                            + "from its pre-provisioned syncs, so it cannot become on-demand; start a new integration for on-demand rostering")
                }
            case .preProvisioned:
                let classes = try tx.importedClasses(integrationID: integrationID).count
                if classes > 0 {
                    throw RosterFlowError(
                        .refused, "teachers of \(integration.district) (\(integrationID)) already imported \(classes) class\(classes == 1 ? "" : "es"), "
                            + "so it cannot become pre-provisioned: its teachers and students would be provisioned twice")
                }
            }
            try tx.setProvisioningMode(integrationID: integrationID, mode: mode, actor: actor, at: now)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "integration.mode", integrationID: integrationID, subject: integrationID,
                before: JSONText.object([("mode", current.rawValue)]), after: JSONText.object([("mode", mode.rawValue)])))
            return mode
        }
    }

    // MARK: Identity linking

    /// Links a verified sign-in to the OneRoster user it is: the integration whose tenant is the sign-in's, then the
    /// held user with the claimed sourcedId, else the username, else the e-mail — exactly one match inside that district,
    /// never across districts. How the link was made is recorded, and the platform is told of a new account once. A
    /// sign-in that cannot be linked gets a support code and waits in the unlinked queue.
    public func linkIdentity(_ claims: IdentityClaims, actor: String = Sender.system.actor) async throws -> IdentityLinkView {
        try await write { tx, now in
            let open = try tx.integrations(tenantID: claims.tenantID).filter {
                ![DomainVocabulary.Integration.State.rejected, DomainVocabulary.Integration.State.disabled,
                  DomainVocabulary.Integration.State.requested].contains($0.state)
            }
            func unlinked(_ integrationID: String?, _ reason: String) throws -> IdentityLinkView {
                let code = "RF-" + Identifier.make(prefix: "", length: 8).dropFirst().uppercased()
                try tx.insertUnlinkedIdentity(UnlinkedIdentityRecord(
                    supportCode: code, provider: claims.provider, tenantID: claims.tenantID, integrationID: integrationID,
                    providerUserID: claims.providerUserID, claimedSourcedID: claims.sourcedID, username: claims.username,
                    email: claims.email, reason: reason, createdAt: now))
                return IdentityLinkView(linked: false, integrationID: integrationID, roles: [], supportCode: code, reason: reason)
            }
            guard let integration = open.first?.integration else {
                return try unlinked(nil, "no district with tenant id '\(claims.tenantID)' is set up for rostering")
            }
            let integrationID = integration.id
            func inactive(_ user: RosterRecord) throws -> IdentityLinkView {
                try unlinked(integrationID, "the roster of \(integration.district) says \(user.title ?? user.sourcedID) (\(user.sourcedID)) "
                    + "is not enabled (enabledUser is false), so they cannot sign in; the school enables them in its SIS and the next sync brings it")
            }
            if let link = try tx.identityLink(provider: claims.provider, integrationID: integrationID, providerUserID: claims.providerUserID),
               let user = try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.users, sourcedIDs: [link.sourcedID]).first {
                return OnDemand.isEnabled(user) ? try Self.linkView(tx, link) : try inactive(user)
            }
            // Each rule reads only the users it matches (by sourcedId, or the username and e-mail indexes).
            let rules: [(String, String?, (String) throws -> [RosterRecord])] = [
                ("sourcedId", claims.sourcedID, { try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.users, sourcedIDs: [$0]) }),
                ("username", claims.username, { try tx.rosterUsers(integrationID: integrationID, username: $0) }),
                ("email", claims.email, { value in
                    try tx.rosterUsers(integrationID: integrationID, email: value).filter { $0.ref2?.lowercased() == value.lowercased() }
                }),
            ]
            for (rule, value, lookup) in rules {
                guard let value else { continue }
                let matching = try lookup(value)
                // Only active users are linked: a disabled one is never chosen, and one alone is told why.
                let found = matching.filter(OnDemand.isEnabled)
                if found.isEmpty, let disabled = matching.first { return try inactive(disabled) }
                if found.count > 1 {
                    return try unlinked(integrationID, "\(found.count) people in \(integration.district) have the \(rule) '\(value)', "
                        + "so RosterFlow cannot tell which one signed in; support links it by hand")
                }
                if let user = found.first {
                    let link = IdentityLinkRecord(
                        provider: claims.provider, integrationID: integrationID, providerUserID: claims.providerUserID,
                        sourcedID: user.sourcedID, matchedOn: rule, actor: actor, linkedAt: now)
                    return try Self.link(tx, link, now: now)
                }
            }
            let tried = [("sourcedId", claims.sourcedID), ("username", claims.username), ("e-mail", claims.email)]
                .compactMap { name, value in value.map { "\(name) '\($0)'" } }
            return try unlinked(integrationID, tried.isEmpty
                ? "the sign-in carried no sourcedId, username or e-mail to find the person by"
                : "nobody in the roster of \(integration.district) has the \(tried.joined(separator: ", or the "))")
        }
    }

    static func link(_ tx: any StoreTransaction, _ link: IdentityLinkRecord, now: Double) throws -> IdentityLinkView {
        try tx.upsertIdentityLink(link)
        let name = try OnDemand.name(tx, integrationID: link.integrationID, user: link.sourcedID)
        try OnDemand.platformEvent(
            tx, template: "account-created", key: "account-created:\(link.integrationID):\(link.sourcedID)",
            integrationID: link.integrationID, instanceID: link.integrationID, subject: name,
            values: ["user_sourced_id": link.sourcedID, "roles": try roles(tx, link.integrationID, link.sourcedID).joined(separator: ","),
                     "matched_on": link.matchedOn], now: now)
        return try linkView(tx, link)
    }

    static func roles(_ tx: any StoreTransaction, _ integrationID: String, _ user: String) throws -> [String] {
        Set(try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: user).compactMap(\.ref3)).sorted()
    }

    static func linkView(_ tx: any StoreTransaction, _ link: IdentityLinkRecord) throws -> IdentityLinkView {
        IdentityLinkView(
            linked: true, integrationID: link.integrationID, sourcedID: link.sourcedID,
            name: try OnDemand.name(tx, integrationID: link.integrationID, user: link.sourcedID), matchedOn: link.matchedOn,
            roles: try roles(tx, link.integrationID, link.sourcedID))
    }

    /// The unlinked queue, oldest first (resolved ones too with `includeResolved`).
    public func unlinkedIdentities(includeResolved: Bool = false) throws -> [UnlinkedIdentityRecord] {
        try read { try $0.unlinkedIdentities(includeResolved: includeResolved) }
    }

    /// A vendor admin links a queued sign-in to a OneRoster user of its district by hand (`manual`).
    public func resolveUnlinked(supportCode: String, sourcedID: String, actor: String) async throws -> IdentityLinkView {
        try await write { tx, now in
            guard let entry = try tx.unlinkedIdentity(supportCode: supportCode.uppercased()) else {
                throw RosterFlowError(.notFound, "there is no unlinked sign-in with support code \(supportCode)")
            }
            if let resolved = entry.resolvedSourcedID {
                throw RosterFlowError(.conflict, "\(entry.supportCode) was already linked to \(resolved) by \(entry.resolvedBy ?? "?")")
            }
            guard let integrationID = entry.integrationID else {
                throw RosterFlowError(.refused, "no district with tenant id '\(entry.tenantID)' is set up for rostering, so "
                    + "\(entry.supportCode) has nobody to be linked to; set up the district's integration first")
            }
            guard try tx.holdsRosterRecord(integrationID: integrationID, entity: OnDemand.users, sourcedID: sourcedID) else {
                throw RosterFlowError(.notFound, "the roster of \(integrationID) has no user \(sourcedID) (users of other districts are never linked)")
            }
            try tx.resolveUnlinkedIdentity(supportCode: entry.supportCode, sourcedID: sourcedID, actor: actor, at: now)
            return try Self.link(tx, IdentityLinkRecord(
                provider: entry.provider, integrationID: integrationID, providerUserID: entry.providerUserID, sourcedID: sourcedID,
                matchedOn: "manual", actor: actor, linkedAt: now), now: now)
        }
    }

    // MARK: Teacher import

    /// The one integration whose held roster has user `sourcedID` (or `given`, checked): not found when none has, bad
    /// input when several districts have one (sourcedIds are unique only inside a district).
    public func rosterIntegrationID(user sourcedID: String, given: String?) throws -> String {
        try rosterIntegration(user: sourcedID, given: given)
    }

    /// The one integration holding user `sourcedID` (or the one given, checked).
    func rosterIntegration(user sourcedID: String, given: String?) throws -> String {
        try read { tx in
            if let given {
                guard try tx.integration(id: given) != nil else { throw RosterFlowError(.notFound, "there is no integration \(given)") }
                guard try tx.holdsRosterRecord(integrationID: given, entity: OnDemand.users, sourcedID: sourcedID) else {
                    throw RosterFlowError(.notFound, "the roster of \(given) has no user \(sourcedID)")
                }
                return given
            }
            let known = try tx.integrationsKnowing(sourcedID: sourcedID, entities: [OnDemand.users]).filter {
                try tx.holdsRosterRecord(integrationID: $0, entity: OnDemand.users, sourcedID: sourcedID)
            }
            guard let only = known.first else { throw RosterFlowError(.notFound, "no roster holds a user \(sourcedID)") }
            guard known.count == 1 else {
                throw RosterFlowError(.invalidInput, "user \(sourcedID) is in the rosters of \(known.joined(separator: ", ")); "
                    + "sourcedIds are unique only inside a district: pass --integration")
            }
            return only
        }
    }

    /// The classes the held roster says `teacher` teaches, grouped by term (the current term first and marked, then the
    /// others, latest first), each with its course, periods, student count, co-teachers and whether it is imported.
    public func availableClasses(teacher: String, integrationID: String? = nil) throws -> [TermClassesView] {
        let integrationID = try rosterIntegration(user: teacher, given: integrationID)
        return try read { tx in
            let mine = Set(try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: teacher)
                .filter { $0.ref3 == "teacher" }.compactMap(\.ref1))
            let classes = try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.classes, sourcedIDs: mine.sorted())
            let courses = try tx.rosterRecords(
                integrationID: integrationID, entity: RosterEntity.courses.rawValue, sourcedIDs: Array(Set(classes.compactMap(\.ref1))).sorted())
                .reduce(into: [String: String]()) { $0[$1.sourcedID] = $1.title }
            var groups: [String: [AvailableClassView]] = [:]
            for cls in classes {
                let details = ClassDetails(cls.ref3)
                let enrolled = try tx.rosterEnrollments(integrationID: integrationID, classSourcedID: cls.sourcedID)
                let coTeachers = enrolled.filter { $0.ref3 == "teacher" && $0.ref2 != teacher }.compactMap(\.ref2)
                let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: cls.sourcedID)
                let view = AvailableClassView(
                    classSourcedID: cls.sourcedID, title: cls.title ?? cls.sourcedID, course: cls.ref1.flatMap { courses[$0] },
                    periods: details.periods, studentCount: enrolled.filter { $0.ref3 == "student" }.count,
                    coTeachers: try coTeachers.sorted().map { try OnDemand.name(tx, integrationID: integrationID, user: $0) },
                    state: try imported.flatMap { try tx.instance(id: $0.instanceID)?.state } ?? OnDemand.ClassImport.State.available,
                    importedBy: try imported.map { try OnDemand.name(tx, integrationID: integrationID, user: $0.importedBy) })
                for term in details.terms.isEmpty ? [""] : details.terms { groups[term, default: []].append(view) }
            }
            let sessions = try OnDemand.terms(tx, integrationID: integrationID, ids: groups.keys.filter { !$0.isEmpty })
            let today = try OnDemand.today(tx, integrationID: integrationID, now: clock())
            let current = OnDemand.currentTerm(Array(sessions.values), today: today)
            return groups.map { term, classes in
                TermClassesView(
                    termSourcedID: term, term: sessions[term]?.title ?? (term.isEmpty ? "no term" : term), schoolYear: sessions[term]?.schoolYear,
                    startDate: sessions[term]?.start, endDate: sessions[term]?.end, current: term == current,
                    classes: classes.sorted { ($0.title, $0.classSourcedID) < ($1.title, $1.classSourcedID) })
            }.sorted {
                ($0.current ? 1 : 0, $0.schoolYear ?? "", $0.startDate ?? "", $1.term) > ($1.current ? 1 : 0, $1.schoolYear ?? "", $1.startDate ?? "", $0.term)
            }
        }
    }

    /// Imports `classes` for `teacher`: each a class they teach; a class a co-teacher imported is joined, never
    /// duplicated. Each class is applied or refused on its own.
    public func importClasses(teacher: String, classes: [String], integrationID: String? = nil, actor: String) async throws -> [ClassImportResult] {
        let integrationID = try rosterIntegration(user: teacher, given: integrationID)
        guard try provisioningMode(integrationID: integrationID) == .onDemand else {
            throw RosterFlowError(.refused, "\(integrationID) is pre-provisioned: its courses get shells from the nightly sync, and "
                + "teachers do not import classes; a vendor admin can make a new integration on-demand (`rosterflow integrations mode`)")
        }
        let runtime = self.runtime
        return try await write { tx, now in
            try Self.importEach(tx, runtime: runtime, integrationID: integrationID, teacher: teacher, classes: classes, actor: actor, now: now)
        }
    }

    /// Imports each class in its own savepoint: a refused one is reported and the others go on.
    static func importEach(
        _ tx: any StoreTransaction, runtime: WorkflowRuntime, integrationID: String, teacher: String, classes: [String], actor: String, now: Double
    ) throws -> [ClassImportResult] {
        var results: [ClassImportResult] = []
        for classID in classes {
            do {
                results.append(try tx.savepoint {
                    try Self.importClass(tx, runtime: runtime, integrationID: integrationID, teacher: teacher, classID: classID, actor: actor, now: now)
                })
            } catch {
                let failure = RosterFlowError.wrap(error)
                guard [.refused, .notFound, .invalidInput, .conflict].contains(failure.code) else { throw failure }
                results.append(ClassImportResult(classSourcedID: classID, outcome: "refused", reason: failure.message, placed: 0))
            }
        }
        return results
    }

    static func pendingPlacements(_ tx: any StoreTransaction, integrationID: String, classID: String) throws -> Int {
        try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: nil)
            .filter { $0.role == "student" && $0.status == "pending" }.count
    }

    static func importClass(
        _ tx: any StoreTransaction, runtime: WorkflowRuntime, integrationID: String, teacher: String, classID: String, actor: String, now: Double
    ) throws -> ClassImportResult {
        guard let cls = try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.classes, sourcedIDs: [classID]).first else {
            throw RosterFlowError(.notFound, "the roster from the SIS has no class \(classID)")
        }
        let sender = Sender(actor: actor, role: .system)
        let payload = ["teacher": teacher]
        func pendingCount() throws -> Int { try pendingPlacements(tx, integrationID: integrationID, classID: classID) }
        if let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: classID) {
            // A teacher the nightly sync added is a member already, but joins (in the class's history) when they import it.
            let mine = try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: teacher)
                .contains { $0.role == "teacher" && $0.status == "active" && $0.how != "sync" }
            if mine, let state = try tx.instance(id: imported.instanceID)?.state, OnDemand.ClassImport.State.open.contains(state) {
                return ClassImportResult(classSourcedID: classID, outcome: "unchanged", instanceID: imported.instanceID,
                                         reason: "already imported", placed: 0)
            }
            let pending = try pendingCount()
            _ = try runtime.apply(tx, instanceID: imported.instanceID, event: OnDemand.ClassImport.Event.join, sender: sender,
                                  reason: "co-teacher \(teacher) joined", payload: payload, now: now)
            return ClassImportResult(classSourcedID: classID, outcome: "joined", instanceID: imported.instanceID,
                                     reason: "imported by \(try OnDemand.name(tx, integrationID: integrationID, user: imported.importedBy)) before", placed: pending)
        }
        let id = Identifier.make(prefix: "cls")
        let title = cls.title ?? classID
        _ = try runtime.start(tx, workflow: OnDemand.ClassImport.workflow, id: id, subjectTitle: title, sender: sender,
                              reason: "class \(classID) offered to its teachers", payload: [:], now: now) { tx in
            try tx.insertImportedClass(ImportedClassRecord(
                integrationID: integrationID, classSourcedID: classID, instanceID: id, title: title, importedBy: teacher, importedAt: now))
        }
        let pending = try pendingCount()
        _ = try runtime.apply(tx, instanceID: id, event: OnDemand.ClassImport.Event.importClass, sender: sender,
                              reason: "imported by teacher \(teacher)", payload: payload, now: now)
        return ClassImportResult(classSourcedID: classID, outcome: "imported", instanceID: id, placed: pending)
    }

    // MARK: Student placement

    /// Places a signed-in student in every imported class they are enrolled in; an enrollment in a class not imported
    /// yet becomes a pending placement that resolves when a teacher imports it. Returns what the student is told.
    public func placeStudent(_ student: String, integrationID: String? = nil) async throws -> [PlacementView] {
        let integrationID = try rosterIntegration(user: student, given: integrationID)
        try await write { tx, now in
            if let user = try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.users, sourcedIDs: [student]).first,
               !OnDemand.isEnabled(user) {
                throw RosterFlowError(.refused, "the roster from the SIS says \(user.title ?? student) (\(student)) is not enabled "
                    + "(enabledUser is false), so they are not placed in classes; the school enables them in its SIS")
            }
            for e in try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: student) where e.ref3 == "student" {
                guard let classID = e.ref1 else { continue }
                let member = try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: student)
                    .first { $0.role == "student" }
                if let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: classID) {
                    guard let state = try tx.instance(id: imported.instanceID)?.state, OnDemand.ClassImport.State.open.contains(state),
                          member?.status != "active" else { continue }
                    try OnDemand.place(tx, imported: imported, student: student, how: "signed-in", since: now, now: now)
                } else if member == nil {
                    try tx.upsertClassMember(ClassMemberRecord(
                        role: "student", integrationID: integrationID, classSourcedID: classID, userSourcedID: student,
                        status: "pending", how: "signed-in", since: now, changedAt: now))
                }
            }
        }
        return try placements(student: student, integrationID: integrationID)
    }

    /// Every class the held roster enrolls `student` in, with their place in it and what they are told.
    public func placements(student: String, integrationID: String? = nil) throws -> [PlacementView] {
        let integrationID = try rosterIntegration(user: student, given: integrationID)
        return try read { tx in
            let mine = Set(try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: student)
                .filter { $0.ref3 == "student" }.compactMap(\.ref1))
            let members = try tx.classMembers(integrationID: integrationID, classSourcedID: nil, userSourcedID: student)
                .filter { $0.role == "student" }
            let classIDs = mine.union(members.map(\.classSourcedID)).sorted()
            let titles = try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.classes, sourcedIDs: classIDs)
                .reduce(into: [String: String]()) { $0[$1.sourcedID] = $1.title }
            return try classIDs.map { classID in
                let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: classID)
                let title = titles[classID] ?? imported?.title ?? classID
                let teacherIDs = try tx.rosterEnrollments(integrationID: integrationID, classSourcedID: classID)
                    .filter { $0.ref3 == "teacher" }.compactMap(\.ref2).sorted()
                let teachers = try teacherIDs.map { try OnDemand.name(tx, integrationID: integrationID, user: $0) }
                let who = teachers.isEmpty ? "your teacher" : teachers.joined(separator: " or ")
                let member = members.first { $0.classSourcedID == classID }
                let status: String, message: String
                switch member?.status {
                case "active"?:
                    status = "placed"; message = "You are in \(title)."
                case "archived"?:
                    status = "archived"; message = "\(title) is archived for you (your work is kept)."
                case "pending"?:
                    status = "pending"; message = "\(who) hasn't set up \(title) yet; you will be placed in it as soon as they do."
                default:
                    status = "not-signed-in"
                    message = imported == nil ? "\(who) hasn't set up \(title) yet." : "You will be placed in \(title) when you sign in."
                }
                return PlacementView(classSourcedID: classID, title: title, status: status, teachers: teachers, message: message)
            }
        }
    }
}

/// A class's terms and periods as held (`ref3` = `terms|periods`, each comma-separated; nil for classes held before).
struct ClassDetails {
    var terms: [String]
    var periods: [String]

    init(_ held: String?) {
        let parts = (held ?? "").split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        terms = parts.first.map { $0.split(separator: ",").map(String.init) } ?? []
        periods = parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []
    }
}

extension RosterFlowService {
    // MARK: Explaining a placement

    /// Why student `student` is, or is not, in class `classID`: the chain from the sign-in identity through the linked
    /// OneRoster user (and how it was linked), the enrollment, the class's import (by whom, when) to the last sync that
    /// touched it, each in plain words.
    public func explainPlacement(student: String, classID: String, integrationID: String? = nil) throws -> PlacementExplanation {
        let integrationID = try rosterIntegration(user: student, given: integrationID)
        return try read { tx in
            var steps: [String] = []
            let name = try OnDemand.name(tx, integrationID: integrationID, user: student)
            let mode = try tx.provisioningMode(integrationID: integrationID) ?? .preProvisioned
            steps.append("\(integrationID) is \(mode.rawValue)"
                + (mode == .onDemand ? "." : ": classes are not imported by teachers, so nobody is placed on sign-in."))
            let links = try tx.identityLinks(integrationID: integrationID, sourcedID: student)
            if links.isEmpty {
                steps.append("\(name) (\(student)) has not signed in yet: no sign-in is linked to them, so they cannot be placed until they do.")
            }
            for link in links {
                steps.append("\(link.provider) user \(link.providerUserID) signed in and was linked to \(name) (\(student)) "
                    + "by \(link.matchedOn == "manual" ? "a vendor admin (\(link.actor)) by hand" : "matching the \(link.matchedOn)") on \(Timestamp.iso(link.linkedAt)).")
            }
            let title = try tx.rosterRecords(integrationID: integrationID, entity: OnDemand.classes, sourcedIDs: [classID]).first?.title
            let enrolled = try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: student).filter { $0.ref1 == classID }
            let classText = "\(title ?? classID) (\(classID))"
            if title == nil {
                let wasImported = try tx.importedClass(integrationID: integrationID, classSourcedID: classID) != nil
                steps.append("The roster from the SIS has no class \(classID)" + (wasImported ? " any more (the SIS deleted it)." : "."))
            } else if let e = enrolled.first {
                steps.append("The SIS enrolls \(name) in \(classText) as \(e.ref3 ?? "a member") (enrollment \(e.sourcedID), active).")
            } else {
                steps.append("The SIS does not enroll \(name) in \(classText): the enrollment must be added in the SIS; RosterFlow follows it at the next sync.")
            }
            let member = try tx.classMembers(integrationID: integrationID, classSourcedID: classID, userSourcedID: student).first { $0.role == "student" }
            if let imported = try tx.importedClass(integrationID: integrationID, classSourcedID: classID) {
                let state = try tx.instance(id: imported.instanceID)?.state ?? "?"
                let by = try OnDemand.name(tx, integrationID: integrationID, user: imported.importedBy)
                steps.append("\(classText) was imported by \(by) (\(imported.importedBy)) on \(Timestamp.iso(imported.importedAt)); it is \(state).")
            } else if title != nil {
                let teachers = try tx.rosterEnrollments(integrationID: integrationID, classSourcedID: classID).filter { $0.ref3 == "teacher" }
                    .compactMap(\.ref2).map { try OnDemand.name(tx, integrationID: integrationID, user: $0) }
                steps.append("No teacher has imported \(classText) yet" + (teachers.isEmpty ? "." : "; it waits for \(teachers.joined(separator: " or ")) to import it."))
            }
            switch member?.status {
            case "active"?: steps.append("\(name) is placed in the class (\(member!.how), since \(Timestamp.iso(member!.since))).")
            case "pending"?: steps.append("\(name) has a pending placement since \(Timestamp.iso(member!.since)): it resolves the moment a teacher imports the class.")
            case "archived"?: steps.append("\(name)'s membership was archived on \(Timestamp.iso(member!.changedAt)) (\(member!.how)); their work is kept.")
            default: break
            }
            let touching = try tx.rosterHistory(sourcedID: classID, integrationID: integrationID, entities: [OnDemand.classes]).last
            let enrollmentRun = try enrolled.first.flatMap {
                try tx.rosterHistory(sourcedID: $0.sourcedID, integrationID: integrationID, entities: [OnDemand.enrollments]).last
            }
            if let last = [touching, enrollmentRun].compactMap({ $0 }).max(by: { $0.at < $1.at }) {
                steps.append("The last sync touching it was \(last.runID) on \(Timestamp.iso(last.at)) (\(last.entity) \(last.operation)).")
            }
            let status: String
            switch member?.status {
            case "active"?: status = "placed"
            case "pending"?: status = "pending"
            case "archived"?: status = "archived"
            default: status = "none"
            }
            return PlacementExplanation(studentSourcedID: student, classSourcedID: classID, integrationID: integrationID, steps: steps, status: status)
        }
    }
}

extension RosterFlowService {
    /// A change to an imported class's roster made through RosterFlow (adding or removing a student or teacher by hand):
    /// always refused, because the SIS owns the roster and the nightly sync would undo it. Names the class and says
    /// where to make the change.
    public func changeImportedRoster(classID: String, integrationID: String, user: String? = nil) async throws {
        let imported = try read { tx in try tx.importedClass(integrationID: integrationID, classSourcedID: classID) }
        guard let imported else {
            throw RosterFlowError(.notFound, "no teacher of \(integrationID) has imported a class \(classID)")
        }
        throw RosterFlowError(
            .refused, "the roster of \(imported.title) (\(classID)) comes from the school's SIS: make this change in your SIS; "
                + "RosterFlow applies it at the next nightly sync" + (user.map { " (for \($0))" } ?? ""))
    }
}
