import CLibPQ
import Foundation
import StorageCore

/// A value bound to a statement parameter (`$1`, `$2`, …): text, or bytes sent in binary form (`bytea`).
public enum PGParam: Sendable, Equatable {
    case null
    case text(String)
    case bytes(Data)
}

/// A Swift value that can be bound to a statement parameter.
public protocol PGEncodable {
    /// The value as a parameter.
    var pgParam: PGParam { get }
}

extension String: PGEncodable { public var pgParam: PGParam { .text(self) } }
extension Substring: PGEncodable { public var pgParam: PGParam { .text(String(self)) } }
extension Int: PGEncodable { public var pgParam: PGParam { .text(String(self)) } }
extension Int64: PGEncodable { public var pgParam: PGParam { .text(String(self)) } }
extension Int32: PGEncodable { public var pgParam: PGParam { .text(String(self)) } }
extension Bool: PGEncodable { public var pgParam: PGParam { .text(self ? "true" : "false") } }
extension Data: PGEncodable { public var pgParam: PGParam { .bytes(self) } }
extension PGParam: PGEncodable { public var pgParam: PGParam { self } }
extension Double: PGEncodable {
    /// Doubles go as their shortest round-trip text, which PostgreSQL's `float8` reads back to the same bits.
    public var pgParam: PGParam {
        if isNaN { return .text("NaN") }
        if isInfinite { return .text(self > 0 ? "Infinity" : "-Infinity") }
        return .text("\(self)")
    }
}
extension Optional: PGEncodable where Wrapped: PGEncodable {
    public var pgParam: PGParam {
        switch self {
        case .none: return .null
        case .some(let value): return value.pgParam
        }
    }
}

/// The rows a statement returned (text format), read by row and column position.
public final class PGRows {
    private let result: OpaquePointer?
    /// How many rows.
    public let count: Int
    /// How many rows the statement changed (INSERT, UPDATE, DELETE), or 0.
    public let changed: Int

    init(_ result: OpaquePointer?) {
        self.result = result
        count = Int(PQntuples(result))
        let affected = PQcmdTuples(result).map { String(cString: $0) } ?? ""
        changed = Int(affected) ?? 0
    }

    deinit { PQclear(result) }

    /// Whether the value at (`row`, `column`) is NULL.
    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    /// The text of a value; nil when NULL.
    public func string(_ row: Int, _ column: Int) -> String? {
        if isNull(row, column) { return nil }
        guard let pointer = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        return String(cString: pointer)
    }

    /// An integer value; nil when NULL.
    public func int(_ row: Int, _ column: Int) -> Int? {
        if isNull(row, column) { return nil }
        guard let pointer = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        return strtol(pointer, nil, 10)
    }

    /// A 64-bit integer value; nil when NULL.
    public func int64(_ row: Int, _ column: Int) -> Int64? { int(row, column).map(Int64.init) }

    /// A double value; nil when NULL.
    public func double(_ row: Int, _ column: Int) -> Double? {
        if isNull(row, column) { return nil }
        guard let pointer = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        return strtod(pointer, nil)
    }

    /// A boolean value (`t`/`f`, or an integer); nil when NULL.
    public func bool(_ row: Int, _ column: Int) -> Bool? {
        guard let text = string(row, column) else { return nil }
        return text == "t" || text == "true" || (Int(text).map { $0 != 0 } ?? false)
    }

    /// A `bytea` value (PostgreSQL's hex text form decoded); nil when NULL.
    public func data(_ row: Int, _ column: Int) -> Data? {
        if isNull(row, column) { return nil }
        guard let pointer = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        var length = 0
        guard let bytes = PQunescapeBytea(pointer, &length) else { return nil }
        defer { PQfreemem(bytes) }
        return Data(bytes: bytes, count: length)
    }

    /// The text of a value that the query guarantees is not NULL ("" if it is).
    public func text(_ row: Int, _ column: Int) -> String { string(row, column) ?? "" }
}

