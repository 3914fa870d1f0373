import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Aliases

    func insertAliases(_ merges: [SourcedIDMerge], integrationID: String, runID: String, actor: String, now: Double) throws {
        // One statement per batch. A key named twice keeps its last merge (as one upsert after another would); one
        // `ON CONFLICT DO UPDATE` may not touch a row twice, so the earlier ones are left out.
        var last: [String: Int] = [:]
        for (index, merge) in merges.enumerated() { last[merge.entity + "\u{1}" + merge.oldID] = index }
        let kept = merges.enumerated().filter { last[$0.element.entity + "\u{1}" + $0.element.oldID] == $0.offset }.map(\.element)
        for start in stride(from: 0, to: kept.count, by: Self.rosterBatchSize) {
            var entities = PGArrayColumn(), olds = PGArrayColumn(), news = PGArrayColumn()
            for merge in kept[start..<min(start + Self.rosterBatchSize, kept.count)] {
                entities.append(merge.entity)
                olds.append(merge.oldID)
                news.append(merge.newID)
            }
            try execute("""
                INSERT INTO roster_aliases (integration_id, entity, old_id, new_id, run_id, actor, at)
                SELECT $1::text, u.e, u.o, u.n, $2::text, $3::text, $4::float8
                FROM unnest($5::text[], $6::text[], $7::text[]) AS u(e, o, n)
                ON CONFLICT (integration_id, entity, old_id) DO UPDATE SET
                    new_id = EXCLUDED.new_id, run_id = EXCLUDED.run_id, actor = EXCLUDED.actor, at = EXCLUDED.at
                """, list: [.text(integrationID), .text(runID), .text(actor), now.pgParam, entities.param, olds.param, news.param])
        }
    }

    func aliases(involving sourcedID: String, integrationID: String?) throws -> [RosterAlias] {
        let filter = integrationID == nil ? "" : " AND integration_id = $2"
        var params: [PGParam] = [.text(sourcedID)]
        if let integrationID { params.append(.text(integrationID)) }
        // SQLite returns the old-id half before the new-id half on a tie of times; `part` keeps that.
        let rows = try query("""
            SELECT integration_id, entity, old_id, new_id, run_id, actor, at FROM (
                SELECT integration_id, entity, old_id, new_id, run_id, actor, at, 0 AS part FROM roster_aliases
                WHERE old_id = $1\(filter)
                UNION ALL
                SELECT integration_id, entity, old_id, new_id, run_id, actor, at, 1 FROM roster_aliases
                WHERE new_id = $1\(filter) AND old_id <> new_id
            ) a ORDER BY at, part, integration_id, entity, old_id
            """, list: params)
        return (0..<rows.count).map {
            RosterAlias(integrationID: rows.text($0, 0), entity: rows.text($0, 1), oldID: rows.text($0, 2), newID: rows.text($0, 3),
                        runID: rows.text($0, 4), actor: rows.text($0, 5), at: rows.double($0, 6) ?? 0)
        }
    }

    func currentSourcedID(integrationID: String, entity: String, sourcedID: String) throws -> String {
        var id = sourcedID
        var seen: Set<String> = [id]
        while true {
            let rows = try query(
                "SELECT new_id FROM roster_aliases WHERE integration_id = $1 AND entity = $2 AND old_id = $3",
                integrationID, entity, id)
            guard rows.count > 0, let next = rows.string(0, 0), seen.insert(next).inserted else { return id }
            id = next
        }
    }

    // MARK: Parked deletes

    func rememberParkedDeletes( _ records: [(entity: String, sourcedID: String)], integrationID: String, runID: String, actor: String, now: Double ) throws {
        // A record named twice is one row (one `ON CONFLICT DO UPDATE` may not touch a row twice; the values are the same).
        var seen: Set<String> = []
        let unique = records.filter { seen.insert($0.entity + "\u{1}" + $0.sourcedID).inserted }
        for start in stride(from: 0, to: unique.count, by: Self.rosterBatchSize) {
            var entities = PGArrayColumn(), ids = PGArrayColumn()
            for record in unique[start..<min(start + Self.rosterBatchSize, unique.count)] {
                entities.append(record.entity)
                ids.append(record.sourcedID)
            }
            try execute("""
                INSERT INTO parked_deletes (integration_id, entity, sourced_id, run_id, actor, at)
                SELECT $1::text, u.e, u.s, $2::text, $3::text, $4::float8 FROM unnest($5::text[], $6::text[]) AS u(e, s)
                ON CONFLICT (integration_id, entity, sourced_id) DO UPDATE SET
                    run_id = EXCLUDED.run_id, actor = EXCLUDED.actor, at = EXCLUDED.at
                """, list: [.text(integrationID), .text(runID), .text(actor), now.pgParam, entities.param, ids.param])
        }
    }

    func parkedDeleteKeys(integrationID: String) throws -> Set<String> {
        let rows = try query("SELECT entity || '|' || sourced_id FROM parked_deletes WHERE integration_id = $1", integrationID)
        return Set((0..<rows.count).map { rows.text($0, 0) })
    }

    func parkedDeletes(integrationID: String, entity: String?) throws -> [ParkedDeleteRecord] {
        let filter = entity == nil ? "" : " AND entity = $2"
        let rows = try query("""
            SELECT integration_id, entity, sourced_id, run_id, actor, at FROM parked_deletes WHERE integration_id = $1\(filter)
            ORDER BY entity, sourced_id
            """, list: [.text(integrationID)] + (entity.map { [.text($0)] } ?? []))
        return (0..<rows.count).map {
            ParkedDeleteRecord(integrationID: rows.text($0, 0), entity: rows.text($0, 1), sourcedID: rows.text($0, 2),
                               runID: rows.text($0, 3), actor: rows.text($0, 4), at: rows.double($0, 5) ?? 0)
        }
    }

    func forgetParkedDeletes(integrationID: String, keys: [String]) throws {
        var entities = PGArrayColumn(), ids = PGArrayColumn()
        func flush() throws {
            guard entities.count > 0 else { return }
            try execute("""
                DELETE FROM parked_deletes p USING unnest($2::text[], $3::text[]) AS k(e, s)
                WHERE p.integration_id = $1 AND p.entity = k.e AND p.sourced_id = k.s
                """, list: [.text(integrationID), entities.param, ids.param])
            entities = PGArrayColumn()
            ids = PGArrayColumn()
        }
        for key in keys {
            guard let bar = key.firstIndex(of: "|") else { continue }
            entities.append(String(key[..<bar]))
            ids.append(String(key[key.index(after: bar)...]))
            if entities.count >= Self.rosterBatchSize { try flush() }
        }
        try flush()
    }

    @discardableResult
    func forgetParkedDeletes(integrationID: String, entity: String?) throws -> Int {
        let filter = entity == nil ? "" : " AND entity = $2"
        return try execute("DELETE FROM parked_deletes WHERE integration_id = $1\(filter)",
                           list: [.text(integrationID)] + (entity.map { [.text($0)] } ?? []))
    }

    // MARK: Held records

    func rosterTitles(integrationID: String, runID: String, entity: String, sourcedIDs: Set<String>) throws -> [String: String] {
        var titles: [String: String] = [:]
        let asked = sourcedIDs.sorted()
        for start in stride(from: 0, to: asked.count, by: Self.rosterBatchSize) {
            let chunk = asked[start..<min(start + Self.rosterBatchSize, asked.count)]
            let rows = try query("""
                SELECT sourced_id, title FROM roster_records
                WHERE integration_id = $1 AND entity = $2 AND sourced_id = ANY($3::text[]) AND title IS NOT NULL
                """, list: [.text(integrationID), .text(entity), PGTransaction.textArray(chunk)])
            for row in 0..<rows.count { titles[rows.text(row, 0)] = rows.text(row, 1) }
        }
        // Records the run itself adds or updates (held ones without a title too), then those it deleted (a run applied
        // since: the record is gone, its change keeps its title): an add's or update's title wins over a delete's.
        let missing = asked.filter { titles[$0] == nil }
        for start in stride(from: 0, to: missing.count, by: Self.rosterBatchSize) {
            let chunk = missing[start..<min(start + Self.rosterBatchSize, missing.count)]
            let rows = try query("""
                SELECT sourced_id, title FROM sync_changes
                WHERE run_id = $1 AND entity = $2 AND title IS NOT NULL AND sourced_id = ANY($3::text[])
                ORDER BY op = 'delete' DESC, seq
                """, list: [.text(runID), .text(entity), PGTransaction.textArray(chunk)])
            for row in 0..<rows.count { titles[rows.text(row, 0)] = rows.text(row, 1) }
        }
        return titles
    }

    func rosterRecords(integrationID: String) throws -> [RosterRecord] {
        // The same columns as the SQLite conformer reads here (no fields, no ref4).
        let rows = try query("""
            SELECT entity, sourced_id, digest, ref1, ref2, ref3, title FROM roster_records WHERE integration_id = $1
            ORDER BY entity, sourced_id
            """, integrationID)
        return (0..<rows.count).map {
            RosterRecord(entity: rows.text($0, 0), sourcedID: rows.text($0, 1), digest: rows.int64($0, 2) ?? 0,
                         ref1: rows.string($0, 3), ref2: rows.string($0, 4), ref3: rows.string($0, 5), title: rows.string($0, 6))
        }
    }

    func rosterCounts(integrationID: String) throws -> [String: Int] {
        let rows = try query("SELECT entity, COUNT(*) FROM roster_records WHERE integration_id = $1 GROUP BY entity", integrationID)
        var counts: [String: Int] = [:]
        for row in 0..<rows.count { counts[rows.text(row, 0)] = rows.int(row, 1) ?? 0 }
        return counts
    }

    func rosterDigestCursor(integrationID: String, entity: String) throws -> any RosterDigestCursor {
        try PGRosterDigestCursor(self, integrationID: integrationID, entity: entity)
    }

    func holdsRosterRecord(integrationID: String, entity: String, sourcedID: String) throws -> Bool {
        try query("SELECT 1 FROM roster_records WHERE integration_id = $1 AND entity = $2 AND sourced_id = $3",
                  integrationID, entity, sourcedID).count > 0
    }

    func rosterRecords(integrationID: String, entity: String, sourcedIDs: [String]?) throws -> [RosterRecord] {
        guard let sourcedIDs else {
            let rows = try query("""
                SELECT \(Self.rosterColumns) FROM roster_records x WHERE integration_id = $1 AND entity = $2 ORDER BY sourced_id
                """, integrationID, entity)
            return (0..<rows.count).map { Self.rosterRecord(rows, $0) }
        }
        // In the order asked, those not held left out (an id asked twice comes twice): a batch of ids per statement,
        // joined by position with the held records.
        var records: [RosterRecord] = []
        records.reserveCapacity(sourcedIDs.count)
        for start in stride(from: 0, to: sourcedIDs.count, by: Self.rosterBatchSize) {
            let chunk = sourcedIDs[start..<min(start + Self.rosterBatchSize, sourcedIDs.count)]
            let rows = try query("""
                SELECT \(Self.rosterColumns) FROM unnest($3::text[]) WITH ORDINALITY AS k(s, n)
                CROSS JOIN LATERAL (
                    SELECT * FROM roster_records x WHERE x.integration_id = $1 AND x.entity = $2 AND x.sourced_id = k.s OFFSET 0
                ) x
                ORDER BY k.n
                """, list: [.text(integrationID), .text(entity), PGTransaction.textArray(chunk)])
            for row in 0..<rows.count { records.append(Self.rosterRecord(rows, row)) }
        }
        return records
    }

    // MARK: Applying changes

    /// How many rows one multi-row statement carries (and how many changes between two checkpoints at most).
    static let rosterBatchSize = 5_000

    /// `ANALYZE` of `table` unless another transaction is analysing it (then its statistics are on their way). The
    /// server's warning that it skipped is kept out of the output: the rest of this transaction reports errors only.
    func analyzeIfFree(_ table: String) throws {
        try execute("SET LOCAL client_min_messages TO error")
        try execute("ANALYZE (SKIP_LOCKED) \(table)")
    }

    /// An apply of at least this many changes analyses `roster_records` before it commits.
    static let analyzeAfterChanges = 2_000

    /// A batch ends early once its array literals hold this many bytes (records with large `fields`).
    static let rosterBatchBytes = 16 << 20

    /// Applies changes in batches: consecutive changes of one operation (parked ones skipped), up to
    /// ``rosterBatchSize`` at a time, each batch in a few multi-row statements (`unnest` of one array per column):
    /// - add: all consecutive adds in one `COPY` (see ``copyAdds(_:from:integrationID:runID:checkpoint:)``);
    /// - update: the held record's add row written out when not logged yet, one upsert (`add_logged = 1`), one INSERT of
    ///   the `update` history rows;
    /// - delete: the held record's add row likewise, one INSERT of the `delete` history rows (a row even for a record
    ///   not held), one DELETE.
    /// Batches follow the changes' order, so a record deleted then added again in one apply ends held, as one by one.
    /// `checkpoint` is called after each batch.
    func applyRosterChanges( _ changes: [RosterChange], integrationID: String, runID: String, checkpoint: (() throws -> Void)?, now: Double ) throws {
        try applyRosterChanges(groups: [changes], integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
    }

    /// Applies each group as ``applyRosterChanges(_:integrationID:runID:checkpoint:now:)`` does, except an integration's
    /// first roster write, which makes its partition: when every change is an add (a district's first sync), the
    /// records of all groups are copied into the bare partition in key order and the attach builds its indexes once,
    /// after them (for 2.2 M records: index upkeep row by row was 34 s; see the v11 migration).
    func applyRosterChanges(
        groups: [[RosterChange]], integrationID: String, runID: String, checkpoint: (() throws -> Void)?, now: Double
    ) throws {
        let live = groups.filter { $0.contains { !$0.parked } }
        guard !live.isEmpty else { return }
        let partition = try rosterPartition(integrationID: integrationID)
        if !partition.exists {
            try execute("""
                CREATE TABLE \(connection.identifier(partition.name)) (LIKE roster_records INCLUDING DEFAULTS,
                    CHECK (integration_id = \(connection.literal(integrationID))))
                """)
            if live.allSatisfy({ $0.allSatisfy { $0.parked || $0.operation == .add } }) {
                for _ in live { try bumpRosterVersion(integrationID: integrationID) }
                let order = Self.keyOrder(live)
                var position = 0
                try copyRecords(into: partition.name, integrationID: integrationID, runID: runID, checkpoint: checkpoint) {
                    guard position < order.count else { return nil }
                    defer { position += 1 }
                    return live[Int(order[position].group)][Int(order[position].index)].record
                }
                try attachRosterPartition(partition.name, integrationID: integrationID, rows: order.count)
                if try keepsEnrollmentLookups(integrationID: integrationID) { try keyEnrollments(integrationID: integrationID, kept: true) }
                if order.count >= Self.analyzeAfterChanges { try analyzeIfFree(connection.identifier(partition.name)) }
                return
            }
            try attachRosterPartition(partition.name, integrationID: integrationID, rows: 0)
            if try keepsEnrollmentLookups(integrationID: integrationID) { try keyEnrollments(integrationID: integrationID, kept: true) }
        }
        for changes in live {
            try applyGroup(changes, partition: partition.name, integrationID: integrationID, runID: runID, checkpoint: checkpoint,
                           now: now)
        }
    }

    /// One group of changes into the integration's existing partition, in batches (see
    /// ``applyRosterChanges(_:integrationID:runID:checkpoint:now:)``).
    private func applyGroup(
        _ changes: [RosterChange], partition: String, integrationID: String, runID: String, checkpoint: (() throws -> Void)?,
        now: Double
    ) throws {
        try bumpRosterVersion(integrationID: integrationID)
        var index = changes.startIndex
        while index < changes.endIndex {
            if changes[index].parked {
                index += 1
                continue
            }
            let operation = changes[index].operation
            if operation == .add {
                index = try copyAdds(changes, from: index, into: "roster_records", integrationID: integrationID, runID: runID,
                                     checkpoint: checkpoint)
                continue
            }
            var batch = RosterColumns()
            while index < changes.endIndex, batch.count < Self.rosterBatchSize, batch.byteCount < Self.rosterBatchBytes {
                let change = changes[index]
                if change.parked {
                    index += 1
                    continue
                }
                if change.operation != operation { break }
                batch.append(change.record)
                index += 1
            }
            switch operation {
            case .add:
                break  // copied above
            case .update:
                try logAdds(batch, integrationID: integrationID)
                try execute("""
                    INSERT INTO roster_records (integration_id, entity, sourced_id, digest, ref1, ref2, ref3, title, run_id, add_logged,
                                                fields, ref4)
                    SELECT $1::text, u.e, u.s, u.d, u.r1, u.r2, u.r3, u.t, $2::text, 1, decode(u.f, 'hex'), u.r4
                    FROM \(RosterColumns.unnest(from: 3))
                    ON CONFLICT (integration_id, entity, sourced_id) DO UPDATE SET
                        digest = EXCLUDED.digest, ref1 = EXCLUDED.ref1, ref2 = EXCLUDED.ref2, ref3 = EXCLUDED.ref3,
                        title = EXCLUDED.title, run_id = EXCLUDED.run_id, add_logged = 1, fields = EXCLUDED.fields,
                        ref4 = EXCLUDED.ref4
                    """, list: [.text(integrationID), .text(runID)] + batch.params)
                try logChanges(batch, operation: "update", integrationID: integrationID, runID: runID, now: now)
            case .delete:
                try logAdds(batch, integrationID: integrationID)
                try logChanges(batch, operation: "delete", integrationID: integrationID, runID: runID, now: now)
                // The held rows found key by key (see `heldByKey`), then deleted by row address: a join of the keys
                // with the table would let the planner hash the integration's whole roster for every batch. (Roster
                // writes of one integration run under its sync lock; even so, a row another transaction updated in
                // between is still deleted: the recheck of a TID scan follows the update.)
                // `integration_id = $1` keeps the row addresses to the integration's partition: a `ctid` names a row
                // within one partition only.
                try execute("""
                    DELETE FROM roster_records WHERE integration_id = $1 AND ctid = ANY(ARRAY(
                        SELECT x.ctid FROM unnest($2::text[], $3::text[]) AS k(e, s) CROSS JOIN LATERAL \(Self.heldByKey("x.ctid")) x))
                    """, list: [.text(integrationID), batch.entities.param, batch.sourcedIDs.param])
            }
            if let checkpoint { try checkpoint() }
        }
        // The planner's statistics of a roster that just grew or shrank by this much are stale (autovacuum analyses
        // it later, on its own schedule): with them, the key-by-key lookups of the next sync can pick a partial index
        // that scans the whole district once per key. Analysed here, in the transaction, they hold from its commit.
        if changes.count >= Self.analyzeAfterChanges, changes.lazy.filter({ !$0.parked }).count >= Self.analyzeAfterChanges {
            try analyzeIfFree(connection.identifier(partition))
        }
    }

    /// The name of the partition of `roster_records` that holds the integration's records (`roster_records_` + the md5
    /// of its id: any id gives a valid name of 47 characters), and whether it exists. Under a transaction-level
    /// advisory lock of the integration, so two transactions never both make it.
    func rosterPartition(integrationID: String) throws -> (name: String, exists: Bool) {
        try execute("SELECT pg_advisory_xact_lock(hashtext('rosterflow-roster-partition:' || $1::text))", integrationID)
        let rows = try query("""
            SELECT p.name, to_regclass(quote_ident(p.name)) IS NOT NULL FROM (SELECT 'roster_records_' || md5($1::text) AS name) p
            """, integrationID)
        return (rows.text(0, 0), rows.bool(0, 1) == true)
    }

    /// Attaches the integration's new partition (`CHECK`ed to hold its id only, so the attach does not scan it). The
    /// attach builds the partitioned table's primary key and indexes on it (and ``keyEnrollments(integrationID:kept:)`` its
    /// own enrollment indexes after, where kept); for a large first sync the sorts get 256 MiB (`maintenance_work_mem`,
    /// this transaction only, never lowered) instead of spilling to disk.
    private func attachRosterPartition(_ name: String, integrationID: String, rows: Int) throws {
        if rows >= 100_000 {
            try execute("""
                SELECT set_config('maintenance_work_mem', '262144kB', true) FROM pg_settings
                WHERE name = 'maintenance_work_mem' AND setting::bigint < 262144
                """)
        }
        try execute("""
            ALTER TABLE roster_records ATTACH PARTITION \(connection.identifier(name))
            FOR VALUES IN (\(connection.literal(integrationID)))
            """)
    }

    /// Adds the consecutive adds from `start` (parked ones skipped) with one `COPY` (`add_logged = 0`: the record itself
    /// is the add's history), calling `checkpoint` every ``rosterBatchSize`` rows (what it throws cancels the copy) and
    /// at the end. Returns the index of the first change that is not an add.
    private func copyAdds(
        _ changes: [RosterChange], from start: Int, into table: String, integrationID: String, runID: String,
        checkpoint: (() throws -> Void)?
    ) throws -> Int {
        var index = start
        try copyRecords(into: table, integrationID: integrationID, runID: runID, checkpoint: checkpoint) {
            while index < changes.endIndex {
                let change = changes[index]
                if change.parked {
                    index += 1
                    continue
                }
                if change.operation != .add { return nil }
                index += 1
                return change.record
            }
            return nil
        }
        return index
    }

    /// Copies the records `next` gives (until it gives nil) into `table` with one `COPY`, as adds of the run
    /// (`add_logged = 0`), calling `checkpoint` every ``rosterBatchSize`` rows (what it throws cancels the copy) and at
    /// the end.
    private func copyRecords(
        into table: String, integrationID: String, runID: String, checkpoint: (() throws -> Void)?,
        next: () -> RosterRecord?
    ) throws {
        var rows = PGCopyRows()
        var sinceCheckpoint = 0
        try connection.copyIn("""
            COPY \(connection.identifier(table)) (integration_id, entity, sourced_id, digest, ref1, ref2, ref3, title, run_id, add_logged, fields, ref4)
            FROM STDIN
            """) { buffer in
            while rows.count < 1_000, let r = next() {
                rows.append(integrationID)
                rows.append(r.entity)
                rows.append(r.sourcedID)
                rows.append(r.digest as Int64?)
                rows.append(r.ref1)
                rows.append(r.ref2)
                rows.append(r.ref3)
                rows.append(r.title)
                rows.append(runID)
                rows.append(0 as Int64?)
                rows.append(bytea: r.fields)
                rows.append(r.ref4)
                rows.endRow()
            }
            sinceCheckpoint += rows.count
            let more = rows.count == 1_000
            buffer = rows.take()
            if sinceCheckpoint >= Self.rosterBatchSize, let checkpoint {
                sinceCheckpoint = 0
                try checkpoint()
            }
            return more
        }
        if let checkpoint { try checkpoint() }
    }

    /// The positions (group, index) of the changes that are not parked, in the order of the roster's primary key:
    /// entity, then sourcedId, both bytewise (`COLLATE "C"`). A partition filled in that order has its primary key built
    /// from presorted rows (2.0 s instead of 5.3 s for 2.2 M records). A planner's adds come one entity at a time in
    /// sourcedId order, so usually only the entities are put in order; an entity whose records are not is sorted.
    static func keyOrder(_ groups: [[RosterChange]]) -> [(group: Int32, index: Int32)] {
        var byEntity: [String: [(group: Int32, index: Int32)]] = [:]
        for (group, changes) in groups.enumerated() {
            for index in changes.indices where !changes[index].parked {
                byEntity[changes[index].record.entity, default: []].append((Int32(group), Int32(index)))
            }
        }
        var order: [(group: Int32, index: Int32)] = []
        order.reserveCapacity(byEntity.values.reduce(0) { $0 + $1.count })
        for entity in byEntity.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            var positions = byEntity[entity]!
            let before = { (a: (group: Int32, index: Int32), b: (group: Int32, index: Int32)) in
                groups[Int(a.group)][Int(a.index)].record.sourcedID.utf8
                    .lexicographicallyPrecedes(groups[Int(b.group)][Int(b.index)].record.sourcedID.utf8)
            }
            if zip(positions, positions.dropFirst()).contains(where: { before($1, $0) }) { positions.sort(by: before) }
            order += positions
        }
        return order
    }

    /// The held record of key `(k.e, k.s)` of integration `$1`, as a LATERAL subquery selecting `columns`: one primary-key
    /// lookup per key. `OFFSET 0` keeps the planner from flattening it into a join, which, on a roster just loaded (no
    /// statistics yet) or large, it would run by hashing every record of the integration for each batch of keys (0.3 s
    /// a batch on 200,000 records, against 50 ms for 5,000 lookups).
    static func heldByKey(_ columns: String) -> String {
        """
        (SELECT \(columns) FROM roster_records x WHERE x.integration_id = $1 AND x.entity = k.e AND x.sourced_id = k.s OFFSET 0)
        """
    }

    /// Writes out the `add` history rows of the batch's held records whose add is still kept in the record itself
    /// (`add_logged = 0`), at their run's time. A run not finished has no time to give: like SQLite's `INSERT OR IGNORE`
    /// on the NOT NULL `at`, that row is skipped.
    private func logAdds(_ batch: RosterColumns, integrationID: String) throws {
        try execute("""
            INSERT INTO roster_history (integration_id, entity, sourced_id, run_id, op, digest, title, at)
            SELECT x.integration_id, x.entity, x.sourced_id, x.run_id, 'add', x.digest, x.title, r.finished_at
            FROM unnest($2::text[], $3::text[]) AS k(e, s) CROSS JOIN LATERAL \(Self.heldByKey("x.*")) x
            JOIN sync_runs r ON r.id = x.run_id
            WHERE x.add_logged = 0 AND r.finished_at IS NOT NULL
            ON CONFLICT DO NOTHING
            """, list: [.text(integrationID), batch.entities.param, batch.sourcedIDs.param])
    }

    /// Appends one history row per change of the batch, with the change's digest and title.
    private func logChanges(_ batch: RosterColumns, operation: String, integrationID: String, runID: String, now: Double) throws {
        try execute("""
            INSERT INTO roster_history (integration_id, entity, sourced_id, run_id, op, digest, title, at)
            SELECT $1::text, u.e, u.s, $2::text, $3::text, u.d, u.t, $4::float8
            FROM unnest($5::text[], $6::text[], $7::bigint[], $8::text[]) AS u(e, s, d, t)
            """, list: [.text(integrationID), .text(runID), .text(operation), now.pgParam, batch.entities.param,
                        batch.sourcedIDs.param, batch.digests.param, batch.titles.param])
    }

    // MARK: History and versions

    func rosterHistory(sourcedID: String, integrationID: String?, entities: [String]) throws -> [RosterHistoryEntry] {
        let historyFilter = integrationID == nil ? "" : " AND h.integration_id = $3"
        let integrations = integrationID == nil ? "x.integration_id IN (SELECT id FROM integrations)" : "x.integration_id = $3"
        var params: [PGParam] = [.text(sourcedID), PGTransaction.textArray(entities)]
        if let integrationID { params.append(.text(integrationID)) }
        // Oldest first; on a tie of times, by the order the runs were recorded in (SQLite: the run's rowid). A time or
        // run that is missing sorts first, as SQLite's NULL does.
        let rows = try query("""
            SELECT integration_id, entity, sourced_id, run_id, op, title, at FROM (
                SELECT h.integration_id, h.entity, h.sourced_id, h.run_id, h.op, h.title, h.at, r.run_order
                FROM roster_history h LEFT JOIN sync_runs r ON r.id = h.run_id
                WHERE h.sourced_id = $1\(historyFilter)
                UNION ALL
                SELECT h.integration_id, h.entity, h.sourced_id, h.added_run, 'add', h.title, h.added_at, r.run_order
                FROM roster_history h LEFT JOIN sync_runs r ON r.id = h.added_run
                WHERE h.sourced_id = $1\(historyFilter) AND h.added_run IS NOT NULL
                UNION ALL
                SELECT x.integration_id, x.entity, x.sourced_id, x.run_id, 'add', x.title, r.finished_at, r.run_order
                FROM roster_records x JOIN sync_runs r ON r.id = x.run_id
                WHERE \(integrations) AND x.entity = ANY($2::text[]) AND x.sourced_id = $1 AND x.add_logged = 0
            ) u ORDER BY at NULLS FIRST, run_order NULLS FIRST, run_id, integration_id, entity
            """, list: params)
        return (0..<rows.count).map {
            RosterHistoryEntry(integrationID: rows.text($0, 0), entity: rows.text($0, 1), sourcedID: rows.text($0, 2),
                               runID: rows.text($0, 3), operation: rows.text($0, 4), title: rows.string($0, 5),
                               at: rows.double($0, 6) ?? 0)
        }
    }

    func integrationsKnowing(sourcedID: String, entities: [String]) throws -> [String] {
        let rows = try query("""
            SELECT integration_id FROM roster_history WHERE sourced_id = $1
            UNION
            SELECT integration_id FROM roster_records
            WHERE integration_id IN (SELECT id FROM integrations) AND entity = ANY($2::text[]) AND sourced_id = $1
            UNION
            SELECT integration_id FROM roster_aliases WHERE old_id = $1
            UNION
            SELECT integration_id FROM roster_aliases WHERE new_id = $1
            ORDER BY 1
            """, list: [.text(sourcedID), PGTransaction.textArray(entities)])
        return (0..<rows.count).map { rows.text($0, 0) }
    }

    func rosterVersion(integrationID: String) throws -> Int {
        let rows = try query("SELECT roster_version FROM integrations WHERE id = $1", integrationID)
        return rows.count > 0 ? rows.int(0, 0) ?? 0 : 0
    }

    func bumpRosterVersion(integrationID: String) throws {
        // One statement: the row lock makes concurrent bumps from several processes add up.
        try execute("UPDATE integrations SET roster_version = roster_version + 1 WHERE id = $1", integrationID)
    }

    // MARK: Row decoding

    /// The columns ``rosterRecord(_:_:)`` reads, from `roster_records` as `x`.
    static let rosterColumns = "x.entity, x.sourced_id, x.digest, x.ref1, x.ref2, x.ref3, x.title, x.fields, x.ref4"

    /// A held record from a row of ``rosterColumns``.
    static func rosterRecord(_ rows: PGRows, _ row: Int) -> RosterRecord {
        RosterRecord(entity: rows.text(row, 0), sourcedID: rows.text(row, 1), digest: rows.int64(row, 2) ?? 0,
                     ref1: rows.string(row, 3), ref2: rows.string(row, 4), ref3: rows.string(row, 5), title: rows.string(row, 6),
                     fields: rows.data(row, 7), ref4: rows.string(row, 8))
    }
}

