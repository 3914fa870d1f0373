import Foundation

/// A delete the operator parked: the record is still held, and later exports omitting it do not delete it.
public struct ParkedDeleteRecord: Sendable, Equatable, Codable {
    public var integrationID: String
    /// The `RosterEntity` raw value.
    public var entity: String
    public var sourcedID: String
    /// The run approved without its deletes.
    public var runID: String
    public var actor: String
    public var at: Double

    /// A record with every field given.
    public init(integrationID: String, entity: String, sourcedID: String, runID: String, actor: String, at: Double) {
        self.integrationID = integrationID
        self.entity = entity
        self.sourcedID = sourcedID
        self.runID = runID
        self.actor = actor
        self.at = at
    }
}

/// A record of the roster as RosterFlow holds it for one integration: enough to diff the next sync against.
///
/// `digest` fingerprints every field of the record; `ref1`–`ref3` keep the fields the safeguards need (an
/// enrollment's class and user, a class's course, a user's username, e-mail and identifier).
public struct RosterRecord: Sendable, Equatable, Codable {
    public var entity: String
    public var sourcedID: String
    public var digest: Int64
    public var ref1: String?
    public var ref2: String?
    public var ref3: String?
    public var title: String?
    /// The record's field digest vector (2 bytes a field; see RosterFlowCore's `FieldDigests`); nil for records held
    /// before field digests were kept, and for demographics.
    public var fields: Data?
    /// Details on-demand rostering reads and the diff does not: an academic session's `startDate|endDate`, a user's
    /// `enabledUser` (`true` or `false`). Nil for other entities, and for records held before they were kept (a
    /// session without dates, a user counted as enabled).
    public var ref4: String?

    /// A record with every field given; `entity` is a `RosterEntity` raw value.
    public init(entity: String, sourcedID: String, digest: Int64, ref1: String? = nil, ref2: String? = nil,
                ref3: String? = nil, title: String? = nil, fields: Data? = nil, ref4: String? = nil) {
        self.fields = fields
        self.ref4 = ref4
        self.entity = entity
        self.sourcedID = sourcedID
        self.digest = digest
        self.ref1 = ref1
        self.ref2 = ref2
        self.ref3 = ref3
        self.title = title
    }
}

/// One change of a sync's change set.
public struct RosterChange: Sendable, Equatable, Codable {
    /// What a change does to the held record.
    public enum Operation: String, Sendable, Codable {
        case add, update, delete
    }

    // Declared in this order so that the small fields share the first word (a first sync holds millions of changes).
    public var operation: Operation
    /// A delete held back by `sync approve --without-deletes`.
    public var parked: Bool
    private var changedFieldsKnown: Bool
    private var changedFieldBits: UInt32
    public var record: RosterRecord

    /// For an update: which fields it changes, bit `i` for field `i` of the entity's field digest vector (see
    /// RosterFlowCore's `FieldDigests`); nil when unknown (the held record has no field digests).
    public var changedFieldMask: UInt32? {
        get { changedFieldsKnown ? changedFieldBits : nil }
        set {
            changedFieldsKnown = newValue != nil
            changedFieldBits = newValue ?? 0
        }
    }

    /// A change with every field given; by default not parked.
    public init(operation: Operation, record: RosterRecord, parked: Bool = false, changedFieldMask: UInt32? = nil) {
        changedFieldsKnown = changedFieldMask != nil
        changedFieldBits = changedFieldMask ?? 0
        self.operation = operation
        self.record = record
        self.parked = parked
    }

    /// The change that deletes a held record, as a sync's plan makes it: without the record's field digests, which a
    /// delete never uses.
    public static func deleting(_ record: RosterRecord) -> RosterChange {
        var record = record
        record.fields = nil
        return RosterChange(operation: .delete, record: record)
    }
}

/// A sync run as stored.
public struct SyncRunRecord: Sendable, Equatable, Codable {
    public var id: String
    public var integrationID: String
    public var bundle: String
    public var startedAt: Double
    public var finishedAt: Double?
    public var decision: SyncDecision
    /// Plain-words reasons for the decision (JSON array).
    public var reasons: String
    /// Adds/updates/deletes per entity (JSON).
    public var counts: String
    /// The validation report (JSON).
    public var report: String
    /// The last applied run when this one was computed (a held run can only be approved on the same base).
    public var basedOnRun: String?
    /// SHA-256 of the bundle's bytes (hex), when it could be read.
    public var bundleSHA256: String?
    /// The sync policy the run was planned with (JSON).
    public var policy: String?
    /// The version of the integration's held roster the run was planned on (nil for runs recorded before versions).
    public var baseRosterVersion: Int?

    /// A run with every field given; `reasons`, `counts`, `report` and `policy` are JSON text.
    public init(id: String, integrationID: String, bundle: String, startedAt: Double, finishedAt: Double?, decision: SyncDecision,
                reasons: String, counts: String, report: String, basedOnRun: String?, bundleSHA256: String? = nil,
                policy: String? = nil, baseRosterVersion: Int? = nil) {
        self.baseRosterVersion = baseRosterVersion
        self.bundleSHA256 = bundleSHA256
        self.policy = policy
        self.id = id
        self.integrationID = integrationID
        self.bundle = bundle
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.decision = decision
        self.reasons = reasons
        self.counts = counts
        self.report = report
        self.basedOnRun = basedOnRun
    }
}

/// One applied change in a record's story.
public struct RosterHistoryEntry: Sendable, Equatable, Codable {
    public var integrationID: String
    public var entity: String
    public var sourcedID: String
    public var runID: String
    /// `add`, `update`, `delete`, or for an applied merge `merged-into` (on the old id) and `merged-from` (on the new).
    public var operation: String
    public var title: String?
    public var at: Double
    /// For a merge: the other sourcedId.
    public var mergedWith: String? = nil

    /// An entry with every field given; `mergedWith` only for a merge.
    public init(integrationID: String, entity: String, sourcedID: String, runID: String, operation: String, title: String?,
                at: Double, mergedWith: String? = nil) {
        self.integrationID = integrationID
        self.entity = entity
        self.sourcedID = sourcedID
        self.runID = runID
        self.operation = operation
        self.title = title
        self.at = at
        self.mergedWith = mergedWith
    }
}

/// An integration whose nightly sync is due.
public struct DueSync: Sendable, Equatable {
    public var integrationID: String
    public var syncTime: String
    public var timezone: String
    public var dueAt: Double
    /// The folder or .zip the nightly bundle is read from; nil when none is configured.
    public var source: String?

    /// A record with every field given.
    public init(integrationID: String, syncTime: String, timezone: String, dueAt: Double, source: String?) {
        self.integrationID = integrationID
        self.syncTime = syncTime
        self.timezone = timezone
        self.dueAt = dueAt
        self.source = source
    }
}
