import Foundation
import OneRoster
import StorageCore

/// The diff of a bundle against the held roster, built while the bundle streams by: it keeps the adds and updates
/// (not the unchanged records), which held records were not seen (for implicit deletes) and each incoming class's
/// course.
///
/// Each held digest is removed from `unseen` when its record streams by, so one lookup both compares the record and
/// marks it seen; what is left at the end is what the bundle omitted.
public struct SyncDiff: Sendable {
    /// Held digests (by sourcedId) not seen yet, per entity (by ``RosterEntity/index``).
    private var unseen: [[String: Int64]]
    /// Held sourcedIds not seen, in bytewise order, for entities diffed by merging with the held digests in order
    /// (``setUnseenHeld(_:_:)`` with a list): no dictionary of the millions a rollover leaves unseen is built.
    private var unseenInOrder: [[String]?]
    /// The held records not seen, encoded as the changes that delete them in bytewise sourcedId order, when the
    /// merge kept them so (see ``setUnseenHeld(_:encodedDeletes:)`` and ``takeUnseenDeletes(_:)``).
    private var unseenDeletes: [EncodedChanges?]
    private var heldCounts: [Int]
    /// Updates, and the adds of entities nothing was held of (a first sync's, applied at once).
    private var changesByEntity: [[RosterChange]]
    /// The adds of entities some records were held of, encoded as they come (see ``EncodedChanges``): a later sync may
    /// be held, and a rollover's review adds millions.
    private var encodedAdds: [EncodedChanges?]
    private var explicitByEntity: [Set<String>]
    private var countsByEntity: [EntityCounts]
    public private(set) var incomingClassCourse: [String: String] = [:]

    /// A diff against the held digests, by sourcedId, of each entity (named by its `RosterEntity` raw value; other
    /// names are ignored).
    public init(heldDigests: [String: [String: Int64]]) {
        var unseen = [[String: Int64]](repeating: [:], count: RosterEntity.allCases.count)
        var heldCounts = [Int](repeating: 0, count: RosterEntity.allCases.count)
        for (name, digests) in heldDigests {
            guard let entity = RosterEntity(rawValue: name) else { continue }
            unseen[entity.index] = digests
            heldCounts[entity.index] = digests.count
        }
        self.unseen = unseen
        unseenInOrder = Array(repeating: nil, count: RosterEntity.allCases.count)
        unseenDeletes = Array(repeating: nil, count: RosterEntity.allCases.count)
        self.heldCounts = heldCounts
        changesByEntity = Array(repeating: [], count: RosterEntity.allCases.count)
        encodedAdds = Array(repeating: nil, count: RosterEntity.allCases.count)
        explicitByEntity = Array(repeating: [], count: RosterEntity.allCases.count)
        countsByEntity = Array(repeating: EntityCounts(), count: RosterEntity.allCases.count)
    }

    /// A diff whose held digests are not loaded up front: each record's held digest is looked up as it streams by
    /// (``observe(_:held:)``), and the held records it never met are handed in at the end (``setUnseenHeld(_:_:)``).
    init(heldCounts counts: [String: Int]) {
        self.init(heldDigests: [:])
        for (name, count) in counts {
            if let entity = RosterEntity(rawValue: name) { heldCounts[entity.index] = count }
        }
    }

    /// The held records of `entity` that the stream did not carry as active rows (after ``observe(_:held:)``).
    mutating func setUnseenHeld(_ entity: RosterEntity, _ held: [String: Int64]) {
        unseen[entity.index] = held
        unseenInOrder[entity.index] = nil
        unseenDeletes[entity.index] = nil
    }

    /// The held records of `entity` the stream did not carry, in strictly ascending bytewise order of their sourcedIds
    /// (SQLite's order of the key, as the held digests are merged).
    mutating func setUnseenHeld(_ entity: RosterEntity, _ held: [(String, Int64)]) {
        unseen[entity.index] = [:]
        unseenInOrder[entity.index] = held.map(\.0)
        unseenDeletes[entity.index] = nil
    }

    /// The held records of `entity` the stream did not carry, as the changes that delete them, in strictly ascending
    /// bytewise order of their sourcedIds (as the merge passed them over).
    mutating func setUnseenHeld(_ entity: RosterEntity, encodedDeletes: EncodedChanges) {
        var deletes = encodedDeletes
        deletes.finish()
        unseen[entity.index] = [:]
        unseenInOrder[entity.index] = nil
        unseenDeletes[entity.index] = deletes
    }

    /// Takes out (no copy) the deletes of ``unseenHeld(_:)``'s records, one for each in the same order, when the diff
    /// kept them; nil when it did not (the planner then reads the records). ``unseenHeld(_:)`` is empty after.
    mutating func takeUnseenDeletes(_ entity: RosterEntity) -> EncodedChanges? {
        var taken: EncodedChanges?
        swap(&taken, &unseenDeletes[entity.index])
        return taken
    }

    /// Whether the held records `entity`'s bulk file omitted are kept as their deletes (``takeUnseenDeletes(_:)``).
    func keepsUnseenDeletes(_ entity: RosterEntity) -> Bool { unseenDeletes[entity.index] != nil }

    /// How many records of `entity` the integration held before this sync.
    public func heldCount(_ entity: RosterEntity) -> Int { heldCounts[entity.index] }

