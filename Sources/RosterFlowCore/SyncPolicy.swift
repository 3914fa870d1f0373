import Foundation
import OneRoster
import StorageCore

/// How a sync treats what a bulk file omits, and when it holds a run for review instead of applying it.
public struct SyncPolicy: Sendable, Equatable, Codable {
    /// Entities whose records are deleted when a bulk file omits them (by `RosterEntity` raw value).
    public var implicitDeletes: Set<String>
    /// Hold the run when a bulk file would delete more than this share of the held users, classes or enrollments.
    public var maxDeleteShare: Double
    /// Hold the run when it would update more than this share of the held records of an entity.
    public var maxUpdateShare: Double
    /// Reading tolerances (``IssueCode/tolerances`` raw values) this integration treats as errors: a row with such a
    /// fault is quarantined instead of loaded with a warning. Empty by default (every tolerance applies).
    public var strict: Set<String> = []

    /// A policy; by default omitted records of every entity are deleted, and a run is held when it would delete more
    /// than 10% of the held users, classes or enrollments, or update more than 75% of an entity's held records.
    public init(implicitDeletes: Set<String> = Set(RosterEntity.allCases.map(\.rawValue)), maxDeleteShare: Double = 0.10,
                maxUpdateShare: Double = 0.75) {
        self.implicitDeletes = implicitDeletes
        self.maxDeleteShare = maxDeleteShare
        self.maxUpdateShare = maxUpdateShare
    }
}

extension SyncPolicy {
    private enum CodingKeys: String, CodingKey {
        case implicitDeletes, maxDeleteShare, maxUpdateShare, strict
    }

    /// Written with the entity names and strict codes sorted, so that one policy always has one text; `strict` only
    /// when some tolerance is strict (policies stored before it existed keep their text).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(implicitDeletes.sorted(), forKey: .implicitDeletes)
        try container.encode(maxDeleteShare, forKey: .maxDeleteShare)
        try container.encode(maxUpdateShare, forKey: .maxUpdateShare)
        if !strict.isEmpty { try container.encode(strict.sorted(), forKey: .strict) }
    }

    /// Reads a stored policy; one stored before `strict` existed has no strict tolerance.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        implicitDeletes = try c.decode(Set<String>.self, forKey: .implicitDeletes)
        maxDeleteShare = try c.decode(Double.self, forKey: .maxDeleteShare)
        maxUpdateShare = try c.decode(Double.self, forKey: .maxUpdateShare)
        strict = try c.decodeIfPresent(Set<String>.self, forKey: .strict) ?? []
    }

    /// The reading tolerances this policy applies, for the roster source.
    public var readingTolerance: ReadingTolerance {
        ReadingTolerance(strict: Set(strict.compactMap(IssueCode.init(rawValue:))))
    }

    /// Refuses shares outside 0…1 and entity names RosterFlow does not hold, with a message that says what is allowed.
    public func validate() throws {
        for (name, share) in [("max delete share", maxDeleteShare), ("max update share", maxUpdateShare)]
        where !(0...1).contains(share) {
            throw RosterFlowError(.invalidInput, "the \(name) is a fraction from 0 to 1 (0.10 = 10%), not \(share)")
        }
        let tolerances = Set(IssueCode.tolerances.map(\.rawValue))
        guard strict.isSubset(of: tolerances) else {
            throw RosterFlowError(
                .invalidInput, "--strict takes the reading tolerances " + IssueCode.tolerances.map(\.rawValue).joined(separator: ", ")
                    + "; got " + strict.subtracting(tolerances).sorted().joined(separator: ", "))
        }
        let known = Set(RosterEntity.allCases.map(\.rawValue))
        guard implicitDeletes.isSubset(of: known) else {
            throw RosterFlowError(
                .invalidInput, "implicit deletes take \(known.sorted().joined(separator: ", ")); got "
                    + implicitDeletes.subtracting(known).sorted().joined(separator: ", "))
        }
    }
}

/// The entities RosterFlow holds from a sync, in the order changes apply (parents before children).
///
/// Demographics are held as a fingerprint only (no birth dates or race flags are stored): enough to tell a change,
/// and to apply bulk and delta semantics to demographics.csv like any other file.
public enum RosterEntity: String, Sendable, Codable, CaseIterable {
    case orgs, academicSessions, courses, classes, users, enrollments, demographics

    /// The OneRoster entity held as this one: the one mapping between the two enums (the file follows from it).
    public var oneRoster: OneRosterEntity {
        switch self {
        case .orgs: .org
        case .academicSessions: .academicSession
        case .courses: .course
        case .classes: .rosterClass
        case .users: .user
        case .enrollments: .enrollment
        case .demographics: .demographics
        }
    }

    /// The entity a OneRoster entity is held as; nil for those RosterFlow does not hold (roles, user profiles).
    public init?(_ entity: OneRosterEntity) {
        guard let held = Self.allCases.first(where: { $0.oneRoster == entity }) else { return nil }
        self = held
    }

    /// The CSV file the entity is read from.
    var file: OneRosterFile { oneRoster.file }

    /// Entities whose mass deletion trips the delete-share safeguard.
    static let guardedForDeletes: [RosterEntity] = [.users, .classes, .enrollments]
}

/// Adds, updates and deletes of one entity.
public struct EntityCounts: Sendable, Equatable, Codable {
    public var held = 0
    public var incoming = 0
    public var adds = 0
    public var updates = 0
    /// Deletes applied (or, for a held run, proposed); parked deletes are not among them.
    public var deletes = 0
    public var unchanged = 0
    /// Deletes kept back: parked by `sync approve --without-deletes`, or omitted again from a later bulk file while the
    /// operator's parking of them stands (see ``ParkedDeletes``). The records are still held.
    public var parked = 0

    /// All zero.
    public init() {}

    /// Reads counts stored before `parked` existed as having none parked.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        held = try c.decodeIfPresent(Int.self, forKey: .held) ?? 0
        incoming = try c.decodeIfPresent(Int.self, forKey: .incoming) ?? 0
        adds = try c.decodeIfPresent(Int.self, forKey: .adds) ?? 0
        updates = try c.decodeIfPresent(Int.self, forKey: .updates) ?? 0
        deletes = try c.decodeIfPresent(Int.self, forKey: .deletes) ?? 0
        unchanged = try c.decodeIfPresent(Int.self, forKey: .unchanged) ?? 0
        parked = try c.decodeIfPresent(Int.self, forKey: .parked) ?? 0
    }
}

extension RosterEntity {
    /// Position in ``allCases`` (array-indexed per-entity state instead of hashing).
    var index: Int {
        switch self {
        case .orgs: 0
        case .academicSessions: 1
        case .courses: 2
        case .classes: 3
        case .users: 4
        case .enrollments: 5
        case .demographics: 6
        }
    }
}