/// The columns of a batch of roster records, as array parameters for `unnest` (see ``PGArrayColumn``).
struct RosterColumns {
    var entities = PGArrayColumn(), sourcedIDs = PGArrayColumn(), digests = PGArrayColumn(), ref1 = PGArrayColumn(),
        ref2 = PGArrayColumn(), ref3 = PGArrayColumn(), titles = PGArrayColumn(), fields = PGArrayColumn(), ref4 = PGArrayColumn()

    var count: Int { entities.count }

    var byteCount: Int {
        entities.byteCount + sourcedIDs.byteCount + digests.byteCount + ref1.byteCount + ref2.byteCount + ref3.byteCount
            + titles.byteCount + fields.byteCount + ref4.byteCount
    }

    mutating func append(_ record: RosterRecord) {
        entities.append(record.entity)
        sourcedIDs.append(record.sourcedID)
        digests.append(record.digest as Int64?)
        ref1.append(record.ref1)
        ref2.append(record.ref2)
        ref3.append(record.ref3)
        titles.append(record.title)
        fields.append(hex: record.fields)
        ref4.append(record.ref4)
    }

    /// The nine columns in the order of ``unnest(from:)``.
    var params: [PGParam] {
        [entities.param, sourcedIDs.param, digests.param, ref1.param, ref2.param, ref3.param, titles.param, fields.param, ref4.param]
    }

