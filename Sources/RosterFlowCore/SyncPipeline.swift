import Foundation
import OneRoster
import StorageCore

/// Diffs streamed records on a thread of its own, so that reading and validating a bundle (one core) overlaps with
/// loading the held digests and diffing against them (another core).
///
/// The reader hands valid records over in chunks through a bounded queue (a hundred thousand records at most, so
/// memory stays flat); the diff thread first loads the held digests, then takes the chunks in order.
///
/// While the diff passes over a long run of held records the bundle omits (a school-year rollover: every enrollment
/// of the year ending sorts before the first of the next), it takes nothing for seconds. The queue then holds up to
/// ``maxChunksWhilePassingOver`` chunks, so that the reader goes on reading on the other core instead of waiting;
/// the diff takes them once it has passed over.
final class SyncDiffPipeline: @unchecked Sendable {
    static let chunkSize = 2048
    static let maxChunks = 64
    static let maxChunksWhilePassingOver = 512

    private let condition = NSCondition()
    private var chunks: [[OneRosterRecord]] = []
    private var closed = false
    /// Set by the diff thread while it passes over a long run of held records (see ``passingOver(_:)``).
    private var diffPassingOver = false
    private var result: Result<SyncDiff, Error>?
    /// The chunk being filled (reader side only).
    private var chunk: [OneRosterRecord] = []
    /// Which files are bulk: the reader tells it (``OneRosterBundleReader/Options/manifestRead``), the diff asks.
    let bulkFiles: BulkFiles

    /// Starts the diff thread, which runs `body`: it takes the chunks of records in order from `next` (nil after the
    /// last) and returns the diff.
    ///
    /// `body` also gets `passingOver`, to say when it starts (true) and stops (false) passing over a long run of held
    /// records, taking nothing meanwhile.
    init(bulkFiles: BulkFiles,
         _ body: @escaping @Sendable (_ next: () -> [OneRosterRecord]?, _ passingOver: @escaping (Bool) -> Void) throws -> SyncDiff) {
        self.bulkFiles = bulkFiles
        chunk.reserveCapacity(Self.chunkSize)
        let thread = Thread { [self] in run(body) }
        thread.name = "rosterflow.sync-diff"
        thread.start()
    }

    /// Queues one record for the diff (reader side).
    func put(_ record: OneRosterRecord) {
        chunk.append(record)
        if chunk.count >= Self.chunkSize { send() }
    }

    /// Waits until every queued record is diffed and returns the diff (reader side). Call it exactly once, also
    /// when reading failed, so that the diff thread ends.
    func finish() throws -> SyncDiff {
        send()
        condition.lock()
        closed = true
        condition.broadcast()
        while result == nil { condition.wait() }
        let result = self.result!
        condition.unlock()
        return try result.get()
    }

    private func send() {
        guard !chunk.isEmpty else { return }
        var full: [OneRosterRecord] = []
        full.reserveCapacity(Self.chunkSize)
        swap(&full, &chunk)
        condition.lock()
        while chunks.count >= (diffPassingOver ? Self.maxChunksWhilePassingOver : Self.maxChunks) { condition.wait() }
        chunks.append(full)
        condition.broadcast()
        condition.unlock()
    }

    private func take() -> [OneRosterRecord]? {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !closed { condition.wait() }
        guard !chunks.isEmpty else { return nil }
        let next = chunks.removeFirst()
        condition.broadcast()
        return next
    }

    /// Lets the queue grow while the diff passes over held records (true), and bounds it again (false).
    private func passingOver(_ on: Bool) {
        condition.lock()
        diffPassingOver = on
        condition.broadcast()
        condition.unlock()
    }

    private func run(_ body: (_ next: () -> [OneRosterRecord]?, _ passingOver: @escaping (Bool) -> Void) throws -> SyncDiff) {
        let outcome = Result { try body(take, { [self] on in passingOver(on) }) }
        // On failure, keep taking chunks so that the reader never waits forever.
        while take() != nil {}
        condition.lock()
        result = outcome
        condition.broadcast()
        condition.unlock()
    }
}

/// Finds the held digest of each streamed record by merging the records of an entity, which bundles usually list in
/// sourcedId order, with the held digests read in that order: no index of millions of held digests is built, and
/// reading them overlaps with the bundle's. When an entity's records come out of order, what is left of its held
/// digests is indexed in a dictionary from then on.
final class HeldDigestMerge {
    private struct Merge {
        let cursor: RosterDigestCursor
        var pending: (sourcedID: String, digest: Int64)?
        var last: String?
        /// Held records passed over (not in the stream so far), or met as explicit deletes, unless kept in `deletes`.
        var unseen: [(String, Int64)] = []
        /// Instead of `unseen`, the same records as the changes that delete them, encoded from the cursor's row (see
        /// `capturesDeletes`).
        var deletes: EncodedChanges?
        var index: [String: Int64]?

        /// The pending held record is not in the stream (so far): kept as unseen, and the cursor steps on.
        mutating func passOver() throws {
            guard let p = pending else { return }
            if deletes == nil || !cursor.appendCurrentAsDelete(to: &deletes!) {
                keepDeletesAsUnseen()
                unseen.append((p.sourcedID, p.digest))
            }
            pending = try cursor.next()
        }

