import Foundation
import StorageCore
import StoragePostgres
import StorageSQLite

/// One store backend the contract tests run against: a name for failure messages and a factory for an empty store.
struct StoreConformer: Sendable {
    var name: String
    /// A new, empty store whose files (if any) live under `folder`.
    var make: @Sendable (_ folder: String) throws -> any RosterFlowStore
}

/// Every backend that claims to be a ``RosterFlowStore``. A new backend adds one line here and must pass every test in
/// this target.
enum StoreConformers {
    static let all: [StoreConformer] = sqlite + postgres

    static let sqlite: [StoreConformer] = [
        StoreConformer(name: "SQLite (pipelined)") { folder in try SQLiteStore(path: folder + "/contract.sqlite") },
        StoreConformer(name: "SQLite (synchronous=FULL)") { folder in
            try SQLiteStore(path: folder + "/contract-full.sqlite", durability: .full)
        },
    ]

    /// The PostgreSQL server the tests may use: `ROSTERFLOW_TEST_POSTGRES` (`bash scripts/start-test-postgres` starts one
    /// and prints it); CI always sets it.
    static let postgresURL: String? = {
        let value = ProcessInfo.processInfo.environment["ROSTERFLOW_TEST_POSTGRES"] ?? ""
        return value.isEmpty ? nil : value
    }()

    /// PostgreSQL, when a server is given: each store in a new schema of its own in that database.
    static let postgres: [StoreConformer] = postgresURL.map { url in
        [
            StoreConformer(name: "PostgreSQL") { _ in
                try PostgresStore(url: withSchema(url, "contract_" + UUID().uuidString.prefix(8).lowercased()))
            }
        ]
    } ?? []

    /// `url` with `schema=` added to its query.
    static func withSchema(_ url: String, _ schema: String) -> String {
        url + (url.contains("?") ? "&" : "?") + "schema=" + schema
    }
}

/// A temporary folder removed when the test ends, for stores that keep files.
func temporaryFolder() throws -> String {
    let folder = NSTemporaryDirectory() + "rosterflow-contract-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}
