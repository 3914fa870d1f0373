import Foundation

/// One block of encoded changes (see ``ChangeBlocks``): `count` changes of one entity and one operation.
public struct EncodedChangeBlock: Sendable {
    /// The operation of every change in the block.
    public let operation: RosterChange.Operation
    /// How many changes the block holds.
    public let count: Int
    /// The block's bytes, as `sync_change_blocks` stores them.
    public let bytes: [UInt8]

    /// A block of `count` changes of `operation`, encoded as `bytes`.
    public init(operation: RosterChange.Operation, count: Int, bytes: [UInt8]) {
        self.operation = operation
        self.count = count
        self.bytes = bytes
    }
}

/// Changes of one entity kept in the form a held change set is stored in (``ChangeBlocks``, about 20–30 bytes a change)
/// instead of a ``RosterChange`` each (144 bytes and its texts and field digests on the heap).
///
/// A school-year rollover's review holds about four million changes (every enrollment of the year ending and of the one
/// starting). Kept as changes they took over a gigabyte of fresh memory, written once, then encoded again to be stored;
/// encoded as the diff finds them, the store writes these blocks as they are.
public struct EncodedChanges: Sendable {
    /// The entity (a `RosterEntity` raw value) of every change.
    public let entity: String
    /// The closed blocks, in order (``finish()`` closes the last).
    public private(set) var blocks: [EncodedChangeBlock] = []
    /// How many changes are kept.
    public private(set) var count = 0
    private var encoder = ChangeBlockEncoder()
    private var openOperation: RosterChange.Operation?

    /// No changes yet, of `entity`.
    public init(entity: String) { self.entity = entity }

    /// Changes of `entity` already encoded, as `blocks` (each of which must decode: check stored ones with
    /// ``ChangeBlockDecoder/validate(_:count:)`` first).
    public init(entity: String, blocks: [EncodedChangeBlock]) {
        self.entity = entity
        self.blocks = blocks
        count = blocks.reduce(0) { $0 + $1.count }
    }

    /// Whether every sourcedId appended came in strictly ascending bytewise order (SQLite's order of the key); blocks
    /// handed in whole (``init(entity:blocks:)``) are not checked.
    public var ascending: Bool { encoder.ascending }

    /// Whether no change is kept.
    public var isEmpty: Bool { count == 0 }

    /// Appends a change of this entity.
    public mutating func append(_ change: borrowing RosterChange) {
        makeRoom(for: change.operation)
        encoder.append(change)
        count += 1
    }

    /// Appends the delete of a held record given by its parts, read in place (see
    /// ``ChangeBlockEncoder/append(parked:sourcedID:digest:text:)``).
    public mutating func appendDelete(
        sourcedID: UnsafeBufferPointer<UInt8>, digest: Int64, text: (Int) -> UnsafeBufferPointer<UInt8>?
    ) {
        makeRoom(for: .delete)
        encoder.append(parked: false, sourcedID: sourcedID, digest: digest, text: text)
        count += 1
    }

    /// Closes the block under way, so that ``blocks`` holds every change.
    public mutating func finish() {
        guard let operation = openOperation, encoder.count > 0 else { return }
        blocks.append(EncodedChangeBlock(operation: operation, count: encoder.count, bytes: encoder.bytes))
        encoder.reset()
        openOperation = nil
    }

    /// Hands each change to `body`, decoded, in order (the block under way too); only those of `operation` when it
    /// is given (other blocks are not decoded).
    public func forEach(operation only: RosterChange.Operation? = nil, _ body: (RosterChange) throws -> Void) rethrows {
        var decoder = ChangeBlockDecoder()
        // A block at a time, decoded into `batch`, then handed over (so that `body`'s errors pass through untouched).
        var batch: [RosterChange] = []
        batch.reserveCapacity(ChangeBlocks.capacity)
        for block in blocks where only == nil || block.operation == only {
            Self.decode(block.bytes, block.operation, block.count, entity, &decoder, into: &batch)
            for change in batch { try body(change) }
        }
        if let operation = openOperation, encoder.count > 0, only == nil || operation == only {
            Self.decode(encoder.bytes, operation, encoder.count, entity, &decoder, into: &batch)
            for change in batch { try body(change) }
        }
    }

    /// Every change, decoded.
    public var changes: [RosterChange] {
        var all: [RosterChange] = []
        all.reserveCapacity(count)
        forEach { all.append($0) }
        return all
    }

