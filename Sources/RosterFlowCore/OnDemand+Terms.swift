import Foundation
import StorageCore
import WorkflowEngine

/// A held academic session with the dates the roster gave it (`ref4` = `startDate|endDate`; none for sessions held
/// before dates were kept).
struct HeldTerm: Sendable, Equatable {
    var sourcedID: String
    var title: String
    var type: String?
    var schoolYear: String?
    /// `YYYY-MM-DD`, inclusive.
    var start: String?
    var end: String?

    init(_ record: RosterRecord) {
        sourcedID = record.sourcedID
        title = record.title ?? record.sourcedID
        type = record.ref1
        schoolYear = record.ref3
        let dates = (record.ref4 ?? "").split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        start = dates.count == 2 && dates[0].count == 10 ? dates[0] : nil
        end = dates.count == 2 && dates[1].count == 10 ? dates[1] : nil
    }

    var hasDates: Bool { start != nil && end != nil }

    /// Whether `day` (`YYYY-MM-DD`) is within the term's dates.
    func contains(_ day: String) -> Bool {
        guard let start, let end else { return false }
        return start <= day && day <= end
    }

    /// Whether the term's last day is before `day`.
    func isOver(on day: String) -> Bool { end.map { $0 < day } ?? false }

    /// Length in days-ish (for choosing the narrowest term containing a day): compares as strings' dates.
    var span: Double {
        guard let start, let end, let a = HeldTerm.date(start), let b = HeldTerm.date(end) else { return .infinity }
        return b - a
    }

    static func date(_ day: String) -> Double? {
        let parts = day.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))?.timeIntervalSince1970
    }
}

extension OnDemand {
    static let sessions = RosterEntity.academicSessions.rawValue

