import Foundation
import StorageCore

/// RosterFlow's store on a PostgreSQL server, for installations that outgrow one SQLite file: several `rosterflow serve`
/// and `rosterflow worker` processes, on several machines, share one database.
///
/// - Each transaction runs on a connection of its own from a pool (``PostgresConfiguration/poolSize``), at READ
///   COMMITTED; the conformer's statements are written to be safe under concurrency from other processes (conditional
///   updates with row versions, `ON CONFLICT`, `FOR UPDATE SKIP LOCKED` for claims).
/// - Reads run as `REPEATABLE READ, READ ONLY` transactions: one snapshot for the whole body.
/// - ``write(_:)`` retries a body that PostgreSQL aborted for a deadlock or a serialization failure (nothing of it was
///   committed) up to three times; ``writeNow(_:)`` does not (its bodies can be large: the caller decides).
/// - The schema is brought up to date on open by ``PostgresSchema/migrations`` under an advisory lock, so processes
///   starting together migrate once.
public final class PostgresStore: RosterFlowStore {
    /// Where and how the store connects.
    public let configuration: PostgresConfiguration
    let pool: PGPool
    private let listener: PGListener

    /// Connects to the database `url` names and brings its schema up to date.
    public convenience init(url: String) throws {
        try self.init(configuration: PostgresConfiguration(url: url))
    }

    /// Connects as `configuration` says and brings the schema up to date.
    public init(configuration: PostgresConfiguration) throws {
        self.configuration = configuration
        pool = PGPool(configuration: configuration)
        listener = PGListener(configuration: configuration)
        let connection = try pool.acquire()
        defer { pool.release(connection) }
        try PostgresMigrator(connection: connection, schema: configuration.schema).migrate()
    }

    deinit {
        listener.stop()
        pool.close()
    }

    /// Waits for `NOTIFY rosterflow_work` from a committed transaction that left work for workers (any process).
    public func waitForWork(timeout: Duration) async {
        await listener.waitForWork(timeout: timeout)
    }

    /// The names of the migrations applied to this database, in the order they ran.
    public func appliedMigrations() throws -> [String] {
        let connection = try pool.acquire()
        defer { pool.release(connection) }
        return try PostgresMigrator(connection: connection, schema: configuration.schema).applied()
    }

    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        var attempt = 0
        let pool = self.pool
        while true {
            do {
                // The whole transaction, waiting for a connection included, runs on a thread outside Swift's
                // cooperative pool, which gives the connection back itself: a connection is never handed to a caller
                // that needs a cooperative thread to go on, so synchronous callers blocking those threads while they
                // wait for one cannot stall the pool.
                return try await PGPool.offThread {
                    let connection = try pool.acquire()
                    defer { pool.release(connection) }
                    return try Self.transaction(on: connection, writes: true, body)
                }
            } catch let error as StorageError where error.code == .busy && attempt < 3 {
                attempt += 1
                try await Task.sleep(nanoseconds: UInt64(attempt) * 20_000_000)
            }
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T {
        let pool = self.pool
        return try await PGPool.offThread {
            let connection = try pool.acquire()
            defer { pool.release(connection) }
            return try Self.transaction(on: connection, writes: false, body)
        }
    }

    @discardableResult
    public func writeNow<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        let connection = try pool.acquire()
        defer { pool.release(connection) }
        return try Self.transaction(on: connection, writes: true, body)
    }

    public func readNow<T>(_ body: (any StoreTransaction) throws -> T) throws -> T {
        let connection = try pool.acquire()
        defer { pool.release(connection) }
        return try Self.transaction(on: connection, writes: false, body)
    }

    /// Runs `body` in one transaction on `connection`: committed when it returns, rolled back when it throws. A write
    /// runs at READ COMMITTED; a read is a REPEATABLE READ, READ ONLY snapshot.
    static func transaction<T>(on connection: PGConnection, writes: Bool, _ body: (any StoreTransaction) throws -> T)
        throws -> T
    {
        let begin = writes ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"
        do {
            try connection.execute(begin)
        } catch let error as StorageError where error.code == .busy && !connection.isHealthy {
            // The server dropped the connection while it sat in the pool (a restart, a network blip): nothing was done
            // yet, so reconnect and begin again.
            try connection.reset()
            try connection.execute(begin)
        }
        let transaction = PGTransaction(connection, writes: writes)
        let result: T
        do {
            result = try body(transaction)
        } catch {
            transaction.close()
            if connection.isHealthy { _ = try? connection.execute("ROLLBACK") }
            throw error
        }
        transaction.close()
        if transaction.wakesWorkers, !connection.transactionFailed {
            // Delivered to listeners when (and only if) the transaction commits.
            try connection.execute("NOTIFY \(PGListener.channel)")
        }
        if connection.transactionFailed {
            _ = try? connection.execute("ROLLBACK")
            throw StorageError(
                .database, "a statement failed inside the transaction and PostgreSQL aborted it: nothing was saved")
        }
        do {
            try connection.execute("COMMIT")
        } catch let error as StorageError where !connection.isHealthy {
            throw StorageError(
                .busy,
                "lost the connection to PostgreSQL while committing: the change may or may not have been saved; "
                    + "look before trying again (\(error.message))")
        }
        return result
    }
}