    private mutating func makeRoom(for operation: RosterChange.Operation) {
        if let open = openOperation, open != operation || encoder.count >= ChangeBlocks.capacity { finish() }
        openOperation = operation
    }

    private static func decode(
        _ bytes: [UInt8], _ operation: RosterChange.Operation, _ count: Int, _ entity: String,
        _ decoder: inout ChangeBlockDecoder, into batch: inout [RosterChange]
    ) {
        batch.removeAll(keepingCapacity: true)
        do {
            try bytes.withUnsafeBytes { raw in
                try decoder.decode(raw, entity: entity, operation: operation, count: count) { change in
                    batch.append(change)
                    return true
                }
            }
        } catch {
            // These bytes were encoded in this process: failing to decode them is a defect, not bad input.
            preconditionFailure("changes encoded in memory do not decode: \(error)")
        }
    }
}

/// A run of changes in apply order, kept as ``RosterChange`` values, as encoded blocks (``EncodedChanges``), or as
/// segments of both (a sync's updates as changes, its adds encoded).
public struct ChangeGroup: Sendable {
    /// A run of the group's changes, in one form.
    public enum Segment: Sendable {
        /// Changes as values.
        case changes([RosterChange])
        /// Changes of one entity, encoded.
        case encoded(EncodedChanges)

        /// How many changes the segment holds.
        public var count: Int {
            switch self {
            case let .changes(changes): return changes.count
            case let .encoded(encoded): return encoded.count
            }
        }
    }

    /// The group's changes, in order, by segment (none empty).
    public private(set) var segments: [Segment]

    /// A group of `changes` as values.
    public init(_ changes: [RosterChange]) { segments = changes.isEmpty ? [] : [.changes(changes)] }

    /// A group of encoded changes (the block under way closed).
    public init(_ encoded: EncodedChanges) {
        var encoded = encoded
        encoded.finish()
        segments = encoded.isEmpty ? [] : [.encoded(encoded)]
    }

    /// A group of `segments`, in order (empty ones left out, encoded ones closed).
    public init(segments: [Segment]) {
        self.segments = segments.compactMap { segment in
            guard segment.count > 0 else { return nil }
            guard case var .encoded(encoded) = segment else { return segment }
            encoded.finish()
            return .encoded(encoded)
        }
    }

    /// How many changes the group holds.
    public var count: Int { segments.reduce(0) { $0 + $1.count } }
    /// Whether the group holds no change.
    public var isEmpty: Bool { segments.allSatisfy { $0.count == 0 } }

    /// Hands each change to `body` in order (encoded ones decoded); only those of `entity` and `operation` when they
    /// are given (encoded blocks of others are not decoded).
    public func forEach(
        entity: String? = nil, operation: RosterChange.Operation? = nil, _ body: (RosterChange) throws -> Void
    ) rethrows {
        for segment in segments {
            switch segment {
            case let .changes(changes):
                for change in changes where (entity == nil || change.record.entity == entity)
                    && (operation == nil || change.operation == operation) {
                    try body(change)
                }
            case let .encoded(encoded):
                guard entity == nil || encoded.entity == entity else { continue }
                try encoded.forEach(operation: operation, body)
            }
        }
    }

    /// Every change in order, decoded (a copy).
    public var changes: [RosterChange] {
        if segments.count == 1, case let .changes(changes) = segments[0] { return changes }
        var all: [RosterChange] = []
        all.reserveCapacity(count)
        forEach { all.append($0) }
        return all
    }

    /// The changes `isIncluded` keeps, as a group of their own.
    public func filter(_ isIncluded: (RosterChange) throws -> Bool) rethrows -> ChangeGroup {
        var kept: [RosterChange] = []
        try forEach { if try isIncluded($0) { kept.append($0) } }
        return ChangeGroup(kept)
    }

    /// Whether any change satisfies `predicate`.
    public func contains(where predicate: (RosterChange) throws -> Bool) rethrows -> Bool {
        var found = false
        for segment in segments where !found {
            switch segment {
            case let .changes(changes): found = try changes.contains(where: predicate)
            case let .encoded(encoded):
                // Decoded to the end: encoded segments are checked rarely, and never on a hot path.
                try encoded.forEach { if !found, try predicate($0) { found = true } }
            }
        }
        return found
    }
}