    /// Held records of `entity` that the bundle did not carry (as active rows): in bytewise sourcedId order when the
    /// diff merged the held digests in order (``unseenHeldInOrder(_:)``), else in no particular order.
    public func unseenHeld(_ entity: RosterEntity) -> [String] {
        if let deletes = unseenDeletes[entity.index] {
            var ids: [String] = []
            ids.reserveCapacity(deletes.count)
            deletes.forEach { ids.append($0.record.sourcedID) }
            return ids
        }
        return unseenInOrder[entity.index] ?? Array(unseen[entity.index].keys)
    }

    /// Whether ``unseenHeld(_:)`` lists `entity`'s records in bytewise sourcedId order.
    func unseenHeldInOrder(_ entity: RosterEntity) -> Bool {
        unseenInOrder[entity.index] != nil || unseenDeletes[entity.index] != nil
    }

    /// Adds and updates of `entity`: in stream order, the updates first when the adds are kept encoded.
    public func changes(_ entity: RosterEntity) -> [RosterChange] {
        changesByEntity[entity.index] + (encodedAdds[entity.index]?.changes ?? [])
    }

    /// Takes the updates of `entity` (and its adds, when they are not kept encoded) out of the diff (no copy).
    mutating func takeChanges(_ entity: RosterEntity) -> [RosterChange] {
        var taken: [RosterChange] = []
        swap(&taken, &changesByEntity[entity.index])
        return taken
    }

    /// Takes the encoded adds of `entity` out of the diff (no copy), if its adds were kept encoded.
    mutating func takeEncodedAdds(_ entity: RosterEntity) -> EncodedChanges? {
        var taken: EncodedChanges?
        swap(&taken, &encodedAdds[entity.index])
        taken?.finish()
        return taken
    }

    /// sourcedIds the bundle marked `tobedeleted`.
    public func explicitDeletes(_ entity: RosterEntity) -> Set<String> { explicitByEntity[entity.index] }

    /// The counts of `entity` so far: incoming rows, adds, updates and unchanged records (the planner fills in the held
    /// count and the deletes).
    public func counts(_ entity: RosterEntity) -> EntityCounts { countsByEntity[entity.index] }

    /// Whether the integration holds a record (answers the reader's reference checks). Records already seen in this
    /// bundle are not asked about: they are valid in it, and the reader finds them among its own sourcedIds first.
    /// Where the unseen records are kept as their encoded deletes, each call decodes them: ask for few.
    public func holds(_ entity: RosterEntity, _ sourcedID: String) -> Bool {
        if let deletes = unseenDeletes[entity.index] {
            var found = false
            deletes.forEach { if !found, $0.record.sourcedID == sourcedID { found = true } }
            return found
        }
        guard let ids = unseenInOrder[entity.index] else { return unseen[entity.index][sourcedID] != nil }
        // A binary search of the ordered list.
        var low = 0, high = ids.count
        while low < high {
            let middle = (low + high) / 2
            let order = HeldDigestMerge.compare(ids[middle], sourcedID)
            if order == 0 { return true }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return false
    }

    /// Takes one streamed record (other kinds, such as roles and demographics, are folded into users or ignored).
    public mutating func observe(_ record: OneRosterRecord) {
        guard let fingerprint = SyncPlanner.fingerprint(record) else { return }
        let old = fingerprint.status == .tobedeleted
            ? nil : unseen[fingerprint.entity.index].removeValue(forKey: fingerprint.sourcedID)
        take(record, fingerprint, held: old)
    }

    /// Takes one streamed record whose held digest `held(entity, sourcedId, isExplicitDelete)` gives (nil when not
    /// held); `held` marks the record seen unless it is an explicit delete. Returns the record added, when it is an add.
    @discardableResult
    mutating func observe(_ record: OneRosterRecord, held: (RosterEntity, String, Bool) throws -> Int64?) rethrows -> RosterRecord? {
        guard let fingerprint = SyncPlanner.fingerprint(record) else { return nil }
        let old = try held(fingerprint.entity, fingerprint.sourcedID, fingerprint.status == .tobedeleted)
        return take(record, fingerprint, held: old)
    }

    @discardableResult
    private mutating func take(
        _ record: OneRosterRecord, _ fingerprint: (entity: RosterEntity, status: RecordStatus, sourcedID: String, digest: Int64),
        held: Int64?
    ) -> RosterRecord? {
        let (entity, status, id, digest) = fingerprint
        let e = entity.index
        if status == .tobedeleted {
            explicitByEntity[e].insert(id)
            return nil
        }
        if entity == .classes, case let .rosterClass(c) = record { incomingClassCourse[id] = c.courseSourcedId }
        countsByEntity[e].incoming += 1
        if let old = held {
            if old == digest {
                countsByEntity[e].unchanged += 1
            } else {
                changesByEntity[e].append(RosterChange(
                    operation: .update, record: SyncPlanner.details(record, entity: entity, digest: digest)))
                countsByEntity[e].updates += 1
            }
            return nil
        }
        let added = SyncPlanner.details(record, entity: entity, digest: digest)
        if heldCounts[e] > 0 {
            if encodedAdds[e] == nil { encodedAdds[e] = EncodedChanges(entity: entity.rawValue) }
            encodedAdds[e]!.append(RosterChange(operation: .add, record: added))
        } else {
            changesByEntity[e].append(RosterChange(operation: .add, record: added))
        }
        countsByEntity[e].adds += 1
        return added
    }
}
