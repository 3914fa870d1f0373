import Foundation
import RosterFlowCore

/// `sync show RUN --changes` as text and CSV.
enum ReviewText {
    /// The CSV columns, in order.
    static let columns = [
        "op", "entity", "sourced_id", "name", "username", "email", "identifier", "type", "role", "parent_id", "org_id",
        "school_id", "course_id", "course_title", "class_id", "class_title", "user_id", "user_name", "changed_fields",
        "parked", "merge_into", "merge_into_name", "matched_on", "matched_value", "merge_status",
    ]

    /// The items as RFC 4180 CSV: a header row, then one row per item, CRLF line ends, fields quoted when they hold a
    /// comma, a quote or a line break (quotes doubled). An update's changed fields are separated by `;`.
    static func csv(_ items: [SyncChangeItem]) -> String {
        var out = columns.map(field).joined(separator: ",") + "\r\n"
        for item in items {
            let changed: String = item.op == "update" ? (item.changedFields?.joined(separator: ";") ?? item.changedFieldsNote ?? "") : ""
            let values: [String?] = [
                item.op, item.entity, item.sourcedId, item.name, item.username, item.email, item.identifier, item.type, item.role,
                item.parentId, item.orgId, item.schoolId, item.courseId, item.courseTitle, item.classId, item.classTitle,
                item.userId, item.userName, changed, item.parked ? "true" : "false", item.mergeInto, item.mergeIntoName,
                item.matchedOn, item.matchedValue, item.mergeStatus,
            ]
            out += values.map { field($0 ?? "") }.joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Which changes the page shows, of how many, and how to get the next page.
    static func paging(_ page: SyncChangePage) -> String {
        let filter = [page.entity, page.op].compactMap { $0 }.joined(separator: ", ")
        let noun = page.op == "merge" ? "merge" : "change"
        var line = "\(page.total) \(noun)\(page.total == 1 ? "" : "s")" + (filter.isEmpty ? "" : " (\(filter))")
        if page.items.isEmpty {
            line += page.total > 0 ? "; none at offset \(page.offset)" : ""
        } else {
            line += "; showing \(page.offset + 1)–\(page.offset + page.items.count)"
        }
        if let next = page.next { line += "; next page: `\(next)`" }
        return line
    }

    /// A page as text: a header, one line per change, and what to do next.
    static func page(_ page: SyncChangePage) -> String {
        var lines = ["sync \(page.runId) of \(page.integrationId): \(page.decision.uppercased()) — " + paging(page)]
        for item in page.items { lines.append("  " + line(item)) }
        if let note = page.note { lines.append("  note: \(note)") }
        if page.decision == "held" {
            lines.append("  decide: `rosterflow sync approve \(page.runId)` or `rosterflow sync reject \(page.runId)`")
        }
        return lines.joined(separator: "\n")
    }

    /// One change: what happens to which record, who or what it is, and what changes.
    static func line(_ item: SyncChangeItem) -> String {
        var text = item.op.padding(toLength: 7, withPad: " ", startingAt: 0) + " "
            + item.entity.padding(toLength: 12, withPad: " ", startingAt: 0) + " " + item.sourcedId
        var details: [String] = []
        if item.op == "merge" {
            text += " → \(item.mergeInto ?? "?")"
            if let name = item.name ?? item.mergeIntoName { details.append(name) }
            if let on = item.matchedOn { details.append("same \(on): \(item.matchedValue ?? "")") }
            if let status = item.mergeStatus { details.append(status) }
            return text + "  " + details.joined(separator: "; ")
        }
        switch item.entity {
        case "enrollments":
            let user = item.userName.map { "\($0) (\(item.userId ?? "?"))" } ?? item.userId ?? "?"
            let cls = item.classTitle.map { "\($0) (\(item.classId ?? "?"))" } ?? item.classId ?? "?"
            details.append("\(user) in \(cls) as \(item.role ?? "?")")
        case "users":
            if let name = item.name { details.append(name) }
            if let username = item.username { details.append("username \(username)") }
            if let email = item.email { details.append("e-mail \(email)") }
            if let identifier = item.identifier { details.append("identifier \(identifier)") }
        case "classes":
            if let name = item.name { details.append(name) }
            if let course = item.courseId { details.append("course " + (item.courseTitle.map { "\($0) (\(course))" } ?? course)) }
        case "demographics":
            details.append("of " + (item.userName.map { "\($0) (\(item.sourcedId))" } ?? item.sourcedId))
        default:
            if let name = item.name { details.append(name) }
            if let type = item.type { details.append(type) }
        }
        if item.op == "update" {
            details.append("fields changed: " + (item.changedFields?.joined(separator: ", ") ?? item.changedFieldsNote ?? "unknown"))
        }
        if item.parked { details.append("parked (not applied)") }
        return text + (details.isEmpty ? "" : "  " + details.joined(separator: "; "))
    }
}
