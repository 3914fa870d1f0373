import Foundation
import GRDB
import StorageCore

/// Held (and dry-run) change sets, kept in blocks (``ChangeBlocks``): storing, reading back, counting and paging them
/// for a review, and parking deletes.
extension SQLiteTransaction {
    /// Keeps a held (or dry-run) change set so that it can be reviewed and approved later, with each record's field
    /// digests and, for updates, which fields they change (a bit mask over the entity's fields; nil when unknown).
    public func storeChangeSet<Changes: Sequence>(_ changes: Changes, runID: String) throws where Changes.Element == RosterChange {
        var writer = try ChangeBlockWriter(db, runID: runID)
        for change in changes { try writer.add(change) }
        try writer.flush()
    }

    /// Keeps a change set given as the planner's groups: as ``storeChangeSet(_:runID:)`` does, the blocks of its
    /// changes encoded on every core (a rollover's 4.2 M changes), then written in order on this connection; its
    /// encoded segments (``EncodedChanges``) are written as they are.
    public func storeChangeSet(groups: [ChangeGroup], runID: String) throws {
        var writer = try ChangeBlockWriter(db, runID: runID)
        for group in groups {
            for segment in group.segments {
                switch segment {
                case let .encoded(encoded):
                    var encoded = encoded
                    encoded.finish()
                    for block in encoded.blocks {
                        try writer.write(entity: encoded.entity, operation: block.operation, count: block.count, bytes: block.bytes)
                    }
                case let .changes(changes):
                    try Self.store(changes, with: &writer)
                }
            }
        }
    }

    /// Encodes `changes` into blocks on every core and writes them in order.
    private static func store(_ changes: [RosterChange], with writer: inout ChangeBlockWriter) throws {
        // Each block: a run of one entity and operation, at most a block's capacity.
        var blocks: [Range<Int>] = []
        // Read in place: millions of changes are not copied to be compared.
        changes.withUnsafeBufferPointer { group in
            var start = 0
            while start < group.count {
                var end = start + 1
                let first = (operation: group[start].operation, entity: group[start].record.entity)
                while end < group.count,
                      ChangeBlocks.fits(group[end].operation, group[end].record.entity, after: first, count: end - start) {
                    end += 1
                }
                blocks.append(start..<end)
                start = end
            }
        }
        // In waves, so that only a few blocks' bytes are held at once.
        let wave = 16 * ChangeBlocks.workers
        for waveStart in stride(from: 0, to: blocks.count, by: wave) {
            let slice = blocks[waveStart..<min(waveStart + wave, blocks.count)]
            let encoded = ChangeBlocks.concurrently(slice.count) { index in
                var encoder = ChangeBlockEncoder()
                changes.withUnsafeBufferPointer { group in
                    for index in slice[slice.startIndex + index] { encoder.append(group[index]) }
                }
                return encoder.bytes
            }
            for (range, bytes) in zip(slice, encoded) {
                let first = changes[range.lowerBound]
                try writer.write(entity: first.record.entity, operation: first.operation, count: range.count, bytes: bytes)
            }
        }
    }

