import Foundation
import OneRoster
import StorageCore
import WorkflowEngine

/// What became of one item of a bulk action or one row of an imported course map.
public struct CourseItemOutcome: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable {
        /// The step was applied.
        case applied
        /// Nothing to do: the row says what already is.
        case unchanged
        /// The step was refused or the row was wrong; `message` says why. Nothing of this item was applied.
        case refused
    }

    /// The CSV line (imports) or the position in the list (bulk actions), from 1.
    public var line: Int
    /// The course as the item named it (id or sourcedId).
    public var course: String
    /// The course id, when the reference was found.
    public var courseID: String?
    /// What was asked: `map`, `verify`, `map+verify`, `add_content`, or `-`.
    public var action: String
    public var result: Result
    public var message: String?
}

/// A bulk action's or an import's items, each applied or refused on its own.
public struct CourseItemsResult: Sendable, Codable, Equatable {
    public var items: [CourseItemOutcome]
    public var applied: Int { items.filter { $0.result == .applied }.count }
    public var refused: Int { items.filter { $0.result == .refused }.count }

    enum CodingKeys: String, CodingKey { case items, applied, refused, unchanged }

    /// The items, with their counts written beside them.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(applied, forKey: .applied)
        try container.encode(refused, forKey: .refused)
        try container.encode(items.filter { $0.result == .unchanged }.count, forKey: .unchanged)
    }

    public init(items: [CourseItemOutcome]) { self.items = items }

    public init(from decoder: Decoder) throws {
        items = try decoder.container(keyedBy: CodingKeys.self).decode([CourseItemOutcome].self, forKey: .items)
    }
}

extension RosterFlowService {
    /// The course map sheet's columns, in order. The school or DSP fills `base_id` (a suggestion is given) and
    /// `verified` (`yes` to confirm a match); the other columns are for reading and are ignored on import.
    public static let courseMapColumns = [
        "course_id", "sourced_id", "school_course", "state", "locked", "base_id", "catalog_title", "verified", "suggested_base_id",
        "suggested_title", "suggestion_evidence",
    ]

