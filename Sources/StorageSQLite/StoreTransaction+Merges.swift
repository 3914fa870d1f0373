import StorageCore
import GRDB

extension SQLiteTransaction {
    /// Keeps the merges a held run proposes, so that its approval can apply them.
    public func storeProposedMerges(_ merges: [SourcedIDMerge], runID: String) throws {
        for merge in merges {
            try db.execute(sql: """
                INSERT INTO sync_merges (run_id, entity, old_id, new_id, matched_on, value) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [runID, merge.entity, merge.oldID, merge.newID, merge.matchedOn, merge.value])
        }
    }

    /// The merges a run proposed, users first, in old sourcedId order.
    public func proposedMerges(runID: String) throws -> [SourcedIDMerge] {
        try Row.fetchAll(db, sql: """
            SELECT entity, old_id, new_id, matched_on, value, status FROM sync_merges WHERE run_id = ?
            ORDER BY entity = 'users' DESC, entity, old_id
            """, arguments: [runID]).map {
            SourcedIDMerge(entity: $0[0], oldID: $0[1], newID: $0[2], matchedOn: $0[3], value: $0[4], status: $0[5])
        }
    }

    /// Records how a run's proposed merges were decided (`merged`, `declined` or `dropped`).
    public func decideProposedMerges(runID: String, status: String) throws {
        try db.execute(sql: "UPDATE sync_merges SET status = ? WHERE run_id = ? AND status = 'proposed'", arguments: [status, runID])
    }

    /// Records applied merges as aliases of the integration's roster.
    public func insertAliases(_ merges: [SourcedIDMerge], integrationID: String, runID: String, actor: String, now: Double) throws {
        for merge in merges {
            try db.execute(sql: """
                INSERT INTO roster_aliases (integration_id, entity, old_id, new_id, run_id, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (integration_id, entity, old_id) DO UPDATE SET
                    new_id = excluded.new_id, run_id = excluded.run_id, actor = excluded.actor, at = excluded.at
                """, arguments: [integrationID, merge.entity, merge.oldID, merge.newID, runID, actor, now])
        }
    }

    /// Applied merges in which a sourcedId took part, as the old or the new id, oldest first: in one integration, or
    /// (nil) in every integration. SourcedIds are unique only inside a district: callers showing one record pass its
    /// integration.
    public func aliases(involving sourcedID: String, integrationID: String? = nil) throws -> [RosterAlias] {
        // `+integration_id`: look the id up by its own index (few rows), not by scanning the integration's aliases.
        let filter = integrationID == nil ? "" : " AND +integration_id = ?"
        let arguments: [String] = integrationID.map { [sourcedID, $0, sourcedID, $0] } ?? [sourcedID, sourcedID]
        return try Row.fetchAll(db, sql: """
            SELECT integration_id, entity, old_id, new_id, run_id, actor, at FROM roster_aliases WHERE old_id = ?\(filter)
            UNION ALL
            SELECT integration_id, entity, old_id, new_id, run_id, actor, at FROM roster_aliases WHERE new_id = ?\(filter)
                AND old_id <> new_id
            ORDER BY at
            """, arguments: StatementArguments(arguments)).map {
            RosterAlias(integrationID: $0[0], entity: $0[1], oldID: $0[2], newID: $0[3], runID: $0[4], actor: $0[5], at: $0[6])
        }
    }

    /// The sourcedId a record now has, following applied merges (itself when it was never merged).
    public func currentSourcedID(integrationID: String, entity: String, sourcedID: String) throws -> String {
        var id = sourcedID
        var seen: Set<String> = [id]
        while let next = try String.fetchOne(db, sql: """
            SELECT new_id FROM roster_aliases WHERE integration_id = ? AND entity = ? AND old_id = ?
            """, arguments: [integrationID, entity, id]), seen.insert(next).inserted {
            id = next
        }
        return id
    }
}