        /// The deletes kept so far go back to `unseen` (as sourcedIds and digests), and no more are kept.
        mutating func keepDeletesAsUnseen() {
            guard let kept = deletes.take() else { return }
            var passed: [(String, Int64)] = []
            passed.reserveCapacity(kept.count + unseen.count)
            kept.forEach { passed.append(($0.record.sourcedID, $0.record.digest)) }
            unseen = passed + unseen
        }
    }

    private let tx: any StoreTransaction
    private let integrationID: String
    private let capturesDeletes: (RosterEntity) -> Bool
    private let passingOver: (Bool) -> Void
    private let longPassOver: Int
    private var merges = [Merge?](repeating: nil, count: RosterEntity.allCases.count)

    /// - Parameter capturesDeletes: whether the held records of an entity that the stream passes over are kept as
    ///   their deletes too (when the cursor has them at hand): asked when the entity's first record streams by (or at
    ///   the end), for entities whose file is bulk, so the plan does not read a rollover's millions again.
    /// - Parameter passingOver: told true when a streamed record makes the merge pass over more than `longPassOver`
    ///   held records, and false when it is done (see ``SyncDiffPipeline``).
    init(tx: any StoreTransaction, integrationID: String,
         passingOver: @escaping (Bool) -> Void = { _ in }, longPassOver: Int = 4096,
         capturesDeletes: @escaping (RosterEntity) -> Bool) {
        self.tx = tx
        self.integrationID = integrationID
        self.passingOver = passingOver
        self.longPassOver = longPassOver
        self.capturesDeletes = capturesDeletes
    }

    /// The held digest of a record (nil if not held), marking it seen unless it is an explicit delete.
    func held(_ entity: RosterEntity, _ sourcedID: String, explicitDelete: Bool) throws -> Int64? {
        let e = entity.index
        if merges[e] == nil { merges[e] = try start(entity) }
        return try Self.lookup(&merges[e]!, sourcedID, explicitDelete, longPassOver: longPassOver, passingOver: passingOver)
    }

    /// Hands the diff every held record the stream did not carry as an active row.
    func finish(_ diff: inout SyncDiff) throws {
        for entity in RosterEntity.allCases where diff.heldCount(entity) > 0 {
            // Taken out of the array (not copied), so the arrays it holds are appended to in place.
            var merge = try merges[entity.index].take() ?? start(entity)
            if var index = merge.index {
                for (id, digest) in merge.unseen { index[id] = digest }
                diff.setUnseenHeld(entity, index)
                continue
            }
            while merge.pending != nil { try merge.passOver() }
            if let deletes = merge.deletes {
                diff.setUnseenHeld(entity, encodedDeletes: deletes)
            } else {
                diff.setUnseenHeld(entity, merge.unseen)
            }
        }
        merges = []
    }

    private func start(_ entity: RosterEntity) throws -> Merge {
        let cursor = try tx.rosterDigestCursor(integrationID: integrationID, entity: entity.rawValue)
        var merge = Merge(cursor: cursor, pending: try cursor.next())
        if capturesDeletes(entity) {
            // Encoded as they are passed over (a rollover passes over millions): a few dozen bytes each.
            merge.deletes = EncodedChanges(entity: entity.rawValue)
        }
        return merge
    }

    /// Bytewise three-way comparison: SQLite's order of the held sourcedIds.
    static func compare(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                if n > 0, let p = x.baseAddress, let q = y.baseAddress {
                    let c = memcmp(p, q, n)
                    if c != 0 { return Int(c) }
                }
                return x.count - y.count
            }
        }
    }

    private static func lookup(
        _ m: inout Merge, _ id: String, _ explicitDelete: Bool, longPassOver: Int, passingOver: (Bool) -> Void
    ) throws -> Int64? {
        if m.index == nil, let last = m.last, compare(last, id) >= 0 {
            m.keepDeletesAsUnseen()
            var index: [String: Int64] = [:]
            index.reserveCapacity(m.unseen.count + 1024)
            for (held, digest) in m.unseen { index[held] = digest }
            m.unseen = []
            while let p = m.pending {
                index[p.sourcedID] = p.digest
                m.pending = try m.cursor.next()
            }
            m.index = index
        }
        if m.index != nil {
            return explicitDelete ? nil : m.index!.removeValue(forKey: id)
        }
        m.last = id
        var order = 1
        var passed = 0
        defer { if passed > longPassOver { passingOver(false) } }
        while let p = m.pending {
            order = compare(p.sourcedID, id)
            guard order < 0 else { break }
            try m.passOver()
            passed += 1
            if passed == longPassOver + 1 { passingOver(true) }
        }
        guard order == 0, let p = m.pending else { return nil }
        if explicitDelete {
            try m.passOver()
            return nil
        }
        m.pending = try m.cursor.next()
        return p.digest
    }
}

/// Which files of the bundle being read are bulk (their omissions are deletes), told by the reader once it has read
/// the manifest (``OneRosterBundleReader/Options/manifestRead``) and asked by the diff thread.
final class BulkFiles: @unchecked Sendable {
    private let lock = NSLock()
    private var manifest: Manifest?

    func read(_ manifest: Manifest) {
        lock.lock()
        self.manifest = manifest
        lock.unlock()
    }

    /// Whether `entity`'s file is bulk; false until the manifest is read (a source without one: the plan reads).
    func isBulk(_ entity: RosterEntity) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return manifest?.mode(of: entity.file) == .bulk
    }
}
