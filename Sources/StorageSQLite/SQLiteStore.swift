import StorageCore
import Foundation
import GRDB

/// RosterFlow's embedded store: one SQLite file in WAL mode, opened through the system libsqlite3.
///
/// Writes submitted concurrently through ``write(_:)`` are group-committed: they share one transaction and one
/// fsync, each inside its own savepoint so that one refused write does not undo the others. Durable throughput is
/// therefore not capped at one fsync per event. With ``Durability/pipelined`` the fsync of one batch
/// overlaps the work of the next.
public final class SQLiteStore: RosterFlowStore {
    /// How a write is made durable before it is acknowledged.
    public enum Durability: String, Sendable, CaseIterable {
        /// Each commit fsyncs the write-ahead log inside the commit (SQLite `synchronous=FULL`).
        case full
        /// Commits write the log without waiting for the disk (`synchronous=NORMAL`); a separate flusher then
        /// fdatasyncs the log, and a write is acknowledged only after a flush that began after its commit has
        /// completed. Acknowledged writes are exactly as durable as with `full`, but the writer goes on with the
        /// next batch while the disk flushes the previous one.
        case pipelined
        /// No fsync before acknowledging (`synchronous=NORMAL`): survives a process crash, not a power loss.
        case normal

        var synchronousPragma: String { self == .full ? "FULL" : "NORMAL" }
    }

    /// The database file's path.
    public let path: String
    /// How writes are made durable.
    public let durability: Durability
    let pool: DatabasePool
    private let committer: GroupCommitter
    private let flusher: WALFlusher?
    private let counter: CommitCounter
    /// Copies the log into the database after long commits, beside the writer (see ``BackgroundCheckpointer``).
    let checkpointer: BackgroundCheckpointer

    /// Pages of write-ahead log after which a commit asks for a checkpoint (about 40 MB; see ``BackgroundCheckpointer``).
    static let checkpointPages: Int32 = 10_000

    /// From how many adds a sync stages them ahead of its apply (see ``makeRosterAddStage()``).
    let rosterStageMinimum: Int
    /// What this store's stages did (for tests).
    let rosterStageStatistics = RosterStageStatistics()

    /// Opens (creating if needed) the database at `path` and brings its schema up to date. A sync of at least
    /// `rosterStageMinimum` adds writes them ahead of its apply (see ``makeRosterAddStage()``).
    public init(path: String, durability: Durability = .full, maxBatch: Int = 512, rosterStageMinimum: Int = 20_000) throws {
        self.path = path
        self.rosterStageMinimum = rosterStageMinimum
        self.durability = durability
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.journalMode = .wal
        let walPages = WALPages()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability.synchronousPragma)")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Checkpoint the WAL into the database less often (every ~40 MB instead of ~4 MB): a page rewritten by
            // many commits is copied back once, which halves the I/O of a busy writer. Readers are unaffected.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.checkpointPages)")
            try db.execute(sql: "PRAGMA cache_size = -65536")
            // The log is copied into the database after a commit is acknowledged, not inside it, and beside the writer
            // (`BackgroundCheckpointer`): neither the commit that filled the log nor the next one waits for the copy.
            if !db.configuration.readonly { walPages.watch(db) }
        }
        do {
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
                throw StorageError(.database, "cannot open \(path): the folder \(directory) does not exist")
            }
            try Self.createPrivately(path)
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrate(pool)
        } catch let error as StorageError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
            throw StorageError.translating(error)
        } catch {
            throw StorageError(.database, "cannot open the database at \(path): \(error)")
        }
        flusher = durability == .pipelined ? WALFlusher(walPath: path + "-wal") : nil
        checkpointer = BackgroundCheckpointer(path: path)
        committer = GroupCommitter(pool: pool, maxBatch: maxBatch, flusher: flusher, walPages: walPages, checkpointer: checkpointer)
        counter = CommitCounter(path: path)
        try flusher?.flushNow()
    }

    deinit {
        checkpointer.close()
    }

    /// Changes whenever anyone commits to this database file: SQLite's `PRAGMA data_version` on a read-only
    /// connection kept for it.
    public func commitCounter() -> Int64? { counter.value() }

    /// Creates a new database file 0600 before SQLite opens it: SQLite gives its `-wal`, `-shm` and `-journal` files the
    /// database file's permissions, so they are private too. An existing file is left as it is (`rosterflow doctor`
    /// reports one others can read).
    static func createPrivately(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != EEXIST {
            throw StorageError(.database, "cannot create the database \(path): \(String(cString: strerror(errno)))")
        }
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

    /// The names of the schema migrations applied to this database, in the order they ran.
    public func appliedMigrations() throws -> [String] {
        try mapErrors { try pool.read { db in try Schema.migrator.appliedIdentifiers(db) } }.sorted {
            (Self.migrationOrder[$0] ?? .max, $0) < (Self.migrationOrder[$1] ?? .max, $1)
        }
    }

    private static let migrationOrder: [String: Int] = Dictionary(
        Schema.migrator.migrations.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })

    /// Runs `body` in a write transaction shared with other concurrent writers (group commit).
    ///
    /// `body` runs inside its own savepoint: if it throws, its changes are undone and the error is returned to this
    /// caller only. It returns once the transaction is durably committed.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        try await committer.submit(body)
    }

    /// Group-commit transactions committed, and the writes they carried, since the store was opened.
    public var groupCommitStatistics: (transactions: Int, writes: Int) { committer.statistics }

    /// Runs `body` in a write transaction of its own, on the calling thread.
    @discardableResult
    public func writeNow<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        let result = try mapErrors { try pool.write { db in try body(SQLiteTransaction(db)) } }
        try flusher?.flushNow()
        committer.checkpointIfDue()
        return result
    }

    /// Runs `body` in a read-only snapshot on one of GRDB's reader queues: the caller's cooperative thread is
    /// suspended, not blocked.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        do {
            return try await pool.read { db in try body(SQLiteTransaction(db)) }
        } catch let error as DatabaseError {
            throw StorageError.translating(error)
        }
    }

    /// Runs `body` in a read-only snapshot on the calling thread.
    public func readNow<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        try mapErrors { try pool.read { db in try body(SQLiteTransaction(db)) } }
    }

    private func mapErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            throw StorageError.translating(error)
        }
    }
}

