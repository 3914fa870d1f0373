import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Proposed merges

    func storeProposedMerges(_ merges: [SourcedIDMerge], runID: String) throws {
        for start in stride(from: 0, to: merges.count, by: Self.rosterBatchSize) {
            var entities = PGArrayColumn(), olds = PGArrayColumn(), news = PGArrayColumn(), matched = PGArrayColumn(),
                values = PGArrayColumn()
            for merge in merges[start..<min(start + Self.rosterBatchSize, merges.count)] {
                entities.append(merge.entity)
                olds.append(merge.oldID)
                news.append(merge.newID)
                matched.append(merge.matchedOn)
                values.append(merge.value)
            }
            try execute("""
                INSERT INTO sync_merges (run_id, entity, old_id, new_id, matched_on, value)
                SELECT $1::text, u.e, u.o, u.n, u.m, u.v FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    AS u(e, o, n, m, v)
                """, list: [.text(runID), entities.param, olds.param, news.param, matched.param, values.param])
        }
    }

    func proposedMerges(runID: String) throws -> [SourcedIDMerge] {
        let rows = try query("""
            SELECT entity, old_id, new_id, matched_on, value, status FROM sync_merges WHERE run_id = $1
            ORDER BY entity = 'users' DESC, entity, old_id
            """, runID)
        return (0..<rows.count).map {
            SourcedIDMerge(entity: rows.text($0, 0), oldID: rows.text($0, 1), newID: rows.text($0, 2), matchedOn: rows.text($0, 3),
                           value: rows.text($0, 4), status: rows.text($0, 5))
        }
    }

    func decideProposedMerges(runID: String, status: String) throws {
        try execute("UPDATE sync_merges SET status = $1 WHERE run_id = $2 AND status = 'proposed'", status, runID)
    }

    func unparkDeletes(runID: String, entity: String, sourcedIDs: [String]) throws {
        for start in stride(from: 0, to: sourcedIDs.count, by: Self.rosterBatchSize) {
            let chunk = sourcedIDs[start..<min(start + Self.rosterBatchSize, sourcedIDs.count)]
            try execute("""
                UPDATE sync_changes SET parked = 0 WHERE run_id = $1 AND op = 'delete' AND entity = $2 AND sourced_id = ANY($3::text[])
                """, list: [.text(runID), .text(entity), PGTransaction.textArray(chunk)])
        }
    }

    func updateSyncRunCounts(id: String, counts: String) throws {
        try execute("UPDATE sync_runs SET counts = $1 WHERE id = $2", counts, id)
    }

    // MARK: Stored change sets

    /// The filter of ``syncChangeCount(runID:entity:operation:)`` and ``syncChanges(runID:entity:operation:limit:offset:)``.
    private static func changeFilter(runID: String, entity: String?, operation: String?) -> (String, [PGParam]) {
        var condition = "run_id = $1"
        var params: [PGParam] = [.text(runID)]
        if let entity {
            params.append(.text(entity))
            condition += " AND entity = $\(params.count)"
        }
        if let operation {
            params.append(.text(operation))
            condition += " AND op = $\(params.count)"
        }
        return (condition, params)
    }

    func syncChangeCount(runID: String, entity: String?, operation: String?) throws -> Int {
        let (condition, params) = Self.changeFilter(runID: runID, entity: entity, operation: operation)
        return try query("SELECT COUNT(*) FROM sync_changes WHERE \(condition)", list: params).int(0, 0) ?? 0
    }

    func syncChanges(runID: String, entity: String?, operation: String?, limit: Int, offset: Int) throws -> [StoredChange] {
        let (condition, params) = Self.changeFilter(runID: runID, entity: entity, operation: operation)
        let rows = try query("""
            SELECT op, entity, sourced_id, digest, ref1, ref2, ref3, title, parked, fields, changed, ref4, seq
            FROM sync_changes WHERE \(condition) ORDER BY seq LIMIT $\(params.count + 1) OFFSET $\(params.count + 2)
            """, list: params + [limit.pgParam, offset.pgParam])
        return (0..<rows.count).map { StoredChange(seq: rows.int($0, 12) ?? 0, change: Self.storedChange(rows, $0)) }
    }

    func hasChangeSet(runID: String) throws -> Bool {
        try query("SELECT 1 FROM sync_changes WHERE run_id = $1 LIMIT 1", runID).count > 0
    }

    func heldSyncRunID(integrationID: String) throws -> String? {
        let rows = try query("""
            SELECT id FROM sync_runs WHERE integration_id = $1 AND decision = 'held' ORDER BY started_at DESC, run_order DESC LIMIT 1
            """, integrationID)
        return rows.count > 0 ? rows.string(0, 0) : nil
    }

    /// Stores the changes with one `COPY` (`seq` from 0, in order): the fastest way PostgreSQL takes new rows.
    func storeChangeSet<Changes: Sequence>(_ changes: Changes, runID: String) throws where Changes.Element == RosterChange  {
        var iterator = changes.makeIterator()
        var rows = PGCopyRows()
        var seq: Int64 = 0
        try connection.copyIn("""
            COPY sync_changes (run_id, seq, entity, op, sourced_id, digest, ref1, ref2, ref3, title, parked, fields, changed, ref4)
            FROM STDIN
            """) { buffer in
            while rows.count < 1_000, let change = iterator.next() {
                let r = change.record
                rows.append(runID)
                rows.append(seq as Int64?)
                rows.append(r.entity)
                rows.append(change.operation.rawValue)
                rows.append(r.sourcedID)
                rows.append(r.digest as Int64?)
                rows.append(r.ref1)
                rows.append(r.ref2)
                rows.append(r.ref3)
                rows.append(r.title)
                rows.append((change.parked ? 1 : 0) as Int64?)
                rows.append(bytea: r.fields)
                rows.append(change.changedFieldMask.map { Int64($0) })
                rows.append(r.ref4)
                rows.endRow()
                seq += 1
            }
            let more = rows.count == 1_000
            buffer = rows.take()
            return more
        }
        // A change set this large makes the table's statistics stale until autovacuum comes by; analysed in the
        // transaction, the review's and approval's reads of it plan right from the commit.
        if seq >= Self.analyzeAfterChanges { try analyzeIfFree("sync_changes") }
    }

    /// Read a page at a time by `seq` (an approved rollover reads millions: no single result holds them all). Each page
    /// is a bounded `seq` range (a run's `seq` runs from 0 without gaps, see ``storeChangeSet(_:runID:)``), not
    /// `seq > after ORDER BY seq LIMIT n`: with statistics that do not know the change set yet, the planner ran that
    /// as a scan and sort of every later change of the run per page (1.9 s a page of a 4-million-change set).
    func changeSet(runID: String) throws -> [RosterChange] {
        var changes: [RosterChange] = []
        var after: Int64 = -1
        while true {
            let rows = try query("""
                SELECT op, entity, sourced_id, digest, ref1, ref2, ref3, title, parked, fields, changed, ref4, seq
                FROM sync_changes WHERE run_id = $1 AND seq > $2 AND seq <= $2 + $3 ORDER BY seq
                """, runID, after, Int64(Self.changePage))
            changes.reserveCapacity(changes.count + rows.count)
            for row in 0..<rows.count { changes.append(Self.storedChange(rows, row)) }
            guard rows.count == Self.changePage, let last = rows.int64(rows.count - 1, 12) else { return changes }
            after = last
        }
    }

    /// How many stored changes ``changeSet(runID:)`` reads per statement.
    static let changePage = 50_000

    /// A stored change from the columns `op, entity, sourced_id, digest, ref1, ref2, ref3, title, parked, fields,
    /// changed, ref4`.
    static func storedChange(_ rows: PGRows, _ row: Int) -> RosterChange {
        RosterChange(
            operation: RosterChange.Operation(rawValue: rows.text(row, 0)) ?? .update,
            record: RosterRecord(entity: rows.text(row, 1), sourcedID: rows.text(row, 2), digest: rows.int64(row, 3) ?? 0,
                                 ref1: rows.string(row, 4), ref2: rows.string(row, 5), ref3: rows.string(row, 6),
                                 title: rows.string(row, 7), fields: rows.data(row, 9), ref4: rows.string(row, 11)),
            parked: (rows.int(row, 8) ?? 0) != 0,
            changedFieldMask: rows.int64(row, 10).map { UInt32(truncatingIfNeeded: $0) })
    }

    func parkDeletes(runID: String) throws {
        try execute("UPDATE sync_changes SET parked = 1 WHERE run_id = $1 AND op = 'delete'", runID)
    }

    func dropChangeSet(runID: String) throws {
        try execute("DELETE FROM sync_changes WHERE run_id = $1", runID)
    }

    // MARK: Sync runs

    func insertSyncRun(_ run: SyncRunRecord) throws {
        try execute("""
            INSERT INTO sync_runs (id, integration_id, bundle, started_at, finished_at, decision, reasons, counts, report,
                                   based_on_run, bundle_sha256, policy, base_roster_version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            """, run.id, run.integrationID, run.bundle, run.startedAt, run.finishedAt, run.decision.rawValue, run.reasons,
            run.counts, run.report, run.basedOnRun, run.bundleSHA256, run.policy, run.baseRosterVersion)
    }

    func updateSyncRun(id: String, decision: SyncDecision, reasons: String, finishedAt: Double) throws {
        try execute("UPDATE sync_runs SET decision = $1, reasons = $2, finished_at = $3 WHERE id = $4",
                    decision.rawValue, reasons, finishedAt, id)
    }

    func updateSyncRunDecision(id: String, decision: SyncDecision, finishedAt: Double) throws {
        try execute("UPDATE sync_runs SET decision = $1, finished_at = $2 WHERE id = $3", decision.rawValue, finishedAt, id)
    }

    /// The columns ``syncRun(_:_:)`` reads.
    private static let syncRunColumns = """
        id, integration_id, bundle, started_at, finished_at, decision, reasons, counts, report, based_on_run, bundle_sha256, \
        policy, base_roster_version
        """

    private static func syncRun(_ rows: PGRows, _ row: Int) -> SyncRunRecord {
        SyncRunRecord(
            id: rows.text(row, 0), integrationID: rows.text(row, 1), bundle: rows.text(row, 2), startedAt: rows.double(row, 3) ?? 0,
            finishedAt: rows.double(row, 4), decision: SyncDecision(stored: rows.text(row, 5)), reasons: rows.text(row, 6),
            counts: rows.text(row, 7), report: rows.text(row, 8), basedOnRun: rows.string(row, 9),
            bundleSHA256: rows.string(row, 10), policy: rows.string(row, 11), baseRosterVersion: rows.int(row, 12))
    }

    func syncRun(id: String) throws -> SyncRunRecord? {
        let rows = try query("SELECT \(Self.syncRunColumns) FROM sync_runs WHERE id = $1", id)
        return rows.count > 0 ? Self.syncRun(rows, 0) : nil
    }

    // PostgreSQL has no rowid: where SQLite breaks a tie of times by insertion order (`rowid`), runs are ordered by
    // their start, then id.

    func syncRuns(integrationID: String?) throws -> [SyncRunRecord] {
        let rows = try query(
            "SELECT \(Self.syncRunColumns) FROM sync_runs" + (integrationID == nil ? "" : " WHERE integration_id = $1")
                + " ORDER BY started_at DESC, run_order DESC",
            list: integrationID.map { [.text($0)] } ?? [])
        return (0..<rows.count).map { Self.syncRun(rows, $0) }
    }

    func lastAppliedRun(integrationID: String) throws -> String? {
        // NULLS LAST: a NULL sorts lowest in SQLite, so last when descending.
        let rows = try query("""
            SELECT id FROM sync_runs WHERE integration_id = $1 AND decision = ANY($2::text[])
            ORDER BY finished_at DESC NULLS LAST, run_order DESC LIMIT 1
            """, list: [.text(integrationID), PGTransaction.textArray(SyncDecision.appliedChanges.map(\.rawValue))])
        return rows.count > 0 ? rows.string(0, 0) : nil
    }

    // MARK: The sync lock

    /// Race-safe across processes (SQLite reads the lock, then writes it, under its one-writer lock; PostgreSQL at READ
    /// COMMITTED would let two takers both see an expired lease and both take it): one upsert whose `WHERE` takes the
    /// lock only when it is free, ours already, or its lease has run out. A concurrent taker waits on the row and then
    /// re-checks the condition against the committed winner, so exactly one succeeds. When nothing is returned, the
    /// row is locked by this transaction (`ON CONFLICT DO UPDATE` locks it even when the `WHERE` fails) and its holder
    /// is read back unchanged.
    func acquireSyncLock( integrationID: String, owner: String, purpose: String, now: Double, leaseUntil: Double ) throws -> SyncLockRecord? {
        let taken = try query("""
            INSERT INTO sync_locks (integration_id, owner, purpose, acquired_at, lease_until) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (integration_id) DO UPDATE SET
                owner = EXCLUDED.owner, purpose = EXCLUDED.purpose, acquired_at = EXCLUDED.acquired_at,
                lease_until = EXCLUDED.lease_until
            WHERE sync_locks.owner = EXCLUDED.owner OR sync_locks.lease_until <= EXCLUDED.acquired_at
            RETURNING owner
            """, integrationID, owner, purpose, now, leaseUntil)
        if taken.count > 0 { return nil }
        guard let held = try syncLock(integrationID: integrationID) else {
            throw StorageError(.busy, "the sync lock of \(integrationID) changed hands while it was being taken; try again")
        }
        return held
    }

    func renewSyncLock(integrationID: String, owner: String, leaseUntil: Double) throws -> Bool {
        try execute("UPDATE sync_locks SET lease_until = $1 WHERE integration_id = $2 AND owner = $3",
                    leaseUntil, integrationID, owner) == 1
    }

    func holdsSyncLock(integrationID: String, owner: String) throws -> Bool {
        try syncLock(integrationID: integrationID)?.owner == owner
    }

    func releaseSyncLock(integrationID: String, owner: String) throws {
        try execute("DELETE FROM sync_locks WHERE integration_id = $1 AND owner = $2", integrationID, owner)
    }

    func syncLock(integrationID: String) throws -> SyncLockRecord? {
        let rows = try query("""
            SELECT integration_id, owner, purpose, acquired_at, lease_until FROM sync_locks WHERE integration_id = $1
            """, integrationID)
        guard rows.count > 0 else { return nil }
        return SyncLockRecord(integrationID: rows.text(0, 0), owner: rows.text(0, 1), purpose: rows.text(0, 2),
                              acquiredAt: rows.double(0, 3) ?? 0, leaseUntil: rows.double(0, 4) ?? 0)
    }

    // MARK: Run history

    func acceptedRuns(integrationID: String, after runID: String) throws -> [String] {
        // "Recorded after `runID`": insertion order, as SQLite's rowid. An unknown `runID` compares with NULL: no run.
        let accepted: [SyncDecision] = [.applied, .unchanged, .approved, .approvedWithoutDeletes]
        let rows = try query("""
            SELECT s.id FROM sync_runs s
            WHERE s.integration_id = $1 AND s.decision = ANY($3::text[])
                AND s.run_order > (SELECT b.run_order FROM sync_runs b WHERE b.id = $2)
            ORDER BY s.run_order
            """, list: [.text(integrationID), .text(runID), PGTransaction.textArray(accepted.map(\.rawValue))])
        return (0..<rows.count).map { rows.text($0, 0) }
    }

    func heldSyncRuns(integrationID: String) throws -> [SyncRunRecord] {
        let rows = try query("""
            SELECT \(Self.syncRunColumns) FROM sync_runs WHERE integration_id = $1 AND decision = 'held' ORDER BY started_at, run_order
            """, integrationID)
        return (0..<rows.count).map { Self.syncRun(rows, $0) }
    }
}