    /// The day `now` falls on (`YYYY-MM-DD`) in the integration's time zone (its sync schedule's; UTC without one): a
    /// term is over once its last day has passed there.
    static func today(_ tx: any StoreTransaction, integrationID: String, now: Double) throws -> String {
        let zone = try tx.integration(id: integrationID)?.timezone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: now))
        return String(format: "%04d-%02d-%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1)
    }

    /// The held sessions with these sourcedIds, by sourcedId.
    static func terms(_ tx: any StoreTransaction, integrationID: String, ids: [String]) throws -> [String: HeldTerm] {
        guard !ids.isEmpty else { return [:] }
        return try tx.rosterRecords(integrationID: integrationID, entity: sessions, sourcedIDs: Array(Set(ids)).sorted())
            .reduce(into: [String: HeldTerm]()) { $0[$1.sourcedID] = HeldTerm($1) }
    }

    /// Which of `terms` is current on `today`: the narrowest whose dates contain today; between terms, the next to
    /// start; after them all, the last to end. Terms held without dates fall back to the newest school year (the
    /// rule before dates were kept).
    static func currentTerm(_ terms: [HeldTerm], today: String) -> String? {
        let dated = terms.filter(\.hasDates)
        if let containing = dated.filter({ $0.contains(today) }).min(by: { ($0.span, $0.sourcedID) < ($1.span, $1.sourcedID) }) {
            return containing.sourcedID
        }
        if let next = dated.filter({ ($0.start ?? "") > today }).min(by: { ($0.start ?? "", $0.span) < ($1.start ?? "", $1.span) }) {
            return next.sourcedID
        }
        if let last = dated.max(by: { ($0.end ?? "", -$0.span) < ($1.end ?? "", -$1.span) }) {
            return last.sourcedID
        }
        return terms.max { ($0.schoolYear ?? "", $0.title) < ($1.schoolYear ?? "", $1.title) }?.sourcedID
    }

    /// The term a class ends with: of its terms held with dates, the one that ends last (nil when none has dates).
    static func endTerm(of cls: RosterRecord, terms: [String: HeldTerm]) -> HeldTerm? {
        ClassDetails(cls.ref3).terms.compactMap { terms[$0] }.filter(\.hasDates).max { ($0.end ?? "", $0.sourcedID) < ($1.end ?? "", $1.sourcedID) }
    }

    /// Whether a held user may sign in and be placed: `enabledUser` is not false (users held before it was kept count
    /// as enabled).
    static func isEnabled(_ user: RosterRecord) -> Bool { user.ref4 != "false" }

    // MARK: The end of a class's term (class-import version 2)

    /// `term_over`: the class's term (the last of its terms to end) is over today.
    static func termOver(_ tx: any StoreTransaction, imported: ImportedClassRecord, now: Double) throws -> GuardVerdict {
        guard let cls = try tx.rosterRecords(integrationID: imported.integrationID, entity: classes, sourcedIDs: [imported.classSourcedID]).first else {
            return .refuse("the roster no longer has class \(imported.classSourcedID)")
        }
        let terms = try Self.terms(tx, integrationID: imported.integrationID, ids: ClassDetails(cls.ref3).terms)
        guard let term = endTerm(of: cls, terms: terms) else {
            return .refuse("the roster holds no dates for the terms of \(imported.title) (\(imported.classSourcedID)), so its end is not known")
        }
        let today = try Self.today(tx, integrationID: imported.integrationID, now: now)
        return term.isOver(on: today) ? .pass : .refuse("\(term.title) ends on \(term.end ?? "?")")
    }

    /// The classes a teacher teaches in a term after `ended`, of the same courses as their imported classes that end
    /// with it (same course sourcedId, or the same course code), which the teacher has not imported or joined yet.
    static func nextTermClasses(
        _ tx: any StoreTransaction, integrationID: String, teacher: String, ended: HeldTerm
    ) throws -> [OfferedClassRecord] {
        guard let endDay = ended.end else { return [] }
        // The classes the teacher is an active teacher of (imported or joined), and those the roster says they teach.
        let mine = Set(try tx.classMembers(integrationID: integrationID, classSourcedID: nil, userSourcedID: teacher)
            .filter { $0.role == "teacher" && $0.status == "active" }.map(\.classSourcedID))
        let taught = Set(try tx.rosterEnrollments(integrationID: integrationID, userSourcedID: teacher)
            .filter { $0.ref3 == "teacher" }.compactMap(\.ref1))
        let classes = try tx.rosterRecords(integrationID: integrationID, entity: Self.classes, sourcedIDs: mine.union(taught).sorted())
        let terms = try Self.terms(tx, integrationID: integrationID, ids: classes.flatMap { ClassDetails($0.ref3).terms })
        let courseIDs = Array(Set(classes.compactMap(\.ref1))).sorted()
        let codes = try tx.rosterRecords(integrationID: integrationID, entity: RosterEntity.courses.rawValue, sourcedIDs: courseIDs)
            .reduce(into: [String: String]()) { if let code = $1.ref2, !code.isEmpty { $0[$1.sourcedID] = code } }
        func sameCourse(_ a: RosterRecord, _ b: RosterRecord) -> Bool {
            guard let x = a.ref1, let y = b.ref1 else { return false }
            return x == y || (codes[x] != nil && codes[x] == codes[y])
        }
        // The teacher's imported classes that end with this term.
        let endedClasses = classes.filter { mine.contains($0.sourcedID) && endTerm(of: $0, terms: terms)?.sourcedID == ended.sourcedID }
        var offered: [OfferedClassRecord] = []
        for next in classes where taught.contains(next.sourcedID) && !mine.contains(next.sourcedID) {
            // Next term: one of its terms starts after the ended term's last day.
            guard ClassDetails(next.ref3).terms.contains(where: { (terms[$0]?.start ?? "") > endDay }),
                  let before = endedClasses.first(where: { sameCourse($0, next) }) else { continue }
            offered.append(OfferedClassRecord(classSourcedID: next.sourcedID, title: next.title ?? next.sourcedID,
                                              endedClassSourcedID: before.sourcedID))
        }
        return offered
    }

    /// `offer_next_term`: each active teacher of the class whose term ended is offered, once per term, the classes of
    /// the same courses they teach next term, and told by e-mail (`next-term-classes`); a teacher who teaches none of
    /// them next term gets no offer.
    static func offerNextTerm(_ context: EffectContext, imported: ImportedClassRecord) throws {
        let tx = context.tx, integrationID = imported.integrationID
        guard let cls = try tx.rosterRecords(integrationID: integrationID, entity: classes, sourcedIDs: [imported.classSourcedID]).first,
              let ended = endTerm(of: cls, terms: try terms(tx, integrationID: integrationID, ids: ClassDetails(cls.ref3).terms))
        else { return }
        let teachers = try tx.classMembers(integrationID: integrationID, classSourcedID: imported.classSourcedID, userSourcedID: nil)
            .filter { $0.role == "teacher" && $0.status == "active" }.map(\.userSourcedID)
        for teacher in teachers {
            guard try !tx.nextTermOffers(integrationID: integrationID, teacherSourcedID: teacher)
                .contains(where: { $0.endedTermSourcedID == ended.sourcedID }) else { continue }
            let classes = try nextTermClasses(tx, integrationID: integrationID, teacher: teacher, ended: ended)
            guard !classes.isEmpty else { continue }
            let offer = NextTermOfferRecord(
                integrationID: integrationID, teacherSourcedID: teacher, endedTermSourcedID: ended.sourcedID, endedTerm: ended.title,
                classes: classes, createdAt: context.now)
            guard try tx.insertNextTermOffer(offer) else { continue }
            let held = try tx.rosterRecords(integrationID: integrationID, entity: users, sourcedIDs: [teacher]).first
            guard let address = held?.ref2, EmailAddress.isPlausible(address), let integration = try tx.integration(id: integrationID) else { continue }
            var values = NotificationPayload.values(
                instance: context.instance, course: nil, integration: integration, event: context.event, state: context.to,
                from: context.from, reason: context.reason, sync: [:])
            values += [
                ("teacher_name", held?.title ?? teacher), ("teacher_sourced_id", teacher), ("ended_term", ended.title),
                ("class_count", String(classes.count)),
                ("classes", classes.map { "\($0.title) (\($0.classSourcedID))" }.joined(separator: "\n")),
                ("import_command", "rosterflow classes rollover --teacher \(teacher) --integration \(integrationID) --accept"),
            ]
            try tx.insertOutbox(OutboxRecord(
                id: Identifier.make(prefix: "msg", length: 12), instanceID: context.instance.id, transitionSeq: context.transitionSeq,
                channel: .email, recipient: address, template: "next-term-classes", payload: JSONText.object(values),
                nextAttemptAt: context.now, createdAt: context.now))
        }
    }
}
