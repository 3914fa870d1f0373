import Foundation
import StorageCore

/// A sync that moves a district to a new school year: its academic sessions move to a later school year, or it ends
/// most of last year's classes while starting the next year's. Held with its own reason (not as "too many deletes"),
/// with the year change in plain numbers and a course-map carry-forward to review.
///
/// An export cut short also deletes many classes, but starts none and moves no session to a later year: it is never
/// taken for a rollover.
public struct Rollover: Sendable, Equatable, Codable {
    /// The school years (`schoolYear`, the year a school year ends) the sessions move from and to, when known.
    public var fromYear: Int?
    public var toYear: Int?
    /// Last year's classes the run deletes, and the new ones it adds.
    public var classesEnding: Int
    public var classesStarting: Int
    /// Users the run deletes, keeps (held and not deleted) and adds.
    public var usersLeaving: Int
    public var usersStaying: Int
    public var usersJoining: Int
    /// New courses (held form: title, code, grades|subjects) and last year's courses that end.
    public var newCourses: [RosterRecord]
    public var endingCourses: [RosterRecord]

    /// Recognises a rollover in a plan's counts and its sessions' and courses' changes; nil when it is none.
    static func detect(
        counts: [String: EntityCounts], sessionYears: (added: [Int], deleted: [Int]), newCourses: [RosterRecord],
        endingCourses: [RosterRecord]
    ) -> Rollover? {
        let classes = counts[RosterEntity.classes.rawValue] ?? EntityCounts()
        let users = counts[RosterEntity.users.rawValue] ?? EntityCounts()
        let from = sessionYears.deleted.max(), to = sessionYears.added.max()
        let yearMoves = from.flatMap { from in to.map { $0 > from } } ?? false
        // Most of last year's classes end while at least half as many new ones start.
        let classesReplaced = classes.held > 0 && classes.deletes * 2 > classes.held && classes.adds * 2 >= classes.deletes
        guard yearMoves || classesReplaced else { return nil }
        return Rollover(
            fromYear: from, toYear: to, classesEnding: classes.deletes, classesStarting: classes.adds,
            usersLeaving: users.deletes, usersStaying: max(0, users.held - users.deletes), usersJoining: users.adds,
            newCourses: newCourses, endingCourses: endingCourses)
    }

    /// The hold reason, in plain numbers.
    public var reason: String {
        let years = fromYear.map { from in toYear.map { " from \(from - 1)–\(from % 100) to \($0 - 1)–\($0 % 100)" } ?? "" } ?? ""
        func n(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : noun.hasSuffix("s") ? "es" : "s")" }
        return "school-year rollover\(years): \(n(classesEnding, "class")) ending, \(n(classesStarting, "class")) starting; "
            + "\(n(usersLeaving, "user")) leaving, \(n(usersStaying, "user")) staying, \(n(usersJoining, "user")) joining; "
            + "\(n(newCourses.count, "new course")). Review it (`sync show RUN --changes`), then `sync approve RUN --carry-forward` "
            + "to start the new courses' mappings from last year's matching ones (each awaiting the school's verification), "
            + "or plain `sync approve RUN` to map them anew"
    }

    // MARK: carry-forward

    /// Matches each new course to a mapped course of last year: by course code, then by title once normalised, then by
    /// grades and subject together; each of last year's courses is taken once, and a match is proposed only when it is
    /// the one candidate at its level. `mapped` are last year's courses with a catalog mapping (shell and held record).
    public static func carryForward(newCourses: [RosterRecord], mapped: [(course: CourseRecord, held: RosterRecord?)])
        -> [CarryForwardRecord]
    {
        var taken = Set<String>()
        var proposals: [CarryForwardRecord] = []
        let levels: [(String, (RosterRecord) -> String?, (String) -> String)] = [
            ("course code", { Self.courseCode($0) }, { "same course code `\($0)`" }),
            ("title", { Self.normalisedTitle($0.title ?? "") }, { "same title once normalised (`\($0)`)" }),
            ("grades and subject", { Self.gradesAndSubject($0) }, { value in
                let parts = value.split(separator: "|", omittingEmptySubsequences: false)
                return "same grades \(parts.first ?? "") and subject \(parts.dropFirst().first ?? "")"
            }),
        ]
        var remaining = newCourses.sorted { $0.sourcedID < $1.sourcedID }
        for (matchedOn, key, evidence) in levels {
            // Each mapped course's key worked out once per level (a title's normalising is costly), in `mapped` order;
            // a new course's candidates are those of its key not taken yet.
            var byKey: [String: [Int]] = [:]
            for (i, old) in mapped.enumerated() {
                if let value = old.held.flatMap(key) { byKey[value, default: []].append(i) }
            }
            var next: [RosterRecord] = []
            for course in remaining {
                guard let value = key(course) else { next.append(course); continue }
                // Two are enough to know it is not one.
                let found = Array((byKey[value] ?? []).lazy.map { mapped[$0] }.filter { !taken.contains($0.course.id) }.prefix(2))
                guard found.count == 1, let old = found.first, let catalog = old.course.catalogTitle, let base = old.course.baseID else {
                    next.append(course)
                    continue
                }
                taken.insert(old.course.id)
                proposals.append(CarryForwardRecord(
                    newSourcedID: course.sourcedID, newTitle: course.title ?? course.sourcedID, oldCourseID: old.course.id,
                    oldSourcedID: old.course.sourcedID, oldTitle: old.course.title, catalogTitle: catalog, baseID: base,
                    matchedOn: matchedOn, evidence: evidence(value)))
            }
            remaining = next
        }
        return proposals.sorted { $0.newSourcedID < $1.newSourcedID }
    }

    static func courseCode(_ record: RosterRecord) -> String? {
        guard let code = record.ref2?.trimmingCharacters(in: .whitespaces).uppercased(), !code.isEmpty else { return nil }
        return code
    }

    /// The title as ``CourseTitle`` normalises it (the catalog matcher's normaliser too); nil when no word is left.
    static func normalisedTitle(_ title: String) -> String? { CourseTitle.normalised(title) }

    static func gradesAndSubject(_ record: RosterRecord) -> String? {
        guard let value = record.ref3, let bar = value.firstIndex(of: "|") else { return nil }
        let grades = value[..<bar], subjects = value[value.index(after: bar)...]
        guard !grades.isEmpty, !subjects.isEmpty else { return nil }
        return value
    }
}