/// Collects concurrent write requests and commits them together.
///
/// While one transaction is committing, new requests queue up; the next transaction takes all of them (up to
/// `maxBatch`). One request costs one savepoint, not one fsync.
final class GroupCommitter: @unchecked Sendable {
    /// One submitted write: runs its body, keeps its typed result, resumes its caller (no boxing of the result in
    /// `Any`, no dynamic cast back, one allocation per write).
    private class Job: @unchecked Sendable {
        /// Runs the body and keeps its result; rethrows the body's error.
        func run(_ db: Database) throws {}
        /// Records that the write failed (refused, or undone with its savepoint).
        func fail(_ error: Error) {}
        /// Resumes the caller with the recorded result, or with `failure` when the batch itself failed.
        func resume(overriding failure: Error?) {}
    }

    private final class TypedJob<T: Sendable>: Job, @unchecked Sendable {
        private let body: @Sendable (any StoreTransaction) throws -> T
        private let continuation: CheckedContinuation<T, Error>
        private var result: Result<T, Error>?

        init(body: @escaping @Sendable (any StoreTransaction) throws -> T, continuation: CheckedContinuation<T, Error>) {
            self.body = body
            self.continuation = continuation
        }

        override func run(_ db: Database) throws {
            result = .success(try body(SQLiteTransaction(db)))
        }

        override func fail(_ error: Error) {
            result = .failure(error)
        }

        override func resume(overriding failure: Error?) {
            if let failure {
                continuation.resume(throwing: failure)
            } else if let result {
                continuation.resume(with: result)
            } else {
                continuation.resume(throwing: StorageError(.database, "the write was never run"))
            }
        }
    }

    private let pool: DatabasePool
    private let maxBatch: Int
    private let flusher: WALFlusher?
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

    private let walPages: WALPages
    private let checkpointer: BackgroundCheckpointer

    init(pool: DatabasePool, maxBatch: Int, flusher: WALFlusher?, walPages: WALPages, checkpointer: BackgroundCheckpointer) {
        self.checkpointer = checkpointer
        self.pool = pool
        self.maxBatch = max(1, maxBatch)
        self.flusher = flusher
        self.walPages = walPages
    }