    /// The course map of an integration as CSV a school or DSP can fill in a spreadsheet and import again.
    public func exportCourseMap(integrationID: String) throws -> String {
        let courses = try self.courses(integrationID: integrationID)
        let catalog = try read { tx in try tx.catalogCourses(includeRetired: false) }
        var lines = [Self.courseMapColumns.joined(separator: ",")]
        for course in courses.sorted(by: { ($0.title, $0.sourcedID) < ($1.title, $1.sourcedID) }) {
            let suggestion = course.baseID == nil ? CatalogMatcher.suggestions(for: course.title, in: catalog, limit: 1).first : nil
            let verified = ["verified", "content_added", "locked"].contains(course.state) ? "yes" : ""
            let fields = [
                course.id, course.sourcedID, course.title, course.state, course.locked ? "yes" : "", course.baseID ?? "",
                course.catalogTitle ?? "", verified, suggestion?.baseID ?? "", suggestion?.title ?? "",
                suggestion?.evidence.joined(separator: "; ") ?? "",
            ]
            lines.append(fields.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Reads a filled course map back: every row is checked first (the course exists in this integration, the base id
    /// is an active catalog course when a catalog is imported, a locked course keeps its base id, `verified` is yes or
    /// empty), and nothing is applied while any row is wrong unless `partial`. Each row is then applied as the steps
    /// it implies — `map` when its base id differs from the course's, `verify` when `verified` is yes and the course
    /// awaits verification — as `role`, each row on its own.
    public func importCourseMap(
        csv: String, file: String, integrationID: String, role: Role?, actor: String, partial: Bool = false,
        confirmShared: Bool = false
    ) async throws -> CourseItemsResult {
        let rows = try CourseMapCSV.parse(csv, file: file)
        let known = try courses(integrationID: integrationID)
        let catalog = try read { tx in try tx.catalogCourses(includeRetired: true) }
        var plans: [(row: CourseMapCSV.Row, course: CourseView?, action: String, problem: String?)] = []
        for row in rows {
            let reference = row.courseID.isEmpty ? row.sourcedID : row.courseID
            guard let course = known.first(where: { $0.id == row.courseID && !row.courseID.isEmpty })
                ?? known.first(where: { $0.sourcedID == row.sourcedID && !row.sourcedID.isEmpty })
            else {
                plans.append((row, nil, "-", "\(file):\(row.line): \(reference.isEmpty ? "the row names no course" : "\(integrationID) has no course \(reference)")"))
                continue
            }
            var problems: [String] = []
            let remap = !row.baseID.isEmpty && row.baseID != course.baseID
            if remap {
                if course.state == "content_added" {
                    problems.append(
                        "\(course.title) has its content in place and would lose it; re-map it with `rosterflow courses map "
                            + "\(course.sourcedID) --base-id \(row.baseID) --reason …` instead")
                } else if course.locked {
                    problems.append(
                        "\(course.title) is locked (a student started it), so its base id stays \(course.baseID ?? "-"); "
                            + "put \(course.baseID ?? "it") back or leave the cell as it was")
                } else if !catalog.isEmpty {
                    if let entry = catalog.first(where: { $0.baseID == row.baseID }) {
                        if entry.status != .active { problems.append("\(row.baseID) (\(entry.title)) is retired") }
                    } else {
                        problems.append("\(row.baseID) is not in the vendor catalog")
                    }
                } else if row.catalogTitle.isEmpty {
                    problems.append("no vendor catalog is imported, so catalog_title is needed with base_id \(row.baseID)")
                }
            }
            let verify = row.verified && ["mapped"].contains(course.state) || (row.verified && remap)
            if row.verified, row.baseID.isEmpty, course.baseID == nil {
                problems.append("verified is yes but the course has no base id to verify")
            }
            let action = [remap ? "map" : nil, verify ? "verify" : nil].compactMap { $0 }.joined(separator: "+")
            plans.append((row, course, action.isEmpty ? "-" : action,
                          problems.isEmpty ? nil : problems.map { "\(file):\(row.line): \($0)" }.joined(separator: "\n")))
        }
        let problems = plans.compactMap(\.problem)
        if !problems.isEmpty, !partial {
            throw RosterFlowError(
                .invalidInput, "nothing was applied; fix these rows and import again (or --partial to apply the good rows):\n"
                    + problems.joined(separator: "\n"))
        }
        var outcomes: [CourseItemOutcome] = []
        for plan in plans {
            let reference = plan.row.courseID.isEmpty ? plan.row.sourcedID : plan.row.courseID
            var outcome = CourseItemOutcome(
                line: plan.row.line, course: reference, courseID: plan.course?.id, action: plan.action, result: .unchanged)
            if let problem = plan.problem {
                outcome.result = .refused
                outcome.message = problem.split(separator: "\n").map { $0.split(separator: ": ", maxSplits: 1).last.map(String.init) ?? String($0) }
                    .joined(separator: "; ")
            } else if let course = plan.course, plan.action != "-" {
                var done: [String] = []
                do {
                    if plan.action.hasPrefix("map") {
                        _ = try await mapCourse(
                            id: course.id, catalogTitle: plan.row.catalogTitle.isEmpty || !catalog.isEmpty ? nil : plan.row.catalogTitle,
                            baseID: plan.row.baseID, role: role, actor: actor, confirmShared: confirmShared,
                            reason: "imported from \((file as NSString).lastPathComponent) line \(plan.row.line)")
                        done.append("map")
                    }
                    if plan.action.hasSuffix("verify") {
                        _ = try await verifyCourse(id: course.id, role: role, actor: actor)
                    }
                    outcome.result = .applied
                } catch let error as RosterFlowError {
                    outcome.result = .refused
                    outcome.message = (done.isEmpty ? "" : "the map was applied, the verify was not: ") + error.message
                }
            }
            outcomes.append(outcome)
        }
        return CourseItemsResult(items: outcomes)
    }

    /// Applies one step to each course of a list, each on its own: one refusal does not stop the others.
    public func bulkCourseStep(_ event: String, references: [String], integrationID: String?, role: Role?, actor: String) async
        -> CourseItemsResult
    {
        var outcomes: [CourseItemOutcome] = []
        for (index, reference) in references.enumerated() {
            var outcome = CourseItemOutcome(line: index + 1, course: reference, courseID: nil, action: event, result: .applied)
            do {
                let id = try courseID(for: reference, integrationID: integrationID)
                outcome.courseID = id
                _ = try await send(event, to: id, role: role, actor: actor)
            } catch let error as RosterFlowError {
                outcome.result = .refused
                outcome.message = error.message
            } catch {
                outcome.result = .refused
                outcome.message = RosterFlowError.wrap(error).message
            }
            outcomes.append(outcome)
        }
        return CourseItemsResult(items: outcomes)
    }

    /// The ids of an integration's courses in `state` (for "verify all mapped courses").
    public func courseIDs(integrationID: String, state: String) throws -> [String] {
        try courses(integrationID: integrationID).filter { $0.state == state }.map(\.id)
    }

    static func csvField(_ value: String) -> String {
        // A leading = + - @ would be read as a formula by a spreadsheet: quote it with a leading apostrophe.
        var text = value
        if let first = text.first, "=+-@".contains(first) { text = "'" + text }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Reads a filled course map sheet (see ``RosterFlowService/courseMapColumns``): `course_id` or `sourced_id` to find
/// the course, `base_id`, `catalog_title`, `verified`; other columns are ignored.
enum CourseMapCSV {
    struct Row {
        var line: Int
        var courseID: String
        var sourcedID: String
        var baseID: String
        var catalogTitle: String
        var verified: Bool
    }

    static func parse(_ text: String, file: String) throws -> [Row] {
        let (names, records) = try SheetCSV.read(
            text, file: file, emptyHint: "export the course map first: `rosterflow courses export --integration ID`")
        guard names.contains("course_id") || names.contains("sourced_id") else {
            throw RosterFlowError(
                .invalidInput, "\(file):1: the header has neither course_id nor sourced_id, so no row can be matched to a course "
                    + "(export the course map with `rosterflow courses export` and fill that sheet)")
        }
        guard names.contains("base_id") || names.contains("verified") else {
            throw RosterFlowError(.invalidInput, "\(file):1: the header has neither base_id nor verified: there is nothing to import")
        }
        var problems: [String] = []
        var rows: [Row] = []
        for record in records {
            if SheetCSV.isBlank(record) { continue }
            func value(_ column: String) -> String {
                guard let i = names.firstIndex(of: column), i < record.fields.count else { return "" }
                var text = record.fields[i].trimmingCharacters(in: .whitespaces)
                // The export's formula guard.
                if text.hasPrefix("'"), let second = text.dropFirst().first, "=+-@".contains(second) { text.removeFirst() }
                return text
            }
            let verifiedText = value("verified").lowercased()
            guard ["", "yes", "y", "true", "x", "no", "n", "false"].contains(verifiedText) else {
                problems.append("\(file):\(record.line): verified is '\(value("verified"))'; write yes, or leave it empty")
                continue
            }
            rows.append(Row(
                line: record.line, courseID: value("course_id"), sourcedID: value("sourced_id"), baseID: value("base_id"),
                catalogTitle: value("catalog_title"), verified: ["yes", "y", "true", "x"].contains(verifiedText)))
        }
        guard problems.isEmpty else {
            throw RosterFlowError(.invalidInput, "nothing was applied; fix these rows and import again:\n" + problems.joined(separator: "\n"))
        }
        return rows
    }
}
