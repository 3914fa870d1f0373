import StorageCore
import GRDB

extension SQLiteTransaction {
    /// How many stored changes of a run match the filters (nil: any entity, any operation).
    public func syncChangeCount(runID: String, entity: String?, operation: String?) throws -> Int {
        let (condition, arguments) = Self.changeFilter(runID: runID, entity: entity, operation: operation)
        return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_changes WHERE \(condition)", arguments: arguments) ?? 0
    }

    /// One page of a run's stored changes, in apply order, that match the filters (nil: any entity, any operation).
    public func syncChanges(runID: String, entity: String?, operation: String?, limit: Int, offset: Int) throws -> [StoredChange] {
        let (condition, arguments) = Self.changeFilter(runID: runID, entity: entity, operation: operation)
        return try Row.fetchAll(db, sql: """
            SELECT op, entity, sourced_id, digest, ref1, ref2, ref3, title, parked, fields, changed, seq
            FROM sync_changes WHERE \(condition) ORDER BY seq LIMIT ? OFFSET ?
            """, arguments: arguments + [limit, offset]).map { row in
            StoredChange(seq: row[11], change: Self.storedChange(row))
        }
    }

    /// Whether a change set is stored for the run (held and dry-run runs keep theirs).
    public func hasChangeSet(runID: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sync_changes WHERE run_id = ?)", arguments: [runID]) ?? false
    }

    /// The titles (a user's name, a class's or course's title) of records of one entity, by sourcedId: as the
    /// integration holds them, else as the run adds or updates them. Ids found in neither are left out.
    public func rosterTitles(integrationID: String, runID: String, entity: String, sourcedIDs: Set<String>) throws -> [String: String] {
        var titles: [String: String] = [:]
        var missing: [String] = []
        for id in sourcedIDs.sorted() {
            let title = try db.fastFirst(
                "SELECT title FROM roster_records WHERE integration_id = ? AND entity = ? AND sourced_id = ?",
                [integrationID, entity, id]) { $0.optionalString(0) }
            if let title, let title { titles[id] = title } else { missing.append(id) }
        }
        // Records the run itself adds: one pass over the run's changes of that entity, however many are asked for.
        for chunk in stride(from: 0, to: missing.count, by: 500).map({ Array(missing[$0..<min($0 + 500, missing.count)]) }) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            for row in try Row.fetchAll(db, sql: """
                SELECT sourced_id, title FROM sync_changes
                WHERE run_id = ? AND entity = ? AND op != 'delete' AND title IS NOT NULL AND sourced_id IN (\(marks))
                """, arguments: StatementArguments([runID, entity] + chunk)) {
                titles[row[0]] = row[1]
            }
        }
        return titles
    }

    /// The id of the integration's held sync run (the newest, if ever several), or nil.
    public func heldSyncRunID(integrationID: String) throws -> String? {
        try String.fetchOne(db, sql: """
            SELECT id FROM sync_runs WHERE integration_id = ? AND decision = 'held' ORDER BY started_at DESC, rowid DESC LIMIT 1
            """, arguments: [integrationID])
    }

    private static func changeFilter(runID: String, entity: String?, operation: String?) -> (String, StatementArguments) {
        var condition = "run_id = ?"
        var arguments: StatementArguments = [runID]
        if let entity {
            condition += " AND entity = ?"
            arguments += [entity]
        }
        if let operation {
            condition += " AND op = ?"
            arguments += [operation]
        }
        return (condition, arguments)
    }
}