    /// Has the log copied into the database (a passive checkpoint: readers and their snapshots are left alone) once a
    /// commit left it at ``SQLiteStore/checkpointPages`` or more: what SQLite's automatic checkpoint does, after the
    /// commit's writers were told instead of before, and beside the writer instead of on it, so the next transaction
    /// does not wait for the copy. A checkpoint that fails is tried again after a later commit.
    func checkpointIfDue() {
        guard walPages.take(atLeast: SQLiteStore.checkpointPages) else { return }
        checkpointer.request()
    }

    func submit<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let job: Job = TypedJob(body: body, continuation: continuation)
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

    /// A job that threw during an optimistic pass: the pass is abandoned and the batch retried without it.
    private struct JobFailed: Error {
        let index: Int
        let error: Error
    }

    private func commit(_ batch: [Job]) {
        // First pass: no savepoints (two statements a job saved). If a job throws, the transaction rolls back, that
        // job keeps its error, and the others run again with a savepoint each: two passes at most per batch.
        do {
            do {
                try pool.write { db in
                    for (index, job) in batch.enumerated() {
                        do {
                            try job.run(db)
                        } catch {
                            throw JobFailed(index: index, error: error)
                        }
                    }
                }
            } catch let failed as JobFailed {
                try pool.write { db in
                    let tx = SQLiteTransaction(db)
                    for (index, job) in batch.enumerated() {
                        if index == failed.index {
                            job.fail(Self.describe(failed.error))
                            continue
                        }
                        do {
                            try tx.savepoint { try job.run(db) }
                        } catch {
                            job.fail(Self.describe(error))
                        }
                    }
                }
            }
        } catch {
            let failure = StorageError(.database, "the transaction could not be committed: \(error)")
            for job in batch { job.resume(overriding: failure) }
            return
        }
        finish(batch)
        checkpointIfDue()
    }

    private static func describe(_ error: Error) -> Error {
        guard let error = error as? DatabaseError else { return error }
        return StorageError.translating(error)
    }

    private func finish(_ batch: [Job]) {
        guard let flusher else {
            for job in batch { job.resume(overriding: nil) }
            return
        }
        // Committed to the log; acknowledge once a flush that starts after this point has reached the disk.
        flusher.afterCommit { failure in
            for job in batch { job.resume(overriding: failure) }
        }
    }
}

/// Makes committed write-ahead-log frames durable off the writer's path, and tells who waited when they are.
///
/// fdatasync flushes a file's data whichever descriptor wrote it, so a descriptor of our own on the `-wal` file
/// covers every commit that returned before the call began. Checkpoints (which sync the log before copying it and
/// the database after) are SQLite's own and unchanged.
final class WALFlusher: @unchecked Sendable {
    private let walPath: String
    private let lock = NSLock()
    private var descriptor: Int32 = -1
    private var waiting: [(StorageError?) -> Void] = []
    private var flushing = false
    private let queue = DispatchQueue(label: "rosterflow.wal-flush")

    init(walPath: String) {
        self.walPath = walPath
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Queues `acknowledge` to run after the next flush that starts from now.
    func afterCommit(_ acknowledge: @escaping (StorageError?) -> Void) {
        lock.lock()
        waiting.append(acknowledge)
        let start = !flushing
        flushing = true
        lock.unlock()
        if start { queue.async { self.drain() } }
    }

    /// Flushes now, on the calling thread.
    func flushNow() throws {
        if let error = flush() { throw error }
    }

    private func drain() {
        while true {
            lock.lock()
            let acknowledgements = waiting
            waiting.removeAll(keepingCapacity: true)
            if acknowledgements.isEmpty {
                flushing = false
                lock.unlock()
                return
            }
            lock.unlock()
            let failure = flush()
            for acknowledge in acknowledgements { acknowledge(failure) }
        }
    }

    private func flush() -> StorageError? {
        lock.lock()
        if descriptor < 0 { descriptor = open(walPath, O_RDONLY) }
        let fd = descriptor
        lock.unlock()
        guard fd >= 0 else {
            return StorageError(.database, "cannot open \(walPath) to make commits durable (errno \(errno))")
        }
        guard fdatasync(fd) == 0 else {
            return StorageError(
                .database, "the commit was written but the disk did not confirm it (fdatasync errno \(errno)); check the disk")
        }
        return nil
    }
}
