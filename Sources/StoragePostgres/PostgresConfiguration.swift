import Foundation
import StorageCore

/// Where the PostgreSQL store connects and how: parsed from a `postgres://` (or `postgresql://`) URL.
///
/// The URL is libpq's: user, password, host, port and database, and any libpq parameter as a query item
/// (`sslmode=require|verify-full`, `sslrootcert=/path/ca.pem`, `passfile=/path`, `connect_timeout=10`, …). The password
/// may also come from `PGPASSWORD` or a password file (`PGPASSFILE`, `~/.pgpass`, or `passfile=`), as libpq reads them.
/// RosterFlow's own query items are taken out before the URL reaches libpq:
/// - `pool_size=N`: at most N connections per process (default 8);
/// - `schema=NAME`: keep RosterFlow's tables in this schema (created when missing) instead of `public`;
/// - `pool_timeout=SECONDS`: how long a transaction waits for a free connection before it is told the database is busy
///   (default 30).
public struct PostgresConfiguration: Sendable, Equatable {
    /// The URL as libpq reads it (may hold the password: never print it; print ``displayName``).
    public var conninfo: String
    /// The URL without its password, for messages and logs.
    public var displayName: String
    /// Connections kept per process.
    public var poolSize: Int
    /// How long a transaction waits for a free pooled connection.
    public var poolTimeout: Double
    /// The schema RosterFlow's tables live in; nil for the server's default search path (`public`).
    public var schema: String?

    /// Whether the URL itself holds a password (rather than PGPASSWORD or a password file).
    public var hasPasswordInURL: Bool
    /// Whether the server is this machine (a loopback address, localhost or a Unix socket).
    public var isLoopback: Bool
    /// Whether the URL asks for TLS (`sslmode=require`, `verify-ca` or `verify-full`).
    public var requiresTLS: Bool

    /// Whether `text` names a PostgreSQL database rather than a SQLite file.
    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses a `postgres://` URL; throws a `database` error naming what is wrong (never echoing the password).
    public init(url text: String) throws {
        guard Self.isPostgresURL(text), var components = URLComponents(string: text) else {
            throw StorageError(
                .database,
                "not a PostgreSQL URL: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]")
        }
        var poolSize = 8
        var schema: String?
        var poolTimeout = 30.0
        var kept: [URLQueryItem] = []
        for item in components.queryItems ?? [] {
            switch item.name {
            case "pool_size":
                guard let value = item.value.flatMap(Int.init), value >= 1, value <= 1000 else {
                    throw StorageError(.database, "pool_size must be a whole number from 1 to 1000 (got \(item.value ?? ""))")
                }
                poolSize = value
            case "pool_timeout":
                guard let value = item.value.flatMap(Double.init), value > 0, value <= 3600 else {
                    throw StorageError(.database, "pool_timeout must be a number of seconds from 0 to 3600 (got \(item.value ?? ""))")
                }
                poolTimeout = value
            case "schema":
                guard let value = item.value, Self.isPlainName(value) else {
                    throw StorageError(
                        .database, "schema must be a plain name (letters, digits, underscores, not starting with a digit or pg_; got \(item.value ?? ""))")
                }
                schema = value
            default:
                kept.append(item)
            }
        }
        if !kept.contains(where: { $0.name == "connect_timeout" }) {
            kept.append(URLQueryItem(name: "connect_timeout", value: "10"))
        }
        if !kept.contains(where: { $0.name == "application_name" }) {
            kept.append(URLQueryItem(name: "application_name", value: "rosterflow"))
        }
        components.queryItems = kept
        guard let conninfo = components.string else {
            throw StorageError(.database, "cannot read the PostgreSQL URL")
        }
        var shown = components
        if shown.password != nil { shown.password = "***" }
        shown.queryItems = kept.filter { $0.name != "application_name" && $0.name != "connect_timeout" }
        if shown.queryItems?.isEmpty == true { shown.queryItems = nil }
        let host = components.host ?? ""
        let hostItem = kept.first(where: { $0.name == "host" })?.value
        self.hasPasswordInURL = !(components.password ?? "").isEmpty
        self.isLoopback = ["", "localhost", "127.0.0.1", "::1", "[::1]"].contains(host) && (hostItem.map { $0.hasPrefix("/") } ?? true)
            || hostItem?.hasPrefix("/") == true
        self.requiresTLS = ["require", "verify-ca", "verify-full"].contains(kept.first(where: { $0.name == "sslmode" })?.value ?? "")
        self.conninfo = conninfo
        self.displayName = shown.string ?? "postgres://…"
        self.poolSize = poolSize
        self.poolTimeout = poolTimeout
        self.schema = schema
    }

    /// The URL with its password hidden, for any text that quotes a URL a user gave.
    public static func redacted(_ text: String) -> String {
        guard isPostgresURL(text), var components = URLComponents(string: text) else { return text }
        if components.password != nil { components.password = "***" }
        return components.string ?? "postgres://…"
    }

    static func isPlainName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, !text.isEmpty, text.count <= 63 else { return false }
        if CharacterSet.decimalDigits.contains(first) || text.lowercased().hasPrefix("pg_") { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }
}
