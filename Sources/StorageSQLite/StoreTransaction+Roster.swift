import StorageCore
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteTransaction {
    /// Every record held for an integration.
    public func rosterRecords(integrationID: String) throws -> [RosterRecord] {
        let statement = try db.cachedStatement(sql: """
            SELECT entity, sourced_id, digest, ref1, ref2, ref3, title FROM roster_records WHERE integration_id = ?
            """)
        var records: [RosterRecord] = []
        let cursor = try Row.fetchCursor(statement, arguments: [integrationID])
        while let row = try cursor.next() {
            records.append(RosterRecord(
                entity: row[0], sourcedID: row[1], digest: row[2], ref1: row[3], ref2: row[4], ref3: row[5], title: row[6]))
        }
        return records
    }

    /// How many records of each entity the integration holds.
    public func rosterCounts(integrationID: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT entity, COUNT(*) FROM roster_records WHERE integration_id = ? GROUP BY entity
            """, arguments: [integrationID]) {
            counts[row[0]] = row[1]
        }
        return counts
    }

    /// The held digests of one entity in sourcedId order (bytewise), read one at a time: merged with a bundle file
    /// that lists its rows in the same order, no index of millions of digests is built. Valid in this transaction.
    public func rosterDigestCursor(integrationID: String, entity: String) throws -> any RosterDigestCursor {
        try SQLiteRosterDigestCursor(db, integrationID: integrationID, entity: entity)
    }

    /// Whether the integration holds a record.
    public func holdsRosterRecord(integrationID: String, entity: String, sourcedID: String) throws -> Bool {
        try db.fastFirst("SELECT 1 FROM roster_records WHERE integration_id = ? AND entity = ? AND sourced_id = ?",
                         [integrationID, entity, sourcedID]) { _ in true } ?? false
    }

    /// From how many sourcedIds ``rosterRecords(integrationID:entity:sourcedIDs:)`` reads the entity in one pass (when
    /// they are an eighth of its records or more) instead of looking each one up.
    static let scanThreshold = 512

    /// Whether `ids` are strictly ascending by their UTF-8 bytes (SQLite's BINARY order of the key).
    static func ascendingBytes(_ ids: [String]) -> Bool {
        var previous: String?
        for id in ids {
            if let before = previous, compareBytes(before, id) >= 0 { return false }
            previous = id
        }
        return true
    }

    /// ``compareBytes(_:_:)`` of two strings' UTF-8 bytes.
    static func compareBytes(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in compareBytes(x, y) } }
    }

    /// memcmp order of two byte strings, the shorter first on a tie (SQLite's BINARY collation).
    static func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let common = min(a.count, b.count)
        if common > 0, let x = a.baseAddress, let y = b.baseAddress {
            let order = memcmp(x, y, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }

    /// Held records of one entity; all of them, or those with the given sourcedIds.
    public func rosterRecords(integrationID: String, entity: String, sourcedIDs: [String]? = nil) throws -> [RosterRecord] {
        try rosterRecords(integrationID: integrationID, entity: entity, sourcedIDs: sourcedIDs) { $0 }
    }

    /// Held records with the given sourcedIds as deletes (see ``StorageCore/RosterStore/heldDeletes(integrationID:entity:sourcedIDs:)``):
    /// each change made as its record is read, with no array of records beside them (a rollover deletes millions), and
    /// without field digests, which a delete never uses.
    public func heldDeletes(integrationID: String, entity: String, sourcedIDs: [String]) throws -> [RosterChange] {
        try rosterRecords(integrationID: integrationID, entity: entity, sourcedIDs: sourcedIDs, withFields: false,
                          RosterChange.deleting)
    }

    /// Held records of one entity (all, or those with the given sourcedIds, in the order asked), each made into a `T`.
    private func rosterRecords<T>(
        integrationID: String, entity: String, sourcedIDs: [String]?, withFields: Bool = true, _ make: (RosterRecord) -> T
    ) throws -> [T] {
        let columns = "entity, sourced_id, digest, ref1, ref2, ref3, title, \(withFields ? "fields" : "NULL"), ref4"
        func decode(_ row: FastRow) -> RosterRecord {
            RosterRecord(entity: row.string(0), sourcedID: row.string(1), digest: Int64(row.int(2)), ref1: row.optionalString(3),
                         ref2: row.optionalString(4), ref3: row.optionalString(5), title: row.optionalString(6),
                         fields: row.optionalData(7), ref4: row.optionalString(8))
        }
        guard let sourcedIDs else {
            return try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(columns) FROM roster_records WHERE integration_id = ? AND entity = ? ORDER BY sourced_id
                """), arguments: [integrationID, entity]).map { row in
                make(RosterRecord(entity: row[0], sourcedID: row[1], digest: row[2], ref1: row[3], ref2: row[4], ref3: row[5],
                                  title: row[6], fields: row[7], ref4: row[8]))
            }
        }
        var records: [T] = []
        records.reserveCapacity(sourcedIDs.count)
        if sourcedIDs.count >= Self.scanThreshold, let held = try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM roster_records WHERE integration_id = ? AND entity = ?
            """, arguments: [integrationID, entity]), sourcedIDs.count * 8 >= held {
            // A good share of the entity (a rollover deletes every class and enrollment of the year): one pass over the
            // entity's records instead of a lookup per sourcedId, which cost ten times as much per record.
            if Self.ascendingBytes(sourcedIDs) {
                // Asked in the table's own order (the planner sorts them): merged with the rows in key order, a row
                // decoded only when asked for.
                var next = 0
                try db.fastEach("""
                    SELECT \(columns) FROM roster_records WHERE integration_id = ? AND entity = ? ORDER BY sourced_id
                    """, [integrationID, entity]) { row in
                    guard next < sourcedIDs.count else { return }
                    let held = row.textBytes(1)
                    while next < sourcedIDs.count {
                        var id = sourcedIDs[next]
                        let order = id.withUTF8 { Self.compareBytes($0, held) }
                        if order < 0 { next += 1; continue }  // not held
                        if order == 0 { records.append(make(decode(row))); next += 1 }
                        return
                    }
                }
                return records
            }
            let wanted = Set(sourcedIDs)
            var found: [String: RosterRecord] = [:]
            found.reserveCapacity(wanted.count)
            try db.fastEach("SELECT \(columns) FROM roster_records WHERE integration_id = ? AND entity = ?",
                            [integrationID, entity]) { row in
                let id = row.string(1)
                if wanted.contains(id) { found[id] = decode(row) }
            }
            for id in sourcedIDs {
                if let record = found[id] { records.append(make(record)) }
            }
            return records
        }
        for id in sourcedIDs {
            if let record = try db.fastFirst(
                "SELECT \(columns) FROM roster_records WHERE integration_id = ? AND entity = ? AND sourced_id = ?",
                [integrationID, entity, id], decode) {
                records.append(make(record))
            }
        }
        return records
    }

    /// Applies changes to the held roster and records each in the history, as part of `runID`.
    ///
    /// An add is recorded by the held record itself (its `run_id`, with `add_logged = 0`): no history row is written
    /// for it until the record is updated or deleted, when its add row is written out first. `rosterHistory` shows
    /// both. The sync run `runID` must be in `sync_runs` with `finished_at` = `now` (the add's time). The integration's
    /// roster version moves on (see ``rosterVersion(integrationID:)``). `checkpoint` is called every few thousand
    /// changes; what it throws ends the apply (the caller's transaction then rolls back).
    public func applyRosterChanges(
        _ changes: [RosterChange], integrationID: String, runID: String, checkpoint: (() throws -> Void)? = nil, now: Double
    ) throws {
        try applyRosterChanges(changes, staged: nil, integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
    }

    /// Applies groups of changes as ``applyRosterChanges(_:integrationID:runID:checkpoint:now:)`` does, the adds that
    /// `stage` holds moved into the roster from it with one statement (see ``SQLiteRosterAddStage``). The stage is
    /// used only when it holds exactly the adds of whole groups (each of those groups only adds, of one entity, and the
    /// stage's tally of each entity equals theirs); otherwise every change is applied as given.
    public func applyRosterChanges(
        groups: [[RosterChange]], integrationID: String, runID: String, stage: (any RosterAddStage)?,
        checkpoint: (() throws -> Void)?, now: Double
    ) throws {
        if let stage = stage as? SQLiteRosterAddStage, let staged = stage.staged,
           let others = Self.groups(groups, notStagedIn: staged) {
            try applyRosterChanges(
                Array(others.joined()), staged: StagedAdds(table: stage.table, counts: staged.entities.mapValues(\.count)),
                integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
            stage.statistics.movedIntoRoster()
            return
        }
        try applyRosterChanges(groups: groups, integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
    }

    /// Adds written ahead into a temporary table (``SQLiteRosterAddStage``): its name, and how many of each entity.
    struct StagedAdds {
        let table: String
        let counts: [String: Int]
    }

    /// The groups of entities `staged` holds no records of, when the other groups are exactly what it holds (only
    /// adds, none parked, one entity a group, the same tally); nil when they are not.
    static func groups(_ groups: [[RosterChange]], notStagedIn staged: RosterStageTally) -> [[RosterChange]]? {
        var others: [[RosterChange]] = []
        var tally = RosterStageTally()
        for group in groups {
            guard let entity = group.first?.record.entity, staged.entities[entity] != nil else {
                others.append(group)
                continue
            }
            var entry = RosterStageTally.Entry()
            // Field by field through the array (no copy of each change and its strings).
            for i in group.indices {
                guard group[i].operation == .add, !group[i].parked, group[i].record.entity == entity else { return nil }
                entry.add(group[i].record.digest)
            }
            tally.note(entity: entity, entry: entry)
        }
        return tally == staged ? others : nil
    }

    /// Applies groups that may hold encoded segments: those without any are applied as changes (and `stage` used as
    /// ``applyRosterChanges(groups:integrationID:runID:stage:checkpoint:now:)`` says); the others a group at a time,
    /// their encoded blocks decoded one at a time as they are applied (a rollover's 4.2 M changes are never all in
    /// memory as changes).
    public func applyRosterChanges(
        changeGroups: [ChangeGroup], integrationID: String, runID: String, stage: (any RosterAddStage)?,
        checkpoint: (() throws -> Void)?, now: Double
    ) throws {
        let encoded = changeGroups.contains { group in
            group.segments.contains { if case .encoded = $0 { return true } else { return false } }
        }
        guard encoded, stage == nil else {
            try applyRosterChanges(groups: changeGroups.map(\.changes), integrationID: integrationID, runID: runID, stage: stage,
                                   checkpoint: checkpoint, now: now)
            return
        }
        for group in changeGroups {
            try applyRosterChanges(
                ChangeChunks(group), staged: nil, integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
        }
    }

    /// Changes to apply, handed over a chunk at a time, and the counts an apply decides on before the first.
    struct ChangeChunks {
        private let segments: [ChangeGroup.Segment]
        /// How many changes.
        private(set) var count = 0
        /// Adds by entity (not parked ones, where the changes say; an encoded block's adds all count).
        private(set) var adds: [String: Int] = [:]
        /// Changes of enrollments (likewise, parked ones not counted where the changes say).
        private(set) var enrollmentChanges = 0
        /// Whether any change is not parked (an encoded block of adds or updates is never parked).
        private(set) var anyUnparked = false

        init(_ changes: [RosterChange]) { self.init(ChangeGroup(changes)) }

        init(_ group: ChangeGroup) {
            segments = group.segments
            let enrollments = EnrollmentLookupSQL.entity
            var parkedDeletesOnly: [EncodedChanges] = []
            for segment in segments {
                switch segment {
                case let .changes(changes):
                    count += changes.count
                    // Counted run by run of one entity (changes come grouped by entity): no hashing per change.
                    var entity = "", run = 0
                    for change in changes where !change.parked {
                        anyUnparked = true
                        if change.record.entity == enrollments { enrollmentChanges += 1 }
                        guard change.operation == .add else { continue }
                        if change.record.entity != entity {
                            if run > 0 { adds[entity, default: 0] += run }
                            entity = change.record.entity
                            run = 0
                        }
                        run += 1
                    }
                    if run > 0 { adds[entity, default: 0] += run }
                case let .encoded(encoded):
                    count += encoded.count
                    if encoded.entity == enrollments { enrollmentChanges += encoded.count }
                    for block in encoded.blocks where block.operation != .delete {
                        anyUnparked = true
                        if block.operation == .add { adds[encoded.entity, default: 0] += block.count }
                    }
                    if encoded.blocks.allSatisfy({ $0.operation == .delete }) { parkedDeletesOnly.append(encoded) }
                }
            }
            // Deletes alone: whether any is not parked is read from them (a run approved without its deletes parks all).
            for deletes in parkedDeletesOnly where !anyUnparked {
                deletes.forEach { if !$0.parked { anyUnparked = true } }
            }
        }

        /// Hands the changes over in order: a segment of changes whole, an encoded segment a block at a time, decoded
        /// on a thread of its own a few blocks ahead (``BlocksDecodedAhead``), so that the apply does not wait on it.
        func forEachChunk(_ body: ([RosterChange]) throws -> Void) throws {
            for segment in segments {
                switch segment {
                case let .changes(changes):
                    try body(changes)
                case let .encoded(encoded):
                    let ahead = BlocksDecodedAhead(encoded)
                    defer { ahead.stop() }
                    while let chunk = try ahead.next() {
                        try body(chunk)
                        ahead.recycle(chunk)
                    }
                }
            }
        }
    }

    /// Decodes the blocks of an encoded segment on a thread of its own, up to ``ahead`` blocks ahead of the apply that
    /// takes them (``next()``); the arrays the apply is done with come back (``recycle(_:)``) to be filled again.
    final class BlocksDecodedAhead: @unchecked Sendable {
        static let ahead = 4

        private let condition = NSCondition()
        private var ready: [[RosterChange]] = []
        private var spare: [[RosterChange]] = []
        private var finished = false
        private var stopped = false
        private var failure: (any Error)?

        init(_ encoded: EncodedChanges) {
            let thread = Thread { [self] in decode(encoded) }
            thread.name = "rosterflow.apply-decode"
            thread.start()
        }

        /// The next block's changes, in order; nil after the last.
        func next() throws -> [RosterChange]? {
            condition.lock()
            defer { condition.unlock() }
            while ready.isEmpty && !finished { condition.wait() }
            if let failure { throw failure }
            guard !ready.isEmpty else { return nil }
            condition.broadcast()
            return ready.removeFirst()
        }

        /// Hands back an array the apply is done with.
        func recycle(_ chunk: [RosterChange]) {
            condition.lock()
            spare.append(chunk)
            condition.unlock()
        }

        /// Stops decoding (the apply ended, or failed) and waits for the thread to end.
        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            while !finished { condition.wait() }
            condition.unlock()
        }

        private func decode(_ encoded: EncodedChanges) {
            var decoder = ChangeBlockDecoder()
            var outcome: (any Error)?
            for block in encoded.blocks {
                condition.lock()
                while ready.count >= Self.ahead && !stopped { condition.wait() }
                var chunk = stopped ? nil : (spare.popLast() ?? [])
                condition.unlock()
                guard var changes = chunk.take() else { break }
                changes.removeAll(keepingCapacity: true)
                do {
                    try block.bytes.withUnsafeBytes { raw in
                        try decoder.decode(raw, entity: encoded.entity, operation: block.operation, count: block.count) {
                            changes.append($0)
                            return true
                        }
                    }
                } catch {
                    outcome = error
                    break
                }
                condition.lock()
                ready.append(changes)
                condition.broadcast()
                condition.unlock()
            }
            condition.lock()
            failure = outcome
            finished = true
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The changes being applied (one chunk of them), as the batched adds find them by position.
    private final class ChunkBox {
        var changes: [RosterChange] = []
    }

    private func applyRosterChanges(
        _ changes: [RosterChange], staged: StagedAdds?, integrationID: String, runID: String, checkpoint: (() throws -> Void)?,
        now: Double
    ) throws {
        try applyRosterChanges(ChangeChunks(changes), staged: staged, integrationID: integrationID, runID: runID,
                               checkpoint: checkpoint, now: now)
    }

    private func applyRosterChanges(
        _ source: ChangeChunks, staged: StagedAdds?, integrationID: String, runID: String, checkpoint: (() throws -> Void)?,
        now: Double
    ) throws {
        let suspended = try suspendEntityIndexes(adding: source.adds, of: source.count, staged: staged?.counts ?? [:])
        let upkeep = try enrollmentLookupUpkeep(
            changing: source.enrollmentChanges, integrationID: integrationID, staged: staged?.counts[EnrollmentLookupSQL.entity] ?? 0)
        let lookups = upkeep.writer
        let enrollments = EnrollmentLookupSQL.entity
        let chunk = ChunkBox()
        // Adds (a first sync's millions) in batches, each value bound straight from the record; the integration and
        // the run once. Written before any other change is applied, and at the end of each chunk.
        // Queued by position in the chunk (no copy of the record).
        var adds = try BatchedInsert<Int>(
            db, sql: """
                INSERT INTO roster_records (integration_id, run_id, entity, sourced_id, digest, ref1, ref2, ref3, title, add_logged, fields, ref4)
                """,
            row: "(?1, ?2, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)", shared: 2, width: 9
        ) { statement, offset, position in
            let r = chunk.changes[position].record
            statement.bind(offset + 1, r.entity)
            statement.bindKeyAndReferences(of: r, at: offset + 2)
            statement.bind(offset + 8, r.fields)
            statement.bind(offset + 9, r.ref4)
        }
        adds.bindShared(1, integrationID)
        adds.bindShared(2, runID)
        let update = try FastStatement(db, """
            INSERT INTO roster_records (integration_id, entity, sourced_id, digest, ref1, ref2, ref3, title, run_id, add_logged, fields, ref4)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
            ON CONFLICT (integration_id, entity, sourced_id) DO UPDATE SET
                digest = excluded.digest, ref1 = excluded.ref1, ref2 = excluded.ref2, ref3 = excluded.ref3,
                title = excluded.title, run_id = excluded.run_id, add_logged = 1, fields = excluded.fields, ref4 = excluded.ref4
            """)
        // An update that keeps the record's `ref1` and `ref2` (a user's username and e-mail: indexed) leaves them out
        // of its SET, so SQLite does not rewrite the index entries: a rollover moves 150,000 users up a grade, and
        // rewriting their two index entries each was two thirds of that (measured: 3.1 s against 1.1 s in `sqlite3`).
        // When they differ (or the record is not held) nothing matches, and the upsert above does the whole change.
        let updateKeepingKeys = try FastStatement(db, """
            UPDATE roster_records SET digest = ?4, ref3 = ?7, title = ?8, run_id = ?9, add_logged = 1, fields = ?10, ref4 = ?11
            WHERE integration_id = ?1 AND entity = ?2 AND sourced_id = ?3 AND ref1 IS ?5 AND ref2 IS ?6
            """)
        let delete = try FastStatement(db, "DELETE FROM roster_records WHERE integration_id = ? AND entity = ? AND sourced_id = ?")
        let logAdd = try FastStatement(db, """
            INSERT OR IGNORE INTO roster_history (integration_id, entity, sourced_id, run_id, op, digest, title, at)
            SELECT x.integration_id, x.entity, x.sourced_id, x.run_id, 'add', x.digest, x.title, r.finished_at
            FROM roster_records x JOIN sync_runs r ON r.id = x.run_id
            WHERE x.integration_id = ? AND x.entity = ? AND x.sourced_id = ? AND x.add_logged = 0
            """)
        let history = try FastStatement(db, """
            INSERT INTO roster_history (integration_id, entity, sourced_id, run_id, op, digest, title, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        if staged != nil || source.anyUnparked { try bumpRosterVersion(integrationID: integrationID) }
        if let staged {
            // The staged adds in key order (the stage's primary key): appended to the B-tree, nothing sorted.
            try checkpoint?()
            try db.fastExecute("""
                INSERT INTO roster_records (integration_id, run_id, entity, sourced_id, digest, ref1, ref2, ref3, title, add_logged, fields, ref4)
                SELECT ?1, ?2, entity, sourced_id, digest, ref1, ref2, ref3, title, 0, fields, ref4
                FROM temp.\(staged.table) ORDER BY entity, sourced_id
                """, [.text(integrationID), .text(runID)])
        }
        // `logAdd` and `delete` select held records by entity, which tells SQLite whether a partial index of
        // roster_records (`WHERE entity = 'users'`, …) applies: it makes the statement depend on the bound entity, and
        // binding that parameter again, even to the same value, has SQLite compile the statement anew at its next run.
        // So the integration and the entity are bound when the entity changes, not for every record.
        var boundEntity: String?
        func bindKey(_ entity: String, _ sourcedID: String) {
            if boundEntity != entity {
                for statement in [logAdd, delete, updateKeepingKeys] {
                    statement.bind(1, integrationID)
                    statement.bind(2, entity)
                }
                boundEntity = entity
            }
            logAdd.bind(3, sourcedID)
            delete.bind(3, sourcedID)
            updateKeepingKeys.bind(3, sourcedID)
        }
        var applied = 0
        try source.forEachChunk { changes in
            chunk.changes = changes
            defer { chunk.changes = [] }
            var index = changes.startIndex
            while index < changes.endIndex {
                let change = changes[index]
                index += 1
                if change.parked { continue }
                if change.operation != .add, !adds.isEmpty { try adds.flush() }
                if change.operation == .delete {
                    // A long run of one entity's deletes (a rollover ends every class and enrollment of the year): applied
                    // as a set, not three statements each.
                    let end = changes[index...].firstIndex { $0.operation != .delete || $0.record.entity != change.record.entity }
                        ?? changes.endIndex
                    if end - index + 1 >= Self.setDeleteThreshold {
                        try applyDeletes(changes[(index - 1)..<end], integrationID: integrationID, runID: runID, checkpoint: checkpoint,
                                         lookups: lookups, now: now)
                        applied &+= end - index + 1
                        index = end
                        continue
                    }
                }
                applied &+= 1
                if applied & 8191 == 0, let checkpoint { try checkpoint() }
                let r = change.record
                switch change.operation {
                case .add:
                    try adds.add(index - 1)
                    if let lookups, r.entity == enrollments { try lookups.note(r) }
                    continue
                case .update:
                    bindKey(r.entity, r.sourcedID)
                    try logAdd.run()
                    if let lookups, r.entity == enrollments { try lookups.forget(r.sourcedID) }
                    updateKeepingKeys.bind(4, Int(r.digest))
                    updateKeepingKeys.bind(5, r.ref1)
                    updateKeepingKeys.bind(6, r.ref2)
                    updateKeepingKeys.bind(7, r.ref3)
                    updateKeepingKeys.bind(8, r.title)
                    updateKeepingKeys.bind(9, runID)
                    updateKeepingKeys.bind(10, r.fields)
                    updateKeepingKeys.bind(11, r.ref4)
                    try updateKeepingKeys.run()
                    if sqlite3_changes(updateKeepingKeys.connection) == 0 {
                        try update.execute(.text(integrationID), .text(r.entity), .text(r.sourcedID), .int(Int(r.digest)),
                                           FastValue(r.ref1), FastValue(r.ref2), FastValue(r.ref3), FastValue(r.title), .text(runID),
                                           FastValue(r.fields), FastValue(r.ref4))
                    }
                    if let lookups, r.entity == enrollments { try lookups.note(r) }
                case .delete:
                    bindKey(r.entity, r.sourcedID)
                    try logAdd.run()
                    if let lookups, r.entity == enrollments { try lookups.forget(r.sourcedID) }
                    try delete.run()
                }
                try history.execute(.text(integrationID), .text(r.entity), .text(r.sourcedID), .text(runID),
                                    .text(change.operation.rawValue), .int(Int(r.digest)), FastValue(r.title), .double(now))
            }
            // The queued adds are positions in this chunk: written before the next.
            try adds.flush()
        }
        let rebuild = upkeep.rebuildsAfter
        if !suspended.isEmpty || rebuild {
            // SQLite's sorter may use helper threads for these builds (the connection's only work at this point).
            let threads = try Int.fetchOne(db, sql: "PRAGMA threads") ?? 0
            try db.execute(sql: "PRAGMA threads = \(min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)))")
            defer { try? db.execute(sql: "PRAGMA threads = \(threads)") }
            for index in suspended { try db.execute(sql: index) }
            if rebuild { try db.fastExecute(EnrollmentLookupSQL.rebuild, [.text(integrationID)]) }
        }
    }

    /// How one apply keeps the integration's enrollment lookups (``EnrollmentLookupSQL``).
    private enum EnrollmentLookupUpkeep {
        /// The integration keeps none.
        case none
        /// Each enrollment change updates its keys.
        case eachChange(EnrollmentLookupWriter)
        /// The apply rewrites most of the integration's enrollments (a first sync): its keys were removed before, and are
        /// written again, in key order, after the inserts.
        case rebuildAfter

        /// The writer that follows each enrollment change, if this apply uses one.
        var writer: EnrollmentLookupWriter? {
            if case let .eachChange(writer) = self { return writer }
            return nil
        }

        var rebuildsAfter: Bool {
            if case .rebuildAfter = self { return true }
            return false
        }
    }

    /// Chooses how `changes` keep the integration's enrollment lookups: rebuilt after an apply of at least
    /// ``indexRebuildThreshold`` enrollment changes and at least half as many as it holds (and removed now), else
    /// change by change.
    private func enrollmentLookupUpkeep(changing changed: Int, integrationID: String, staged: Int) throws -> EnrollmentLookupUpkeep {
        guard try keepsEnrollmentLookups(integrationID: integrationID) else { return .none }
        if staged > 0 {
            // Staged adds are not noted one by one: the keys are written from the roster after the inserts.
            try db.fastExecute(EnrollmentLookupSQL.clear, [.text(integrationID)])
            return .rebuildAfter
        }
        if changed >= Self.indexRebuildThreshold {
            let held = try db.fastFirst(
                "SELECT COUNT(*) FROM roster_records WHERE integration_id = ? AND entity = 'enrollments'", [integrationID]) { $0.int(0) } ?? 0
            if changed * 2 >= held {
                try db.fastExecute(EnrollmentLookupSQL.clear, [.text(integrationID)])
                return .rebuildAfter
            }
        }
        return .eachChange(try EnrollmentLookupWriter(db, integrationID: integrationID))
    }

    /// From how many enrollment changes (and at least half as many as the integration holds) an on-demand
    /// integration's enrollment lookups are written again from the roster after the apply instead of change by change.
    public static let indexRebuildThreshold = 50_000

    /// From how many added records of one entity (and at least as many as the held roster has of it in all
    /// integrations) the entity's partial indexes of `roster_records` are dropped and built again after the inserts.
    /// Building an index reads the whole table, whatever the entity: measured on 2 December 2026 (`sqlite3`, two
    /// alternating pairs each), 50,000 users added to a 534,000-record table cost 0.20–0.24 s of CPU with their two
    /// indexes kept and 0.29–0.30 s rebuilt, while 200,000 users added to a 2,200,000-record table cost 2.04–2.31 s kept
    /// and 1.29–1.67 s rebuilt.
    public static let entityIndexRebuildThreshold = 100_000

    /// Drops the partial indexes of `roster_records` (`… WHERE entity = 'x'`) of each entity that `changes` adds
    /// massively and returns their `CREATE INDEX` statements, exactly as stored, to run after the inserts. Inside the
    /// caller's transaction: a failure part-way rolls the drop back with everything else.
    private func suspendEntityIndexes(adding added: [String: Int], of count: Int, staged: [String: Int]) throws -> [String] {
        guard count + staged.values.reduce(0, +) >= Self.entityIndexRebuildThreshold else { return [] }
        // Staged adds as told.
        let adds = added.merging(staged, uniquingKeysWith: +)
        var suspended: [String] = []
        for (entity, count) in adds where count >= Self.entityIndexRebuildThreshold {
            let quoted = entity.replacingOccurrences(of: "'", with: "''")
            let indexes = try Row.fetchAll(db, sql: """
                SELECT name, sql FROM sqlite_master
                WHERE type = 'index' AND tbl_name = 'roster_records' AND sql LIKE ? ESCAPE '\\'
                """, arguments: ["%WHERE entity = '" + quoted.replacingOccurrences(of: "_", with: "\\_") + "'"])
            guard !indexes.isEmpty else { continue }
            let held = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM roster_records WHERE entity = '\(quoted)'") ?? 0
            guard count >= held else { continue }
            for index in indexes {
                let name: String = index["name"]
                try db.execute(sql: "DROP INDEX \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"")
                suspended.append(index["sql"])
            }
        }
        return suspended
    }

    /// From how many deletes in a row of one entity ``applyRosterChanges(_:integrationID:runID:checkpoint:now:)``
    /// applies them as a set (see ``applyDeletes(_:integrationID:runID:checkpoint:lookups:now:)``) instead of three
    /// statements per record.
    static let setDeleteThreshold = 256

    /// Applies deletes of one entity (parked ones skipped) as a set, up to ``ChangeBlocks/capacity`` at a time.
    ///
    /// When the held records between a batch's first and last sourcedId (but those this run added or updated) are the
    /// batch itself, as in a rollover that ends a whole year, the batch goes as one range (``HistorySetWriter``): one
    /// `roster_history_sets` row tells every delete, and one statement removes the records. Otherwise its deletes go
    /// ``deleteBatch`` keys to a statement: a `delete` history row per change (with the change's digest and title) that
    /// also carries the held record's add when it was not logged yet (one row where one by one writes two), and the
    /// held records removed. ``rosterHistory(sourcedID:integrationID:entities:)`` tells the same story from any of them.
    private func applyDeletes(
        _ deletes: ArraySlice<RosterChange>, integrationID: String, runID: String, checkpoint: (() throws -> Void)?,
        lookups: EnrollmentLookupWriter?, now: Double
    ) throws {
        guard let entity = deletes.first?.record.entity else { return }
        // Per batch of keys, bound straight from the changes: one statement writes their history rows, one removes
        // them. One history row per record: its delete, carrying the add that the held record kept (`add_logged = 0`)
        // in `added_run` and `added_at` (see migration `v15-history-add-with-delete`); the LEFT JOINs keep SQLite's
        // loop order (each key, then its held record by primary key, then the run that added it) and a row for every
        // key. Each batch's history rows are written before its records go.
        var statements: [Int: (history: FastStatement, delete: FastStatement)] = [:]
        func statementsFor(_ count: Int) throws -> (history: FastStatement, delete: FastStatement) {
            if let made = statements[count] { return made }
            let history = try FastStatement(db, """
                INSERT INTO roster_history (integration_id, entity, sourced_id, run_id, op, digest, title, at, added_run, added_at)
                SELECT ?1, ?2, k.column1, ?3, 'delete', k.column2, k.column3, ?4, r.id, r.finished_at
                FROM (VALUES \(repeatElement("(?, ?, ?)", count: count).joined(separator: ", "))) k
                LEFT JOIN roster_records x ON x.integration_id = ?1 AND x.entity = ?2 AND x.sourced_id = k.column1
                LEFT JOIN sync_runs r ON r.id = x.run_id AND x.add_logged = 0
                """)
            let delete = try FastStatement(db, """
                DELETE FROM roster_records WHERE integration_id = ?1 AND entity = ?2
                AND sourced_id IN (\((0..<count).map { "?\($0 + 3)" }.joined(separator: ", ")))
                """)
            history.bind(1, integrationID)
            history.bind(2, entity)
            history.bind(3, runID)
            history.bind(4, now)
            delete.bind(1, integrationID)
            delete.bind(2, entity)
            statements[count] = (history, delete)
            return (history, delete)
        }
        func applyByKey(_ batch: ArraySlice<RosterRecord>) throws {
            let (history, delete) = try statementsFor(batch.count)
            for (index, record) in batch.enumerated() {
                let at = Int32(index)
                history.bind(5 + 3 * at, record.sourcedID)
                history.bind(6 + 3 * at, Int(record.digest))
                history.bind(7 + 3 * at, record.title)
                delete.bind(3 + at, record.sourcedID)
            }
            try history.run()
            try delete.run()
        }
        var ranges = try HistorySetWriter(db, integrationID: integrationID, entity: entity, runID: runID, now: now)
        var batch: [RosterRecord] = []
        batch.reserveCapacity(ChangeBlocks.capacity)
        func flush() throws {
            guard !batch.isEmpty else { return }
            let asRange = try batch.count >= Self.deleteBatch && ranges.apply(batch[...])
            if !asRange {
                for start in stride(from: 0, to: batch.count, by: Self.deleteBatch) {
                    try applyByKey(batch[start..<min(start + Self.deleteBatch, batch.count)])
                }
            }
            batch.removeAll(keepingCapacity: true)
        }
        let forgetsLookups = lookups != nil && entity == EnrollmentLookupSQL.entity
        if let checkpoint { try checkpoint() }
        var count = 0
        for change in deletes where !change.parked {
            count &+= 1
            if count & 8191 == 0, let checkpoint { try checkpoint() }
            if forgetsLookups { try lookups?.forget(change.record.sourcedID) }
            batch.append(change.record)
            if batch.count == ChangeBlocks.capacity { try flush() }
        }
        try flush()
    }

    /// Deletes applied as a set but not as a range go this many to a statement (and a range holds at least as many).
    static let deleteBatch = 64

    /// Stores a new sync run as given; its id must not be in use.
    public func insertSyncRun(_ run: SyncRunRecord) throws {
        try db.execute(sql: """
            INSERT INTO sync_runs (id, integration_id, bundle, started_at, finished_at, decision, reasons, counts, report,
                                   based_on_run, bundle_sha256, policy, base_roster_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [run.id, run.integrationID, run.bundle, run.startedAt, run.finishedAt, run.decision.rawValue, run.reasons,
                             run.counts, run.report, run.basedOnRun, run.bundleSHA256, run.policy, run.baseRosterVersion])
    }

    /// Records a run's decision, its reasons (JSON array) and when it was decided; an unknown id changes nothing.
    public func updateSyncRun(id: String, decision: SyncDecision, reasons: String, finishedAt: Double) throws {
        try db.execute(sql: "UPDATE sync_runs SET decision = ?, reasons = ?, finished_at = ? WHERE id = ?",
                       arguments: [decision.rawValue, reasons, finishedAt, id])
    }

    /// Records a run's decision and when it was made (`finishedAt`); an unknown id changes nothing.
    public func updateSyncRunDecision(id: String, decision: SyncDecision, finishedAt: Double) throws {
        try db.execute(sql: "UPDATE sync_runs SET decision = ?, finished_at = ? WHERE id = ?",
                       arguments: [decision.rawValue, finishedAt, id])
    }

    /// The sync run with that id, or nil when there is none.
    public func syncRun(id: String) throws -> SyncRunRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM sync_runs WHERE id = ?", arguments: [id]).map(Self.syncRun)
    }

    /// Sync runs, newest first, optionally of one integration.
    public func syncRuns(integrationID: String? = nil) throws -> [SyncRunRecord] {
        let sql = "SELECT * FROM sync_runs" + (integrationID == nil ? "" : " WHERE integration_id = ?")
            + " ORDER BY started_at DESC, rowid DESC"
        return try Row.fetchAll(db, sql: sql, arguments: integrationID.map { [$0] } ?? []).map(Self.syncRun)
    }

    /// The last run whose changes were applied to the integration's roster.
    public func lastAppliedRun(integrationID: String) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT id FROM sync_runs WHERE integration_id = ? AND decision IN \(SyncDecision.sqlList(SyncDecision.appliedChanges))
            ORDER BY finished_at DESC, rowid DESC LIMIT 1
            """, arguments: [integrationID])
    }

    private static func syncRun(_ row: Row) -> SyncRunRecord {
        SyncRunRecord(
            id: row["id"], integrationID: row["integration_id"], bundle: row["bundle"], startedAt: row["started_at"],
            finishedAt: row["finished_at"], decision: SyncDecision(stored: row["decision"]), reasons: row["reasons"], counts: row["counts"],
            report: row["report"], basedOnRun: row["based_on_run"], bundleSHA256: row["bundle_sha256"], policy: row["policy"],
            baseRosterVersion: row["base_roster_version"])
    }

    /// A record's story in one integration (or, with nil, in every integration), oldest first: the history rows, and
    /// the add of a held record that has not changed since (kept in the record itself; see `applyRosterChanges`).
    /// SourcedIds are unique only inside a district: callers showing one record pass its integration.
    /// - Parameter entities: the entity names records are held under.
    public func rosterHistory(sourcedID: String, integrationID: String? = nil, entities: [String]) throws -> [RosterHistoryEntry] {
        let entityList = Self.sqlList(entities)
        // Both halves stay on their primary keys: roster_history's starts with sourced_id, roster_records' with the
        // integration, listed (all of them, or the one asked for) so that SQLite can seek per integration and entity.
        let historyFilter = integrationID == nil ? "" : " AND h.integration_id = ?"
        let integrations = integrationID == nil ? "SELECT id FROM integrations" : "?"
        var arguments: [(any DatabaseValueConvertible)?] = [sourcedID]
        if let integrationID { arguments.append(integrationID) }
        arguments.append(sourcedID)
        if let integrationID { arguments.append(integrationID) }
        if let integrationID { arguments.append(integrationID) }
        arguments.append(sourcedID)
        var entries: [(entry: RosterHistoryEntry, runOrder: Int64?)] = try Row.fetchAll(db, sql: """
            SELECT integration_id, entity, sourced_id, run_id, op, title, at, run_order FROM (
                SELECT h.integration_id, h.entity, h.sourced_id, h.run_id, h.op, h.title, h.at, r.rowid AS run_order
                FROM roster_history h LEFT JOIN sync_runs r ON r.id = h.run_id
                WHERE h.sourced_id = ?\(historyFilter)
                UNION ALL
                SELECT h.integration_id, h.entity, h.sourced_id, h.added_run, 'add', h.title, h.added_at, r.rowid
                FROM roster_history h LEFT JOIN sync_runs r ON r.id = h.added_run
                WHERE h.sourced_id = ?\(historyFilter) AND h.added_run IS NOT NULL
                UNION ALL
                SELECT x.integration_id, x.entity, x.sourced_id, x.run_id, 'add', x.title, r.finished_at, r.rowid
                FROM roster_records x JOIN sync_runs r ON r.id = x.run_id
                WHERE x.integration_id IN (\(integrations)) AND x.entity IN (\(entityList))
                    AND x.sourced_id = ? AND x.add_logged = 0
            )
            """, arguments: StatementArguments(arguments)).map {
            (RosterHistoryEntry(integrationID: $0[0], entity: $0[1], sourcedID: $0[2], runID: $0[3], operation: $0[4],
                                title: $0[5], at: $0[6]), $0[7])
        }
        // Deletes applied as a range (``HistorySets``): the delete, and the add the set carries.
        for member in try HistorySets.members(db, sourcedID: sourcedID, integrationID: integrationID, entities: entities) {
            if let addedRun = member.addedRun, let addedAt = member.addedAt {
                entries.append((RosterHistoryEntry(integrationID: member.integrationID, entity: member.entity, sourcedID: sourcedID,
                                                   runID: addedRun, operation: "add", title: member.title, at: addedAt),
                                member.addedOrder))
            }
            entries.append((RosterHistoryEntry(integrationID: member.integrationID, entity: member.entity, sourcedID: sourcedID,
                                               runID: member.runID, operation: "delete", title: member.title, at: member.at),
                            member.runOrder))
        }
        // Oldest first; runs of one time in the order they were recorded (a run gone from sync_runs first, as SQL
        // orders NULL); otherwise as read.
        return entries.enumerated().sorted { a, b in
            if a.element.entry.at != b.element.entry.at { return a.element.entry.at < b.element.entry.at }
            let x = a.element.runOrder ?? Int64.min, y = b.element.runOrder ?? Int64.min
            return x != y ? x < y : a.offset < b.offset
        }.map(\.element.entry)
    }

    /// The integrations that hold, held or merged a record with this sourcedId (in `roster_records`,
    /// `roster_history` or `roster_aliases`), in integration id order.
    /// - Parameter entities: the entity names records are held under.
    public func integrationsKnowing(sourcedID: String, entities: [String]) throws -> [String] {
        let known = try String.fetchAll(db, sql: """
            SELECT integration_id FROM roster_history WHERE sourced_id = ?
            UNION
            SELECT integration_id FROM roster_records
            WHERE integration_id IN (SELECT id FROM integrations) AND entity IN (\(Self.sqlList(entities))) AND sourced_id = ?
            UNION
            SELECT integration_id FROM roster_aliases WHERE old_id = ?
            UNION
            SELECT integration_id FROM roster_aliases WHERE new_id = ?
            ORDER BY 1
            """, arguments: [sourcedID, sourcedID, sourcedID, sourcedID])
        let fromSets = try HistorySets.members(db, sourcedID: sourcedID, integrationID: nil, entities: entities).map(\.integrationID)
        guard !fromSets.isEmpty else { return known }
        return Set(known + fromSets).sorted { Self.compareBytes($0, $1) < 0 }
    }

    /// Names as an SQL list of quoted literals (entity names are ours, but quoted anyway).
    static func sqlList(_ names: [String]) -> String {
        names.map { "'\($0.replacingOccurrences(of: "'", with: "''"))'" }.joined(separator: ", ")
    }

    /// The course sourcedIds of an integration whose mapping is locked (a student started them).
    public func lockedCourseSourcedIDs(integrationID: String) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: "SELECT sourced_id FROM courses WHERE integration_id = ? AND locked_at IS NOT NULL",
                                arguments: [integrationID]))
    }
}

