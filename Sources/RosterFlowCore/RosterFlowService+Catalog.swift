import Foundation
import StorageCore
import WorkflowEngine

/// A catalog course as shown to people: the record, and how many school courses use it.
public struct CatalogCourseView: Sendable, Codable, Equatable {
    public var baseID: String
    public var title: String
    public var subject: String?
    public var grades: [String]
    public var status: String
    public var version: Int
    public var previousBaseID: String?
    /// School courses mapped to it, in every district.
    public var mappedCourses: Int
    /// Of those, the ones a student has started.
    public var lockedCourses: Int
    /// The newer versions that succeed it, oldest first (in `catalog show`).
    public var successors: [String]?
}

/// What a catalog import did.
public struct CatalogImportResult: Sendable, Codable, Equatable {
    public var added: Int
    public var updated: Int
    public var unchanged: Int
    /// Things worth knowing that did not stop the import (a retired course still mapped by unlocked courses).
    public var warnings: [String]?
}

extension RosterFlowService {
    // MARK: The vendor catalog

    /// Imports catalog courses from CSV text (see `CatalogCSV` for the columns): all rows or none. Courses not in the
    /// file are kept. Each course added or changed is recorded in the audit log.
    public func importCatalog(csv: String, file: String, actor: String) async throws -> CatalogImportResult {
        let known = try read { tx in Set(try tx.catalogCourses(includeRetired: true).map(\.baseID)) }
        let rows = try CatalogCSV.parse(csv, file: file, known: { known.contains($0) })
        return try await write { tx, now in
            var result = CatalogImportResult(added: 0, updated: 0, unchanged: 0)
            var warnings: [String] = []
            for row in rows {
                let record = CatalogCourseRecord(
                    baseID: row.baseID, title: row.title, subject: row.subject, grades: row.grades, status: row.status,
                    version: row.version, previousBaseID: row.previousBaseID, updatedAt: now)
                let before = try tx.catalogCourse(baseID: row.baseID)
                if var unchanged = before {
                    unchanged.updatedAt = now
                    if unchanged == record {
                        result.unchanged += 1
                        continue
                    }
                }
                if row.status == .retired, before?.status != .retired {
                    let counts = try tx.mappingCounts(baseID: row.baseID)
                    if counts.mapped > counts.locked {
                        warnings.append(
                            "\(file):\(row.line): \(row.baseID) is retired but \(counts.mapped - counts.locked) school course(s) "
                                + "not yet started are still mapped to it; they keep it until someone maps them again")
                    }
                }
                try tx.upsertCatalogCourse(record)
                if before == nil { result.added += 1 } else { result.updated += 1 }
                try tx.insertAudit(AuditRecord(
                    at: now, actor: actor, action: "catalog.import", integrationID: nil, subject: row.baseID,
                    before: try before.map(Self.auditJSON), after: try Self.auditJSON(record)))
            }
            result.warnings = warnings.isEmpty ? nil : warnings
            return result
        }
    }

    /// The catalog: active courses, or every course with `includeRetired`.
    public func catalog(includeRetired: Bool = false) throws -> [CatalogCourseView] {
        try read { tx in
            try tx.catalogCourses(includeRetired: includeRetired).map { try Self.catalogView($0, tx: tx, withSuccessors: false) }
        }
    }

    /// One catalog course with its usage and its successors.
    public func catalogCourse(baseID: String) throws -> CatalogCourseView {
        try read { tx in
            guard let course = try tx.catalogCourse(baseID: baseID) else {
                throw RosterFlowError(.notFound, "there is no catalog course \(baseID); `rosterflow catalog list --all` shows them")
            }
            return try Self.catalogView(course, tx: tx, withSuccessors: true)
        }
    }

