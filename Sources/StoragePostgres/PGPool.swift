import Foundation
import StorageCore

/// A fixed-size pool of PostgreSQL connections shared by one process's transactions.
///
/// A transaction takes a connection for its whole life and gives it back afterwards. When all are in use, a caller
/// waits on a condition up to ``waitLimit``, then is told the database is busy. Async transactions wait (and run) on
/// ``blockingQueue``'s threads, never on Swift's cooperative ones: a connection is only ever held by a thread that
/// can go on. A connection the server dropped is reconnected before it is handed
/// out, retrying with backoff (0.1 s doubling to 3.2 s, about 6 s in all) before reporting the server unreachable.
final class PGPool: @unchecked Sendable {
    let configuration: PostgresConfiguration
    /// How long a caller waits for a free connection before being told the database is busy.
    let waitLimit: TimeInterval
    private let condition = NSCondition()
    private var idle: [PGConnection] = []
    private var opened = 0
    private var closed = false

    init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        self.waitLimit = configuration.poolTimeout
    }

    /// The statements every new connection runs first.
    private var setup: [String] {
        guard let schema = configuration.schema else { return [] }
        return ["SET search_path TO \"\(schema)\""]
    }

    /// Opens a new connection, retrying with backoff while the server is unreachable.
    func connect() throws -> PGConnection {
        var delay = 0.1
        while true {
            do {
                return try PGConnection(
                    conninfo: configuration.conninfo, displayName: configuration.displayName, setup: setup)
            } catch let error as StorageError where error.code == .busy && delay <= 3.2 {
                Thread.sleep(forTimeInterval: delay)
                delay *= 2
            }
        }
    }

    /// Makes a connection usable again if the server dropped it.
    private func healthy(_ connection: PGConnection) throws -> PGConnection {
        if connection.isHealthy { return connection }
        var delay = 0.1
        while true {
            do {
                try connection.reset()
                return connection
            } catch let error as StorageError where error.code == .busy && delay <= 3.2 {
                Thread.sleep(forTimeInterval: delay)
                delay *= 2
            }
        }
    }

    /// Takes a connection, blocking the calling thread while none is free.
    func acquire() throws -> PGConnection {
        condition.lock()
        let deadline = Date().addingTimeInterval(waitLimit)
        while true {
            if closed {
                condition.unlock()
                throw StorageError(.database, "the PostgreSQL store was closed")
            }
            if let connection = idle.popLast() {
                condition.unlock()
                return try checkedOut(connection)
            }
            if opened < configuration.poolSize {
                opened += 1
                condition.unlock()
                return try openCounted()
            }
            if !condition.wait(until: deadline) {
                condition.unlock()
                throw exhausted()
            }
        }
    }

    /// Gives a connection back to the idle list, waking a waiting caller. A connection the server dropped is
    /// kept too: it is reconnected when next taken.
    func release(_ connection: PGConnection) {
        condition.lock()
        if closed {
            opened -= 1
            condition.signal()
            condition.unlock()
            return
        }
        idle.append(connection)
        condition.signal()
        condition.unlock()
    }

    /// Closes every idle connection; connections in use close when given back.
    func close() {
        condition.lock()
        closed = true
        opened -= idle.count
        idle.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func openCounted() throws -> PGConnection {
        do {
            return try connect()
        } catch {
            condition.lock()
            opened -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func checkedOut(_ connection: PGConnection) throws -> PGConnection {
        do {
            return try healthy(connection)
        } catch {
            condition.lock()
            opened -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func exhausted() -> StorageError {
        StorageError(
            .busy,
            "the database is busy: all \(configuration.poolSize) connections to PostgreSQL were in use for "
                + "\(waitLimit) s; nothing was done, try again (or raise pool_size in the database URL)")
    }

    /// Runs blocking work on a thread outside Swift's cooperative pool.
    static func offThread<T>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            blockingQueue.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    /// Where blocking database calls run (libpq waits on the network).
    static let blockingQueue = DispatchQueue(label: "rosterflow.postgres", qos: .userInitiated, attributes: .concurrent)
}
