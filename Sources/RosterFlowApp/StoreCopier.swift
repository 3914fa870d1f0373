import Crypto
import Foundation
import RosterFlowCore
import StorageCore
import StoragePostgres
import StorageSQLite

/// Moves an installation from its SQLite file into an empty PostgreSQL database (`rosterflow migrate-store`): every
/// table — history, roster, sync runs, outbox — copied in one PostgreSQL transaction, each table's row count and
/// SHA-256 checksum (over its rows in key order, values typed by column) compared on both sides before it commits.
/// Nothing is written when anything differs or fails; a database that already holds RosterFlow data is refused.
public enum StoreCopier {
    /// What was copied, table by table.
    public struct Report: Sendable, Encodable {
        public struct Table: Sendable, Encodable {
            public var name: String
            public var rows: Int
            public var sha256: String
        }
        public var from: String
        public var to: String
        public var migrations: Int
        public var tables: [Table]
        public var rows: Int { tables.reduce(0) { $0 + $1.rows } }
    }

    /// Copies the SQLite database at `sqlitePath` into the PostgreSQL database `url` names (migrated first); calls
    /// `progress` with each table as it is verified.
    public static func copy(
        sqlitePath: String, to url: String, progress: (Report.Table) -> Void = { _ in }
    ) throws -> Report {
        guard FileManager.default.fileExists(atPath: sqlitePath) else {
            throw RosterFlowError(.notFound, "there is no SQLite database at \(sqlitePath)")
        }
        do {
            let source = try SQLiteStore(path: sqlitePath)
            let target = try PostgresStore(url: url)
            let sourceMigrations = try source.appliedMigrations()
            let targetMigrations = try target.appliedMigrations()
            let unknown = sourceMigrations.filter { !targetMigrations.contains($0) }
            if !unknown.isEmpty {
                throw RosterFlowError(
                    .invalidInput,
                    "the SQLite database has migrations the PostgreSQL schema lacks (\(unknown.joined(separator: ", "))): "
                        + "use the same RosterFlow release on both sides")
            }
            let tables = try target.withTableWriter { writer in
                try source.withTableReader { reader in try copyTables(from: reader, to: writer, progress: progress) }
            }
            return Report(
                from: sqlitePath, to: target.configuration.displayName, migrations: targetMigrations.count, tables: tables)
        } catch let error as RosterFlowError {
            throw error
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    static func copyTables(
        from reader: any StoreTableReader, to writer: PostgresTableWriter, progress: (Report.Table) -> Void
    ) throws -> [Report.Table] {
        let unordered = Dictionary(uniqueKeysWithValues: try reader.tables().map { ($0.name, $0) })
        let sourceTables = try writer.insertionOrder(Array(unordered.keys)).compactMap { unordered[$0] }
        let targetTables = Dictionary(uniqueKeysWithValues: try writer.tables().map { ($0.name, $0) })
        let filled = try targetTables.keys.sorted().compactMap { name -> String? in
            let count = try writer.rowCount(name)
            return count > 0 ? "\(count) rows in \(name)" : nil
        }
        if !filled.isEmpty {
            throw RosterFlowError(
                .conflict,
                "the PostgreSQL database already holds RosterFlow data (\(filled.prefix(3).joined(separator: ", "))"
                    + (filled.count > 3 ? ", …" : "") + "): migrate-store writes only into an empty database")
        }
        let missing = sourceTables.map(\.name).filter { targetTables[$0] == nil }
        if !missing.isEmpty {
            throw RosterFlowError(
                .invalidInput, "the PostgreSQL schema has no table \(missing.joined(separator: ", ")): use the same RosterFlow release on both sides")
        }
        var report: [Report.Table] = []
        for sourceTable in sourceTables {
            let targetTable = targetTables[sourceTable.name]!
            let absent = sourceTable.columns.filter { !targetTable.columns.contains($0) }
            if !absent.isEmpty {
                throw RosterFlowError(
                    .invalidInput, "the PostgreSQL table \(sourceTable.name) has no column \(absent.joined(separator: ", "))")
            }
            // The source's columns, typed as the target declares them; ordered by the target's key.
            var table = sourceTable
            table.types = sourceTable.columns.map { targetTable.types[targetTable.columns.firstIndex(of: $0)!] }
            table.orderBy = targetTable.orderBy
            let sent = ChecksummingCursor(try reader.rows(of: table))
            try writer.copy(into: table, from: sent)
            let stored = ChecksummingCursor(try writer.rows(of: table))
            while try stored.next() != nil {}
            let sentSum = sent.checksum(), storedSum = stored.checksum()
            guard sent.count == stored.count, sentSum == storedSum else {
                throw RosterFlowError(
                    .conflict,
                    "table \(table.name) did not arrive intact (\(sent.count) rows sent, \(stored.count) stored; checksums "
                        + "\(sentSum.prefix(12)) vs \(storedSum.prefix(12))): nothing was written")
            }
            let entry = Report.Table(name: table.name, rows: sent.count, sha256: sentSum)
            progress(entry)
            report.append(entry)
        }
        try writer.resetIdentities()
        return report
    }
}

/// Passes rows through while counting them and hashing their typed values.
final class ChecksummingCursor: StoreRowCursor {
    private let base: any StoreRowCursor
    private var hasher = SHA256()
    private(set) var count = 0

    init(_ base: any StoreRowCursor) { self.base = base }

    func next() throws -> [StoreValue]? {
        guard let row = try base.next() else { return nil }
        count += 1
        var bytes: [UInt8] = []
        for value in row {
            switch value {
            case .null: bytes.append(0)
            case .integer(let number):
                bytes.append(1)
                withUnsafeBytes(of: number.littleEndian) { bytes.append(contentsOf: $0) }
            case .real(let number):
                bytes.append(2)
                withUnsafeBytes(of: number.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            case .text(let text):
                bytes.append(3)
                withUnsafeBytes(of: UInt64(text.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: text.utf8)
            case .blob(let data):
                bytes.append(4)
                withUnsafeBytes(of: UInt64(data.count).littleEndian) { bytes.append(contentsOf: $0) }
                bytes.append(contentsOf: data)
            }
        }
        hasher.update(data: bytes)
        return row
    }

    func checksum() -> String {
        hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
