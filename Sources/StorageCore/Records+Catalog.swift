/// Whether a catalog course can be chosen for new mappings.
public enum CatalogStatus: String, Sendable, Codable, CaseIterable {
    /// Offered: school courses may be mapped to it.
    case active
    /// Kept for the courses already mapped to it (locked ones included), but not offered for new mappings.
    case retired
}

/// One course of the vendor's catalog: what a school course is mapped to. Its base id names the content master that
/// students' work is attached to; a new version of a course is a new catalog course with its own base id that names
/// the one it succeeds.
public struct CatalogCourseRecord: Sendable, Codable, Equatable {
    /// The vendor's base course id (unique).
    public var baseID: String
    public var title: String
    public var subject: String?
    /// Grade levels, as OneRoster writes them (`09`, `10`, `KG`, …); empty when the course is not tied to grades.
    public var grades: [String]
    public var status: CatalogStatus
    /// 1 for a first version; a successor made by `catalog version` has its predecessor's version + 1.
    public var version: Int
    /// The base id of the version this one succeeds, if any.
    public var previousBaseID: String?
    public var updatedAt: Double

    /// A record with every field given.
    public init(
        baseID: String, title: String, subject: String?, grades: [String], status: CatalogStatus, version: Int = 1,
        previousBaseID: String? = nil, updatedAt: Double
    ) {
        self.baseID = baseID
        self.title = title
        self.subject = subject
        self.grades = grades
        self.status = status
        self.version = version
        self.previousBaseID = previousBaseID
        self.updatedAt = updatedAt
    }
}
