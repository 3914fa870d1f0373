import Foundation
import StorageCore

/// Applies ``PostgresSchema/migrations`` that a database has not had yet, each in its own transaction with its name
/// recorded in `rosterflow_migrations`, under an advisory lock (processes starting together migrate once).
struct PostgresMigrator {
    let connection: PGConnection
    let schema: String?

    /// The lock key: one per schema, so test schemas in one database do not wait for each other.
    private var lockKey: String { "rosterflow-migrate:" + (schema ?? "public") }

    func migrate() throws {
        try connection.execute("SELECT pg_advisory_lock(hashtext($1))", [.text(lockKey)])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext($1))", [.text(lockKey)]) }
        // Under the lock: two processes creating the schema at once would collide even with IF NOT EXISTS.
        if let schema { try connection.execute("CREATE SCHEMA IF NOT EXISTS \(connection.identifier(schema))") }
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS rosterflow_migrations (
                identifier TEXT COLLATE "C" PRIMARY KEY NOT NULL,
                applied_at DOUBLE PRECISION NOT NULL
            )
            """)
        let done = Set(try applied())
        let known = Set(PostgresSchema.migrations.map(\.name))
        let unknown = done.subtracting(known).sorted()
        if !unknown.isEmpty {
            throw StorageError(
                .database,
                "this database was migrated by a newer RosterFlow (it has \(unknown.joined(separator: ", ")), which this "
                    + "release does not know); upgrade RosterFlow before using it")
        }
        for migration in PostgresSchema.migrations where !done.contains(migration.name) {
            try connection.execute("BEGIN")
            do {
                try connection.executeScript(migration.sql)
                try connection.execute(
                    "INSERT INTO rosterflow_migrations (identifier, applied_at) VALUES ($1, $2)",
                    [.text(migration.name), Date().timeIntervalSince1970.pgParam])
                try connection.execute("COMMIT")
            } catch {
                _ = try? connection.execute("ROLLBACK")
                throw StorageError(.database, "migration \(migration.name) failed: \(error)")
            }
        }
    }

    /// Applied migration names, oldest first.
    func applied() throws -> [String] {
        let exists = try connection.query("SELECT to_regclass('rosterflow_migrations') IS NOT NULL")
        guard exists.bool(0, 0) == true else { return [] }
        let rows = try connection.query("SELECT identifier FROM rosterflow_migrations")
        let order = Dictionary(
            PostgresSchema.migrations.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { first, _ in first })
        return (0..<rows.count).map { rows.text($0, 0) }.sorted { (order[$0] ?? .max, $0) < (order[$1] ?? .max, $1) }
    }
}
