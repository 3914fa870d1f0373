import Foundation
import StorageCore
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
    static let all: [StoreConformer] = [
        StoreConformer(name: "SQLite (pipelined)") { folder in try SQLiteStore(path: folder + "/contract.sqlite") },
        StoreConformer(name: "SQLite (synchronous=FULL)") { folder in
            try SQLiteStore(path: folder + "/contract-full.sqlite", durability: .full)
        },
    ]
}

/// A temporary folder removed when the test ends, for stores that keep files.
func temporaryFolder() throws -> String {
    let folder = NSTemporaryDirectory() + "rosterflow-contract-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}
