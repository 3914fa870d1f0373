import Foundation

/// A record the SIS re-keyed: it disappears under `oldID` while a record with the same username, e-mail or
/// identifier (users), or the same class and role of a merged user (enrollments), appears under `newID`.
public struct SourcedIDMerge: Sendable, Equatable, Codable {
    /// The `RosterEntity` raw value (`users` or `enrollments`).
    public var entity: String
    public var oldID: String
    public var newID: String
    /// What the two records share: `username`, `e-mail`, `identifier`, or `class and role` for an enrollment.
    public var matchedOn: String
    /// The shared value.
    public var value: String
    /// `proposed` until the run is decided, then `merged`, `declined` (approved with --no-merge) or `dropped` (rejected).
    public var status: String

    /// A merge with every field given; a new one is `proposed`.
    public init(entity: String, oldID: String, newID: String, matchedOn: String, value: String, status: String = "proposed") {
        self.entity = entity
        self.oldID = oldID
        self.newID = newID
        self.matchedOn = matchedOn
        self.value = value
        self.status = status
    }
}

/// An applied merge: the old sourcedId now names the record held under the new one.
public struct RosterAlias: Sendable, Equatable, Codable {
    public var integrationID: String
    public var entity: String
    public var oldID: String
    public var newID: String
    public var runID: String
    public var actor: String
    public var at: Double

    /// A record with every field given.
    public init(integrationID: String, entity: String, oldID: String, newID: String, runID: String, actor: String, at: Double) {
        self.integrationID = integrationID
        self.entity = entity
        self.oldID = oldID
        self.newID = newID
        self.runID = runID
        self.actor = actor
        self.at = at
    }
}