/// One connection to PostgreSQL through libpq, used by one thread at a time (the pool hands it out).
///
/// Statements are sent with `PQexecParams` (parameters out of line, never spliced into SQL). Errors become
/// ``StorageError``s: serialization failures, deadlocks and lock timeouts are `busy` (nothing was done, try again); a
/// lost connection is `busy` too, with a message saying so; everything else is `database` with PostgreSQL's message.
public final class PGConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// Connection parameters as libpq reads them (never printed: they may hold a password).
    private let conninfo: String
    /// Where this connection goes, without its password (for messages).
    public let displayName: String
    /// The SQLSTATE of the last statement that failed with a server error (e.g. `23505`, a unique violation).
    public private(set) var lastErrorState: String?

    /// Statements run after every (re)connect, e.g. `SET search_path`.
    private let setup: [String]

    /// Connects; throws a `busy` error when the server cannot be reached, `database` when it refuses the login.
    public init(conninfo: String, displayName: String, setup: [String] = []) throws {
        self.conninfo = conninfo
        self.displayName = displayName
        self.setup = setup
        handle = PQconnectdb(conninfo)
        try checkConnected()
        try configure()
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still usable (the server has not closed it).
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Reconnects with the same parameters (after the server or the network dropped the connection).
    public func reset() throws {
        PQreset(handle)
        try checkConnected()
        try configure()
    }

    /// Whether the open transaction was aborted by a failed statement (PostgreSQL then ignores everything up to
    /// `ROLLBACK`, and a `COMMIT` rolls back).
    public var transactionFailed: Bool { PQtransactionStatus(handle) == PQTRANS_INERROR }

    /// The server's version number (e.g. 150018 for 15.18).
    public var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// The backend process id serving this connection (what `pg_stat_activity.pid` shows).
    public var backendPID: Int { Int(PQbackendPID(handle)) }

    private func checkConnected() throws {
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(handle))
            let unreachable = message.contains("Connection refused") || message.contains("could not connect")
                || message.contains("could not translate host name") || message.contains("timeout expired")
                || message.contains("No such file or directory") || message.contains("the database system is starting up")
                || message.contains("the database system is shutting down")
            throw StorageError(
                unreachable ? .busy : .database,
                "cannot connect to PostgreSQL at \(displayName): \(message)"
                    + (unreachable ? " (is the server running, and is this its address and port?)" : ""))
        }
    }

    private func configure() throws {
        // Times as seconds since 1970 are stored as float8: ask for the shortest exact text of each (PostgreSQL ≥ 12
        // does this by default; older servers need 3).
        // Migrations say `IF NOT EXISTS`; their notices ("already exists, skipping") are not for the operator.
        // One round trip for every setting.
        try executeScript((["SET extra_float_digits = 3", "SET client_min_messages = warning"] + setup).joined(separator: "; "))
    }

    /// Runs a statement that returns no rows we read; returns how many rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ params: [PGParam] = []) throws -> Int {
        try query(sql, params).changed
    }

    /// Runs a statement and returns its rows.
    public func query(_ sql: String, _ params: [PGParam] = []) throws -> PGRows {
        let result: OpaquePointer?
        if params.isEmpty {
            result = PQexecParams(handle, sql, 0, nil, nil, nil, nil, 0)
        } else {
            result = Self.withParams(params) { values, lengths, formats in
                PQexecParams(handle, sql, Int32(params.count), nil, values, lengths, formats, 0)
            }
        }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK {
            return PGRows(result)
        }
        defer { PQclear(result) }
        throw error(result)
    }

    /// Runs several statements separated by semicolons, with no parameters (a migration's script).
    public func executeScript(_ sql: String) throws {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY else {
            throw error(result)
        }
    }

    /// Sends `COPY … FROM STDIN` data (text format: tab-separated, `\N` for NULL, one row per line).
    public func copyIn(_ sql: String, rows: (inout String) throws -> Bool) throws {
        let start = PQexec(handle, sql)
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            defer { PQclear(start) }
            throw error(start)
        }
        PQclear(start)
        var buffer = ""
        var more = true
        var failure: Error?
        while more {
            buffer.removeAll(keepingCapacity: true)
            do { more = try rows(&buffer) } catch {
                failure = error
                break
            }
            if !buffer.isEmpty {
                let sent = buffer.withCString { PQputCopyData(handle, $0, Int32(strlen($0))) }
                if sent != 1 { break }
            }
        }
        PQputCopyEnd(handle, failure == nil ? nil : "cancelled")
        var last: OpaquePointer? = PQgetResult(handle)
        var firstError: StorageError?
        while let result = last {
            if PQresultStatus(result) != PGRES_COMMAND_OK, firstError == nil { firstError = error(result) }
            PQclear(result)
            last = PQgetResult(handle)
        }
        if let failure { throw failure }
        if let firstError { throw firstError }
    }

    /// Quotes a text as an SQL string literal (for statements that take no parameters, such as `COPY` options).
    public func literal(_ text: String) -> String {
        guard let quoted = PQescapeLiteral(handle, text, text.utf8.count) else { return "''" }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Quotes a name (schema, table) as an SQL identifier.
    public func identifier(_ text: String) -> String {
        guard let quoted = PQescapeIdentifier(handle, text, text.utf8.count) else { return "\"\"" }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// Waits up to `timeout` seconds for notifications (`LISTEN`) and returns the channels notified; empty when none
    /// came. Throws when the connection is lost.
    public func waitForNotifications(timeout: Double) throws -> [String] {
        var channels = drainNotifications()
        if !channels.isEmpty { return channels }
        let socket = PQsocket(handle)
        guard socket >= 0 else {
            throw StorageError(.busy, "lost the connection to PostgreSQL at \(displayName) while listening")
        }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(max(0, timeout * 1000)))
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else {
                throw StorageError(.busy, "lost the connection to PostgreSQL at \(displayName) while listening")
            }
            channels = drainNotifications()
        }
        return channels
    }

    private func drainNotifications() -> [String] {
        var channels: [String] = []
        while let notification = PQnotifies(handle) {
            channels.append(String(cString: notification.pointee.relname))
            PQfreemem(notification)
        }
        return channels
    }

    /// The SQLSTATE codes that mean "nothing was done, try again".
    static let retryableStates: Set<String> = ["40001", "40P01", "55P03", "57P01", "57P02", "57P03"]

    private func error(_ result: OpaquePointer?) -> StorageError {
        if PQstatus(handle) != CONNECTION_OK {
            return StorageError(
                .busy,
                "lost the connection to PostgreSQL at \(displayName) (\(Self.trimmed(PQerrorMessage(handle)))); "
                    + "the transaction was not committed, try again")
        }
        let state = PQresultErrorField(result, Self.sqlStateField).map { String(cString: $0) } ?? ""
        let primary = PQresultErrorField(result, Self.primaryMessageField).map { String(cString: $0) }
            ?? Self.trimmed(PQerrorMessage(handle))
        if Self.retryableStates.contains(state) {
            return StorageError(
                .busy,
                "the database is busy: another transaction held what this one needed (\(primary)); nothing was done, "
                    + "try again in a moment")
        }
        lastErrorState = state
        return StorageError(.database, "database error: \(primary)" + (state.isEmpty ? "" : " [SQLSTATE \(state)]"))
    }

    /// `PG_DIAG_SQLSTATE` ('C') and `PG_DIAG_MESSAGE_PRIMARY` ('M').
    private static let sqlStateField: Int32 = 67
    private static let primaryMessageField: Int32 = 77

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        // libpq's messages run over several indented lines: one line reads better in a log or a terminal.
        return String(cString: message).split(whereSeparator: { $0 == "\n" || $0 == "\t" })
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Lays out parameters as libpq wants them: C strings for text, raw bytes (binary format) for `bytea`.
    private static func withParams<T>(
        _ params: [PGParam],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<Int32>, UnsafePointer<Int32>) -> T
    ) -> T {
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        buffers.reserveCapacity(params.count)
        var lengths = [Int32](repeating: 0, count: params.count)
        var formats = [Int32](repeating: 0, count: params.count)
        for (index, param) in params.enumerated() {
            switch param {
            case .null:
                buffers.append(nil)
            case .text(let text):
                buffers.append(strdup(text))
            case .bytes(let data):
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(data.count, 1))
                data.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { memcpy(buffer, base, data.count) }
                }
                buffers.append(buffer)
                lengths[index] = Int32(data.count)
                formats[index] = 1
            }
        }
        defer {
            for (index, buffer) in buffers.enumerated() {
                if formats[index] == 1 { buffer?.deallocate() } else { free(buffer) }
            }
        }
        return buffers.withUnsafeBufferPointer { pointers in
            pointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                body(values.baseAddress!, lengths, formats)
            }
        }
    }
}

