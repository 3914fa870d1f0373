import StorageCore
import GRDB

extension SQLiteTransaction {
    /// Remembers a run's parked deletes for its integration (a record parked again keeps its latest run).
    public func rememberParkedDeletes(
        _ records: [(entity: String, sourcedID: String)], integrationID: String, runID: String, actor: String, now: Double
    ) throws {
        let statement = try FastStatement(db, """
            INSERT INTO parked_deletes (integration_id, entity, sourced_id, run_id, actor, at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (integration_id, entity, sourced_id) DO UPDATE SET run_id = excluded.run_id, actor = excluded.actor,
                at = excluded.at
            """)
        for record in records {
            try statement.execute(.text(integrationID), .text(record.entity), .text(record.sourcedID), .text(runID), .text(actor),
                                  .double(now))
        }
    }

    /// The integration's parked deletes as `entity|sourcedId` keys.
    public func parkedDeleteKeys(integrationID: String) throws -> Set<String> {
        Set(try String.fetchAll(db, sql: "SELECT entity || '|' || sourced_id FROM parked_deletes WHERE integration_id = ?",
                                arguments: [integrationID]))
    }

    /// The integration's parked deletes, optionally of one entity, by entity and sourcedId.
    public func parkedDeletes(integrationID: String, entity: String? = nil) throws -> [ParkedDeleteRecord] {
        let filter = entity == nil ? "" : " AND entity = ?"
        return try Row.fetchAll(db, sql: """
            SELECT integration_id, entity, sourced_id, run_id, actor, at FROM parked_deletes WHERE integration_id = ?\(filter)
            ORDER BY entity, sourced_id
            """, arguments: StatementArguments([integrationID] + (entity.map { [$0] } ?? []))).map {
            ParkedDeleteRecord(integrationID: $0[0], entity: $0[1], sourcedID: $0[2], runID: $0[3], actor: $0[4], at: $0[5])
        }
    }

    /// Forgets parked deletes given as `entity|sourcedId` keys.
    public func forgetParkedDeletes(integrationID: String, keys: [String]) throws {
        let statement = try FastStatement(db, "DELETE FROM parked_deletes WHERE integration_id = ? AND entity = ? AND sourced_id = ?")
        for key in keys {
            guard let bar = key.firstIndex(of: "|") else { continue }
            try statement.execute(.text(integrationID), .text(String(key[..<bar])), .text(String(key[key.index(after: bar)...])))
        }
    }

    /// Forgets every parked delete of an integration (or of one entity of it); returns how many.
    @discardableResult
    public func forgetParkedDeletes(integrationID: String, entity: String?) throws -> Int {
        let filter = entity == nil ? "" : " AND entity = ?"
        try db.execute(sql: "DELETE FROM parked_deletes WHERE integration_id = ?\(filter)",
                       arguments: StatementArguments([integrationID] + (entity.map { [$0] } ?? [])))
        return db.changesCount
    }

    /// Replaces a run's counts (JSON), e.g. once its approval parked its deletes.
    public func updateSyncRunCounts(id: String, counts: String) throws {
        try db.execute(sql: "UPDATE sync_runs SET counts = ? WHERE id = ?", arguments: [counts, id])
    }
}
