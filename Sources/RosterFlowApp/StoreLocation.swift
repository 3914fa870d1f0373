import StoragePostgres

/// What `--db` / `ROSTERFLOW_DB` names: a SQLite database file (the embedded default) or a PostgreSQL server URL.
public enum StoreLocation {
    /// Whether `db` is a `postgres://` or `postgresql://` URL rather than a file path.
    public static func isServer(_ db: String) -> Bool { PostgresConfiguration.isPostgresURL(db) }

    /// `db` as it may be printed: a URL's password replaced by `***`; a file path as it is.
    public static func display(_ db: String) -> String { PostgresConfiguration.redacted(db) }

    /// Problems with how a PostgreSQL URL is written, each with its fix (none for a file path): a password written in
    /// the URL (visible in the process list and shell history) and a server reached over the network without TLS.
    public static func urlProblems(_ db: String) -> [(problem: String, fix: String)] {
        guard isServer(db), let configuration = try? PostgresConfiguration(url: db) else { return [] }
        var problems: [(problem: String, fix: String)] = []
        if configuration.hasPasswordInURL {
            problems.append((
                "the database URL holds its password, which other users can see in the process list and shell history",
                "remove it from the URL and give it in PGPASSWORD or a password file (passfile=PATH or ~/.pgpass, mode 600)"))
        }
        if !configuration.isLoopback, !configuration.requiresTLS {
            problems.append((
                "the database server is reached over the network without TLS (student data would cross it in clear)",
                "add sslmode=verify-full&sslrootcert=CA.pem (or at least sslmode=require) to the URL"))
        }
        return problems
    }
}
