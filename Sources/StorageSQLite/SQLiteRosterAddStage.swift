import Foundation
import GRDB
import StorageCore

/// A sync's adds written ahead into a temporary table of the store's writing connection (see ``RosterAddStage``).
///
/// A thread of its own takes the records the diff hands over in chunks and writes each chunk in a transaction on the
/// writing connection, between other writers' transactions: a temporary table takes no lock on the database, so
/// nobody else waits on it for more than one chunk. The apply, a transaction of the same connection, reads the table
/// (``SQLiteTransaction/applyRosterChanges(groups:integrationID:runID:stage:checkpoint:now:)``). The table lives in
/// SQLite's temporary database: it is never in the database file, and goes with the connection if the process dies.
///
/// Nothing is written until ``minimum`` records are queued, so a small sync does not stage at all.
final class SQLiteRosterAddStage: RosterAddStage, @unchecked Sendable {
    /// Records per chunk handed to the writing thread.
    static let chunkSize = 4096
    /// Chunks waiting for it, at most (the diff waits beyond).
    static let maxChunks = 32

    /// The temporary table, e.g. `roster_add_stage_3f2a9c41d07b4e55` (in `temp`).
    let table: String
    /// Records queued before anything is written: below it, nothing is staged.
    let minimum: Int
    private let pool: DatabasePool
    private let condition = NSCondition()
    private var chunks: [[RosterRecord]] = []
    private var chunk: [RosterRecord] = []
    private var queued = 0
    private var finished = false
    private var writing = false
    private var failed = false
    private var discarded = false
    private var created = false
    private var tally = RosterStageTally()
    /// Run of records of one entity being tallied (the name hashed once per run).
    private var runEntity = ""
    private var run = RosterStageTally.Entry()

    /// The store's count of stages made, moved into the roster and dropped.
    let statistics: RosterStageStatistics

    init(pool: DatabasePool, minimum: Int = 20_000, statistics: RosterStageStatistics = RosterStageStatistics()) {
        self.pool = pool
        self.statistics = statistics
        self.minimum = max(1, minimum)
        table = "roster_add_stage_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        chunk.reserveCapacity(Self.chunkSize)
    }

    func stage(_ record: RosterRecord) {
        if record.entity != runEntity {
            closeRun()
            runEntity = record.entity
        }
        run.add(record.digest)
        chunk.append(record)
        if chunk.count >= Self.chunkSize { send() }
    }

    private func closeRun() {
        if run.count > 0 { tally.note(entity: runEntity, entry: run) }
        run = RosterStageTally.Entry()
    }

    /// Hands the filled chunk to the writing thread (started once `minimum` records are queued).
    private func send() {
        guard !chunk.isEmpty else { return }
        var full: [RosterRecord] = []
        full.reserveCapacity(Self.chunkSize)
        swap(&full, &chunk)
        condition.lock()
        defer { condition.unlock() }
        if failed || discarded { return }
        queued += full.count
        chunks.append(full)
        if !writing && queued >= minimum {
            writing = true
            let thread = Thread { [self] in write() }
            thread.name = "rosterflow.stage-adds"
            thread.start()
        }
        condition.broadcast()
        while writing && chunks.count > Self.maxChunks && !failed { condition.wait() }
    }

    func finish() {
        closeRun()
        if queued + chunk.count >= minimum { send() }
        condition.lock()
        finished = true
        // Too few to stage: what was queued is dropped, and the apply inserts the adds itself.
        if !writing { chunks = [] }
        condition.broadcast()
        while writing { condition.wait() }
        condition.unlock()
    }

    var staged: RosterStageTally? {
        condition.lock()
        defer { condition.unlock() }
        guard finished, created, !failed, !discarded, chunks.isEmpty else { return nil }
        return tally
    }

    func discard() {
        condition.lock()
        discarded = true
        chunks = []
        condition.broadcast()
        while writing { condition.wait() }
        let drop = created
        created = false
        condition.unlock()
        chunk = []
        guard drop else { return }
        let pool = self.pool, table = self.table
        // Off the caller's thread: the writing connection may be busy with someone's transaction.
        let statistics = self.statistics
        DispatchQueue.global(qos: .utility).async {
            try? pool.writeWithoutTransaction { db in try db.execute(sql: "DROP TABLE IF EXISTS temp.\(table)") }
            statistics.dropped(table)
        }
    }

    /// The writing thread: takes chunks until the stage is finished (or discarded), a transaction each.
    private func write() {
        var ok = true
        var made = false
        while true {
            condition.lock()
            while chunks.isEmpty && !finished && !discarded { condition.wait() }
            if discarded || (chunks.isEmpty && finished) || !ok {
                if !ok { failed = true }
                chunks = []
                writing = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let next = chunks.removeFirst()
            condition.broadcast()
            condition.unlock()
            do {
                try pool.writeWithoutTransaction { db in
                    if !made {
                        try db.execute(sql: """
                            CREATE TEMP TABLE \(table) (
                                entity TEXT NOT NULL, sourced_id TEXT NOT NULL, digest INTEGER NOT NULL,
                                ref1 TEXT, ref2 TEXT, ref3 TEXT, title TEXT, fields BLOB, ref4 TEXT,
                                PRIMARY KEY (entity, sourced_id)
                            ) WITHOUT ROWID
                            """)
                        made = true
                        statistics.made(table)
                        condition.lock()
                        created = true
                        condition.unlock()
                    }
                    try db.inTransaction {
                        var insert = try BatchedInsert<RosterRecord>(
                            db, sql: "INSERT INTO temp.\(table) (entity, sourced_id, digest, ref1, ref2, ref3, title, fields, ref4)",
                            row: "(?, ?, ?, ?, ?, ?, ?, ?, ?)", shared: 0, width: 9
                        ) { statement, offset, record in
                            statement.bind(offset + 1, record.entity)
                            statement.bindKeyAndReferences(of: record, at: offset + 2)
                            statement.bind(offset + 8, record.fields)
                            statement.bind(offset + 9, record.ref4)
                        }
                        for record in next { try insert.add(record) }
                        try insert.flush()
                        return .commit
                    }
                }
            } catch {
                // A record staged twice, a full disk: the apply inserts the adds itself.
                ok = false
            }
        }
    }
}

/// What a store's stages did: the tables that exist, and how many stages an apply moved into the roster.
final class RosterStageStatistics: @unchecked Sendable {
    private let lock = NSLock()
    private var tables: Set<String> = []
    private var moved = 0

    func made(_ table: String) { lock.lock(); tables.insert(table); lock.unlock() }
    func dropped(_ table: String) { lock.lock(); tables.remove(table); lock.unlock() }
    func movedIntoRoster() { lock.lock(); moved += 1; lock.unlock() }

    /// Temporary tables of stages not dropped yet.
    var liveTables: Set<String> { lock.lock(); defer { lock.unlock() }; return tables }
    /// Stages whose adds an apply moved into the roster.
    var stagesMoved: Int { lock.lock(); defer { lock.unlock() }; return moved }
}

extension SQLiteStore {
    /// A stage in a temporary table of the writing connection (see ``SQLiteRosterAddStage``).
    public func makeRosterAddStage() -> (any RosterAddStage)? {
        SQLiteRosterAddStage(pool: pool, minimum: rosterStageMinimum, statistics: rosterStageStatistics)
    }
}