    /// `unnest(…) AS u(e, s, d, r1, r2, r3, t, f, r4)` over nine parameters from `$first` (`f`: hex digits).
    static func unnest(from first: Int) -> String {
        let types = ["text", "text", "bigint", "text", "text", "text", "text", "text", "text"]
        let arrays = types.enumerated().map { "$\(first + $0.offset)::\($0.element)[]" }.joined(separator: ", ")
        return "unnest(\(arrays)) AS u(e, s, d, r1, r2, r3, t, f, r4)"
    }
}

/// The held digests of one entity in sourcedId order, read through a server-side cursor of the transaction
/// (`DECLARE … CURSOR FOR … ORDER BY sourced_id`, then `FETCH` a batch at a time): a roster of millions is never held in
/// memory at once. Several may be open in one transaction (each has a name of its own); the cursor closes with the
/// transaction, and refuses to read once the transaction has ended.
final class PGRosterDigestCursor: RosterDigestCursor {
    /// How many rows one `FETCH` brings.
    static let batchSize = 5_000

    private weak var transaction: PGTransaction?
    private let name: String
    private var rows: PGRows?
    private var row = 0
    private var done = false

    init(_ transaction: PGTransaction, integrationID: String, entity: String) throws {
        self.transaction = transaction
        name = "rf_digests_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        // `sourced_id` is COLLATE "C": bytewise order, as SQLite's BINARY.
        try transaction.execute("""
            DECLARE \(name) NO SCROLL CURSOR FOR
            SELECT sourced_id, digest FROM roster_records WHERE integration_id = $1 AND entity = $2 ORDER BY sourced_id
            """, integrationID, entity)
    }

    func next() throws -> (sourcedID: String, digest: Int64)? {
        if done { return nil }
        if let rows, row < rows.count {
            defer { row += 1 }
            return (rows.text(row, 0), rows.int64(row, 1) ?? 0)
        }
        guard let transaction else {
            done = true
            throw StorageError(.database, "a roster digest cursor was read after its transaction ended")
        }
        let fetched = try transaction.query("FETCH FORWARD \(Self.batchSize) FROM \(name)")
        guard fetched.count > 0 else {
            done = true
            rows = nil
            return nil
        }
        rows = fetched
        row = 1
        return (fetched.text(0, 0), fetched.int64(0, 1) ?? 0)
    }
}