    /// The change set stored for a held run, in apply order: its blocks read in order, then decoded on every core,
    /// each change written straight into its place in the result.
    public func changeSet(runID: String) throws -> [RosterChange] {
        var blocks: [(entity: String, operation: RosterChange.Operation, count: Int, bytes: [UInt8])] = []
        try eachChangeBlock(runID: runID) { block in
            blocks.append((block.entity, block.operation, block.count, Array(block.bytes)))
        }
        var offsets: [Int] = []
        offsets.reserveCapacity(blocks.count)
        var total = 0
        for block in blocks {
            offsets.append(total)
            total += block.count
        }
        guard total > 0 else { return [] }
        var decoded = [Int](repeating: 0, count: blocks.count)
        return try [RosterChange](unsafeUninitializedCapacity: total) { buffer, initialized in
            let base = buffer.baseAddress!
            let errors = decoded.withUnsafeMutableBufferPointer { done in
                ChangeBlocks.concurrently(blocks.count) { index -> (any Error)? in
                    let block = blocks[index]
                    var decoder = ChangeBlockDecoder()
                    var at = base + offsets[index]
                    do {
                        try block.bytes.withUnsafeBytes { raw in
                            try decoder.decode(raw, entity: block.entity, operation: block.operation, count: block.count) { change in
                                at.initialize(to: change)
                                at += 1
                                done[index] += 1
                                return true
                            }
                        }
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            if let failure = errors.lazy.compactMap({ $0 }).first {
                for index in blocks.indices { (base + offsets[index]).deinitialize(count: decoded[index]) }
                initialized = 0
                throw failure
            }
            initialized = total
        }
    }

    /// The change set stored for a held run, in apply order, as its blocks (checked, not decoded): a group for each
    /// run of blocks of one entity. About 30 bytes a change in memory, where decoded changes take 150 and more.
    public func changeSetGroups(runID: String) throws -> [ChangeGroup] {
        var groups: [ChangeGroup] = []
        var entity: String?
        var blocks: [EncodedChangeBlock] = []
        func close() {
            if let entity, !blocks.isEmpty { groups.append(ChangeGroup(EncodedChanges(entity: entity, blocks: blocks))) }
            blocks = []
        }
        try eachChangeBlock(runID: runID) { block in
            try ChangeBlockDecoder.validate(block.bytes, count: block.count)
            if block.entity != entity {
                close()
                entity = block.entity
            }
            blocks.append(EncodedChangeBlock(operation: block.operation, count: block.count, bytes: Array(block.bytes)))
        }
        close()
        return groups
    }

    /// How many stored changes of a run match the filters (nil: any entity, any operation).
    public func syncChangeCount(runID: String, entity: String?, operation: String?) throws -> Int {
        let (condition, arguments) = Self.blockFilter(runID: runID, entity: entity, operation: operation)
        return try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(count), 0) FROM sync_change_blocks WHERE \(condition)",
                                arguments: arguments) ?? 0
    }

    /// One page of a run's stored changes, in apply order, that match the filters (nil: any entity, any operation).
    public func syncChanges(runID: String, entity: String?, operation: String?, limit: Int, offset: Int) throws -> [StoredChange] {
        var page: [StoredChange] = []
        guard limit > 0 else { return page }
        var skip = max(0, offset)
        var decoder = ChangeBlockDecoder()
        try eachChangeBlock(runID: runID, entity: entity, operation: operation) { block in
            guard page.count < limit else { return }
            if skip >= block.count {
                skip -= block.count  // the block's bytes are never read
                return
            }
            var index = 0
            try block.decode(with: &decoder) { change in
                if index >= skip { page.append(StoredChange(seq: block.firstSeq + index, change: change)) }
                index += 1
                return page.count < limit
            }
            skip = 0
        }
        return page
    }

    /// Whether a change set is stored for the run (held and dry-run runs keep theirs).
    public func hasChangeSet(runID: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sync_change_blocks WHERE run_id = ?)", arguments: [runID]) ?? false
    }

    /// The titles (a user's name, a class's or course's title) of records of one entity, by sourcedId: as the
    /// integration holds them, else as the run adds or updates them, else as the run deleted them (a run applied since:
    /// the record is gone, its change keeps the title). Ids found in none are left out.
    public func rosterTitles(integrationID: String, runID: String, entity: String, sourcedIDs: Set<String>) throws -> [String: String] {
        var titles: [String: String] = [:]
        var missing: Set<String> = []
        for id in sourcedIDs.sorted() {
            let title = try db.fastFirst(
                "SELECT title FROM roster_records WHERE integration_id = ? AND entity = ? AND sourced_id = ?",
                [integrationID, entity, id]) { $0.optionalString(0) }
            if let title, let title { titles[id] = title } else { missing.insert(id) }
        }
        guard !missing.isEmpty else { return titles }
        // Records the run itself adds or updates, then deletes: one pass over its blocks of that entity each.
        var decoder = ChangeBlockDecoder()
        for operation in [RosterChange.Operation.add, .update, .delete] {
            try eachChangeBlock(runID: runID, entity: entity, operation: operation.rawValue) { block in
                guard !missing.isEmpty else { return }
                try block.decode(with: &decoder) { change in
                    if let title = change.record.title, missing.remove(change.record.sourcedID) != nil {
                        titles[change.record.sourcedID] = title
                    }
                    return !missing.isEmpty
                }
            }
        }
        return titles
    }

