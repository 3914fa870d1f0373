import GRDB

/// The engine benchmark's floor: the rows a transition writes, written straight into a RosterFlow database with no
/// engine, over a connection of the benchmark's own (GRDB on the same file, with the store's settings for a `full`
/// durability store: WAL, `synchronous=FULL`, foreign keys, the same checkpoint interval and cache).
enum RawFloor {
    /// Writes `transitionsPerInstance` transitions of each instance (a state update with its row-version check, and a
    /// history row), `perTransaction` per commit. The instances must exist in state `s0` at row version 1.
    /// Returns the transitions written.
    static func writeTransitions(
        path: String, instanceIDs: [String], transitionsPerInstance: Int, perTransaction: Int, now: Double
    ) throws -> Int {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.journalMode = .wal
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 10000")
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        let queue = try DatabaseQueue(path: path, configuration: config)
        var work: [(String, Int)] = []
        work.reserveCapacity(instanceIDs.count * transitionsPerInstance)
        for step in 0..<transitionsPerInstance { for id in instanceIDs { work.append((id, step)) } }
        var index = 0
        while index < work.count {
            let end = min(index + perTransaction, work.count)
            try queue.write { db in
                let update = try db.cachedStatement(sql: """
                    UPDATE workflow_instances SET state = ?, previous_state = ?, entered_at = ?, updated_at = ?,
                        row_version = row_version + 1 WHERE id = ? AND row_version = ?
                    """)
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO transitions (instance_id, from_state, to_state, event, actor, role, at, reason, row_version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for (id, step) in work[index..<end] {
                    try update.execute(arguments: ["s\(step + 1)", "s\(step)", now, now, id, step + 1])
                    try insert.execute(arguments: [id, "s\(step)", "s\(step + 1)", "e\(step)", "bench", "system", now, nil, step + 2])
                }
            }
            index = end
        }
        return work.count
    }
}