extension SQLiteTransaction {
    /// Sets the folder or .zip an integration's nightly sync reads.
    public func setSyncSource(integrationID: String, source: String) throws {
        try db.execute(sql: "UPDATE integrations SET sync_source = ? WHERE id = ?", arguments: [source, integrationID])
    }

    /// The integration's sync policy as stored (JSON), or nil for the defaults.
    public func syncPolicyJSON(integrationID: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT sync_policy FROM integrations WHERE id = ?", arguments: [integrationID])
    }

    /// Stores an integration's sync policy as JSON, as ``syncPolicyJSON(integrationID:)`` reads it back; an unknown id
    /// changes nothing.
    public func setSyncPolicyJSON(integrationID: String, json: String) throws {
        try db.execute(sql: "UPDATE integrations SET sync_policy = ? WHERE id = ?", arguments: [json, integrationID])
    }

    /// The folder or .zip an integration's nightly sync reads; nil when none is set or there is no such integration.
    public func syncSource(integrationID: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT sync_source FROM integrations WHERE id = ?", arguments: [integrationID])
    }

    /// Integrations whose next sync instant is at or before `now`, earliest first.
    public func dueSyncs(now: Double) throws -> [DueSync] {
        try Row.fetchAll(db, sql: """
            SELECT id, sync_time, timezone, next_sync_at, sync_source FROM integrations
            WHERE next_sync_at IS NOT NULL AND next_sync_at <= ? ORDER BY next_sync_at
            """, arguments: [now]).map {
            DueSync(integrationID: $0[0], syncTime: $0[1], timezone: $0[2], dueAt: $0[3], source: $0[4])
        }
    }

    /// Moves an integration's schedule on after a due sync was handled (run, failed or missed).
    public func advanceSchedule(integrationID: String, nextSyncAt: Double, lastRun: String?) throws {
        try db.execute(sql: "UPDATE integrations SET next_sync_at = ?, last_sync_run = COALESCE(?, last_sync_run) WHERE id = ?",
                       arguments: [nextSyncAt, lastRun, integrationID])
    }
}