    /// Marks the deletes of a change set as parked (kept, not applied).
    public func parkDeletes(runID: String) throws {
        try rewriteDeletes(runID: runID, entity: nil) { _ in true }
    }

    /// Takes the deletes of merged records out of a parked set: they are half of a merge, not a removal.
    public func unparkDeletes(runID: String, entity: String, sourcedIDs: [String]) throws {
        let unparked = Set(sourcedIDs)
        guard !unparked.isEmpty else { return }
        try rewriteDeletes(runID: runID, entity: entity) { change in
            unparked.contains(change.record.sourcedID) ? false : change.parked
        }
    }

    /// Drops a held change set.
    public func dropChangeSet(runID: String) throws {
        try db.execute(sql: "DELETE FROM sync_change_blocks WHERE run_id = ?", arguments: [runID])
    }

    /// Hands the run's blocks that match the filters to `body`, in apply order; a block's bytes are read only if
    /// `body` decodes it.
    func eachChangeBlock(
        runID: String, entity: String? = nil, operation: String? = nil, _ body: (StoredChangeBlock) throws -> Void
    ) throws {
        let (condition, arguments) = Self.blockFilter(runID: runID, entity: entity, operation: operation)
        try db.fastEach("""
            SELECT first_seq, entity, op, count, changes FROM sync_change_blocks WHERE \(condition) ORDER BY first_seq
            """, arguments) { row in
            guard let operation = RosterChange.Operation(rawValue: row.string(2)) else { throw ChangeBlockDecoder.damaged }
            try body(StoredChangeBlock(firstSeq: row.int(0), entity: row.string(1), operation: operation, count: row.int(3), row: row))
        }
    }

    /// Sets each delete's parked flag (of one entity, or of all) to what `parked` says, rewriting the blocks it changes.
    private func rewriteDeletes(runID: String, entity: String?, parked: (RosterChange) -> Bool) throws {
        var rewritten: [(firstSeq: Int, bytes: [UInt8])] = []
        var decoder = ChangeBlockDecoder()
        try eachChangeBlock(runID: runID, entity: entity, operation: RosterChange.Operation.delete.rawValue) { block in
            var encoder = ChangeBlockEncoder()
            var changed = false
            try block.decode(with: &decoder) { change in
                var change = change
                let flag = parked(change)
                if flag != change.parked {
                    change.parked = flag
                    changed = true
                }
                encoder.append(change)
                return true
            }
            if changed { rewritten.append((block.firstSeq, encoder.bytes)) }
        }
        let update = try FastStatement(db, "UPDATE sync_change_blocks SET changes = ? WHERE run_id = ? AND first_seq = ?")
        for block in rewritten {
            update.bind(1, bytes: block.bytes)
            update.bind(2, runID)
            update.bind(3, block.firstSeq)
            try update.run()
        }
    }

    private static func blockFilter(runID: String, entity: String?, operation: String?) -> (String, StatementArguments) {
        var condition = "run_id = ?"
        var arguments: StatementArguments = [runID]
        if let entity {
            condition += " AND entity = ?"
            arguments += [entity]
        }
        if let operation {
            condition += " AND op = ?"
            arguments += [operation]
        }
        return (condition, arguments)
    }
}
