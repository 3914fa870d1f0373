import Foundation

/// One class of next term offered to a teacher whose imported class ended.
public struct OfferedClassRecord: Sendable, Equatable, Codable {
    /// The next term's class (OneRoster sourcedId).
    public var classSourcedID: String
    public var title: String
    /// The imported class of the ended term it follows (same course).
    public var endedClassSourcedID: String

    /// An offered class with every field given.
    public init(classSourcedID: String, title: String, endedClassSourcedID: String) {
        self.classSourcedID = classSourcedID
        self.title = title
        self.endedClassSourcedID = endedClassSourcedID
    }
}

/// What a teacher is offered once their imported classes of a term have ended: the classes of the same courses they
/// teach next term, imported in one click. One per (integration, teacher, ended term): a teacher is told once.
public struct NextTermOfferRecord: Sendable, Equatable, Codable {
    public var integrationID: String
    public var teacherSourcedID: String
    /// The academic session that ended (sourcedId) and its title.
    public var endedTermSourcedID: String
    public var endedTerm: String
    public var classes: [OfferedClassRecord]
    /// `open`, `accepted` or `declined`.
    public var status: String
    public var createdAt: Double
    public var decidedAt: Double?
    public var decidedBy: String?

    /// An offer with every field given; open by default.
    public init(integrationID: String, teacherSourcedID: String, endedTermSourcedID: String, endedTerm: String,
                classes: [OfferedClassRecord], status: String = "open", createdAt: Double, decidedAt: Double? = nil,
                decidedBy: String? = nil) {
        self.integrationID = integrationID
        self.teacherSourcedID = teacherSourcedID
        self.endedTermSourcedID = endedTermSourcedID
        self.endedTerm = endedTerm
        self.classes = classes
        self.status = status
        self.createdAt = createdAt
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
    }
}
