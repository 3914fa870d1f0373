import Foundation

/// A new course of a school-year rollover matched to a mapped course of the previous year, whose catalog course and
/// base id it would start from (`sync approve RUN --carry-forward`).
public struct CarryForwardRecord: Sendable, Equatable, Codable {
    /// The new course's sourcedId and title.
    public var newSourcedID: String
    public var newTitle: String
    /// Last year's course (its shell id, sourcedId, title) and its mapping.
    public var oldCourseID: String
    public var oldSourcedID: String
    public var oldTitle: String
    public var catalogTitle: String
    public var baseID: String
    /// `course code`, `title` or `grades and subject`.
    public var matchedOn: String
    /// What matched, in plain words.
    public var evidence: String

    public init(newSourcedID: String, newTitle: String, oldCourseID: String, oldSourcedID: String, oldTitle: String,
                catalogTitle: String, baseID: String, matchedOn: String, evidence: String) {
        self.newSourcedID = newSourcedID
        self.newTitle = newTitle
        self.oldCourseID = oldCourseID
        self.oldSourcedID = oldSourcedID
        self.oldTitle = oldTitle
        self.catalogTitle = catalogTitle
        self.baseID = baseID
        self.matchedOn = matchedOn
        self.evidence = evidence
    }
}

extension CarryForwardRecord {
    /// The match in one line, as the CLI and the dashboard list it:
    /// `crs-2027-1 Algebra I ← crs-1 Algebra I: Algebra I (2026) [ALG1-26] (same course code `MATH-100`)`.
    public var summary: String {
        "\(newSourcedID) \(newTitle) ← \(oldSourcedID) \(oldTitle): \(catalogTitle) [\(baseID)] (\(evidence))"
    }
}