    /// Makes the next version of a catalog course: a new catalog course (base id `newBaseID`, or the old one with
    /// `-vN` for version N) that names the one it succeeds, with the old title unless `title` is given. This is how a
    /// locked course gets new content: its students keep the old version; courses mapped from now on take the new one.
    /// With `retirePrevious`, the old version is no longer offered for new mappings.
    public func newCatalogVersion(
        of baseID: String, newBaseID: String? = nil, title: String? = nil, retirePrevious: Bool = false, actor: String
    ) async throws -> CatalogCourseView {
        let title = title?.trimmingCharacters(in: .whitespaces)
        if let title, title.isEmpty { throw RosterFlowError(.invalidInput, "the new version's title is empty") }
        let newBaseID = newBaseID?.trimmingCharacters(in: .whitespaces)
        if let newBaseID, newBaseID.isEmpty { throw RosterFlowError(.invalidInput, "the new version's base id is empty") }
        let created = try await write { tx, now -> String in
            guard var old = try tx.catalogCourse(baseID: baseID) else {
                throw RosterFlowError(.notFound, "there is no catalog course \(baseID); `rosterflow catalog list --all` shows them")
            }
            let all = try tx.catalogCourses(includeRetired: true)
            if let newer = all.first(where: { $0.previousBaseID == baseID }) {
                throw RosterFlowError(
                    .conflict, "\(baseID) already has a newer version, \(newer.baseID) (version \(newer.version)); make the next "
                        + "version from that one: `rosterflow catalog version \(newer.baseID)`")
            }
            let version = old.version + 1
            let root = Self.versionRoot(old.baseID)
            let id = newBaseID ?? "\(root)-v\(version)"
            if try tx.catalogCourse(baseID: id) != nil {
                throw RosterFlowError(.conflict, "the catalog already has a course \(id); give the new version's base id with --base-id")
            }
            let record = CatalogCourseRecord(
                baseID: id, title: title ?? old.title, subject: old.subject, grades: old.grades, status: .active, version: version,
                previousBaseID: old.baseID, updatedAt: now)
            try tx.upsertCatalogCourse(record)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "catalog.version", integrationID: nil, subject: id, before: nil,
                after: try Self.auditJSON(record)))
            if retirePrevious, old.status != .retired {
                let before = old
                old.status = .retired
                old.updatedAt = now
                try tx.upsertCatalogCourse(old)
                try tx.insertAudit(AuditRecord(
                    at: now, actor: actor, action: "catalog.retire", integrationID: nil, subject: old.baseID,
                    before: try Self.auditJSON(before), after: try Self.auditJSON(old)))
            }
            return id
        }
        return try catalogCourse(baseID: created)
    }

    /// Catalog courses for a school course, best first, with the evidence for each.
    public func catalogSuggestions(courseID: String, limit: Int = 5) throws -> [CatalogSuggestion] {
        try read { tx in
            guard let course = try tx.course(id: courseID) else {
                throw RosterFlowError(.notFound, "there is no course \(courseID); `rosterflow courses list --integration ID` shows them")
            }
            return CatalogMatcher.suggestions(for: course.title, in: try tx.catalogCourses(includeRetired: false), limit: limit)
        }
    }

    /// A base id without a trailing `-vN` (the stem new versions are named from).
    static func versionRoot(_ baseID: String) -> String {
        guard let dash = baseID.range(of: "-v", options: .backwards),
              !baseID[dash.upperBound...].isEmpty, baseID[dash.upperBound...].allSatisfy(\.isNumber)
        else { return baseID }
        return String(baseID[..<dash.lowerBound])
    }

    static func catalogView(_ course: CatalogCourseRecord, tx: any StoreTransaction, withSuccessors: Bool) throws -> CatalogCourseView {
        let counts = try tx.mappingCounts(baseID: course.baseID)
        var successors: [String]?
        if withSuccessors {
            var chain: [String] = []
            var current = course.baseID
            let all = try tx.catalogCourses(includeRetired: true)
            while let next = all.first(where: { $0.previousBaseID == current }), !chain.contains(next.baseID) {
                chain.append(next.baseID)
                current = next.baseID
            }
            successors = chain
        }
        return CatalogCourseView(
            baseID: course.baseID, title: course.title, subject: course.subject, grades: course.grades, status: course.status.rawValue,
            version: course.version, previousBaseID: course.previousBaseID, mappedCourses: counts.mapped, lockedCourses: counts.locked,
            successors: successors)
    }

    static func auditJSON(_ course: CatalogCourseRecord) throws -> String {
        var values: [(String, String)] = [
            ("title", course.title), ("status", course.status.rawValue), ("version", String(course.version)),
        ]
        if let subject = course.subject { values.append(("subject", subject)) }
        if !course.grades.isEmpty { values.append(("grades", course.grades.joined(separator: ","))) }
        if let previous = course.previousBaseID { values.append(("previous_base_id", previous)) }
        return JSONText.object(values)
    }
}
