/// The adds of a sync written into the store ahead of its apply, while the source is still being read.
///
/// A district's first sync adds every record it reads, and a REST pull hands them over for minutes while the provider
/// is waited on. A store that can stage them (SQLite: a temporary table of the writing connection) writes them then,
/// off the critical path, and the apply moves them into the roster with one statement instead of binding and inserting
/// each after the last page. Staging is an optimisation only: the apply checks that the stage holds exactly the adds
/// it is given (``RosterStageTally``) and applies them the usual way when it does not (a stage that failed, was
/// cancelled, or holds other records), so a run applies the same whether or not it was staged.
///
/// Used by one sync: its diff thread calls ``stage(_:)`` for each add, then ``finish()``; its apply reads the stage;
/// whoever made the stage calls ``discard()`` once the run is over, whatever its outcome (nothing staged is kept).
public protocol RosterAddStage: AnyObject, Sendable {
    /// Queues `record`'s add to be written (returns at once, unless the writer is far behind).
    func stage(_ record: RosterRecord)

    /// Waits until everything queued is written (or staging failed).
    func finish()

    /// What the stage holds once ``finish()`` returned: per entity, how many records and their tally; nil when nothing
    /// is staged (too few records to be worth it, or the writes failed).
    var staged: RosterStageTally? { get }

    /// Drops what was staged; later calls do nothing. Never throws: a stage is scratch space.
    func discard()
}

/// How many records of each entity, and an order-independent checksum of their digests: what a stage holds, compared
/// with the adds an apply is given. A record's digest covers every field it was read with, its sourcedId included.
public struct RosterStageTally: Sendable, Equatable {
    /// Per entity name: records, the wrapping sum of their digests, and the wrapping sum of the digests mixed.
    public private(set) var entities: [String: Entry] = [:]

    /// One entity's share of a tally.
    public struct Entry: Sendable, Equatable {
        /// Records counted.
        public var count = 0
        /// The wrapping sum of their digests.
        public var sum: UInt64 = 0
        /// The wrapping sum of their digests, each mixed by ``RosterStageTally/mix(_:)``.
        public var mixed: UInt64 = 0

        /// Nothing counted yet.
        public init() {}

        /// Counts one record with `digest`.
        @inline(__always)
        public mutating func add(_ digest: Int64) {
            let d = UInt64(bitPattern: digest)
            count += 1
            sum &+= d
            mixed &+= RosterStageTally.mix(d)
        }
    }

    /// An empty tally.
    public init() {}

    /// Counts a run of records of one entity at once (callers tally run by run, so the name is hashed once a run).
    public mutating func note(entity: String, entry: Entry) {
        var total = entities[entity, default: Entry()]
        total.count += entry.count
        total.sum &+= entry.sum
        total.mixed &+= entry.mixed
        entities[entity] = total
    }

    /// SplitMix64's finaliser: a sum of mixed digests tells apart sets whose plain sums agree.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Records tallied, all entities.
    public var count: Int { entities.values.reduce(0) { $0 + $1.count } }
}
