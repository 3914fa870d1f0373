import Foundation
import GRDB

/// RosterFlow's embedded store: one SQLite file in WAL mode, opened through the system libsqlite3.
///
/// Writes submitted concurrently through ``write(_:)`` are group-committed: they share one transaction and one
/// fsync, each inside its own savepoint so that one refused write does not undo the others. Durable throughput is
/// therefore not capped at one fsync per event.
public final class SQLiteStore: Sendable {
    /// How hard SQLite makes each commit durable. `full` survives power loss in WAL mode; `normal` survives a
    /// process crash only.
    public enum Durability: String, Sendable {
        case full = "FULL"
        case normal = "NORMAL"
    }

    /// The database file's path.
    public let path: String
    let pool: DatabasePool
    private let committer: GroupCommitter

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String, durability: Durability = .full, maxBatch: Int = 512) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.journalMode = .wal
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability.rawValue)")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Checkpoint the WAL into the database less often (every ~40 MB instead of ~4 MB): a page rewritten by
            // many commits is copied back once, which halves the I/O of a busy writer. Readers are unaffected.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 10000")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        do {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
                throw StorageError(.database, "cannot open \(path): the folder \(directory) does not exist")
            }
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrate(pool)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.database, "cannot open the database at \(path): \(error)")
        }
        committer = GroupCommitter(pool: pool, maxBatch: maxBatch)
    }

    /// Brings the schema up to date. Several processes may open a new database at once (workers starting together):
    /// the one that loses the race to create the schema sees the winner's migrations on its next attempt.
    private static func migrate(_ pool: DatabasePool) throws {
        var attempt = 0
        while true {
            do {
                try Schema.migrator.migrate(pool)
                return
            } catch {
                attempt += 1
                if attempt >= 5 { throw error }
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    /// Runs `body` in a write transaction shared with other concurrent writers (group commit).
    ///
    /// `body` runs inside its own savepoint: if it throws, its changes are undone and the error is returned to this
    /// caller only. It returns once the transaction is durably committed.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await committer.submit(body)
    }

    /// Group-commit transactions committed, and the writes they carried, since the store was opened.
    public var groupCommitStatistics: (transactions: Int, writes: Int) { committer.statistics }

    /// Runs `body` in a write transaction of its own, on the calling thread.
    @discardableResult
    public func writeNow<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        try mapErrors { try pool.write { db in try body(StoreTransaction(db)) } }
    }

    /// Runs `body` in a read-only snapshot.
    public func read<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        try mapErrors { try pool.read { db in try body(StoreTransaction(db)) } }
    }

    /// Runs raw SQL statements (benchmarks and maintenance only).
    public func executeRaw(_ sql: String) throws {
        try pool.writeWithoutTransaction { db in try db.execute(sql: sql) }
    }

    /// Writes rows straight into the tables with no engine, `perTransaction` transitions per commit: the floor
    /// that the engine's throughput is compared with in `rosterflow bench engine`.
    public func writeRawTransitions(
        instanceIDs: [String], transitionsPerInstance: Int, perTransaction: Int, now: Double
    ) throws -> Int {
        var work: [(String, Int)] = []
        work.reserveCapacity(instanceIDs.count * transitionsPerInstance)
        for step in 0..<transitionsPerInstance { for id in instanceIDs { work.append((id, step)) } }
        var index = 0
        while index < work.count {
            let end = min(index + perTransaction, work.count)
            try pool.write { db in
                let update = try db.cachedStatement(sql: """
                    UPDATE workflow_instances SET state = ?, previous_state = ?, entered_at = ?, updated_at = ?,
                        row_version = row_version + 1 WHERE id = ? AND row_version = ?
                    """)
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO transitions (instance_id, from_state, to_state, event, actor, role, at, reason, row_version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for (id, step) in work[index..<end] {
                    try update.execute(arguments: ["s\(step + 1)", "s\(step)", now, now, id, step + 1])
                    try insert.execute(arguments: [id, "s\(step)", "s\(step + 1)", "e\(step)", "bench", "system", now, nil, step + 2])
                }
            }
            index = end
        }
        return work.count
    }

    private func mapErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw StorageError(.database, "database error: \(error.message ?? error.description)")
        }
    }
}

/// Collects concurrent write requests and commits them together.
///
/// While one transaction is committing, new requests queue up; the next transaction takes all of them (up to
/// `maxBatch`). One request costs one savepoint, not one fsync.
final class GroupCommitter: @unchecked Sendable {
    private struct Job {
        let run: (Database) throws -> Any
        let finish: (Result<Any, Error>) -> Void
    }

    private let pool: DatabasePool
    private let maxBatch: Int
    private let lock = NSLock()
    private var pending: [Job] = []
    private var draining = false
    private let queue = DispatchQueue(label: "rosterflow.group-commit")
    private var batches = 0
    private var jobs = 0

    /// Transactions committed and requests they carried, since the store was opened.
    var statistics: (transactions: Int, writes: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (batches, jobs)
    }

    init(pool: DatabasePool, maxBatch: Int) {
        self.pool = pool
        self.maxBatch = max(1, maxBatch)
    }

    func submit<T: Sendable>(_ body: @escaping @Sendable (StoreTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let job = Job(
                run: { db in try body(StoreTransaction(db)) },
                finish: { result in continuation.resume(with: result.map { $0 as! T }) })
            lock.lock()
            pending.append(job)
            let start = !draining
            draining = true
            lock.unlock()
            if start { queue.async { self.drain() } }
        }
    }

    private func drain() {
        while true {
            lock.lock()
            if pending.isEmpty {
                draining = false
                lock.unlock()
                return
            }
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            batches += 1
            jobs += batch.count
            lock.unlock()
            commit(batch)
        }
    }

    private func commit(_ batch: [Job]) {
        var results: [Result<Any, Error>] = []
        results.reserveCapacity(batch.count)
        do {
            try pool.write { db in
                results.removeAll(keepingCapacity: true)
                let tx = StoreTransaction(db)
                for job in batch {
                    do {
                        results.append(.success(try tx.savepoint { try job.run(db) }))
                    } catch let error as DatabaseError {
                        results.append(.failure(StorageError(.database, "database error: \(error.message ?? error.description)")))
                    } catch {
                        results.append(.failure(error))
                    }
                }
            }
        } catch {
            let failure = StorageError(.database, "the transaction could not be committed: \(error)")
            for job in batch { job.finish(.failure(failure)) }
            return
        }
        for (job, result) in zip(batch, results) { job.finish(result) }
    }
}
