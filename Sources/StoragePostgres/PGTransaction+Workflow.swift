import Foundation
import StorageCore

extension PGTransaction {
    func recordDefinition(name: String, version: Int, source: String, checksum: String, file: String, now: Double) throws {
        // Race-safe: two processes starting together may record the same definition at once. The insert either lands
        // or, on a conflict, waits for the other insert to commit and does nothing; the row read afterwards (a new
        // READ COMMITTED snapshot) is then the one that won, compared as SQLite compares the row it found.
        let inserted = try execute("""
            INSERT INTO workflow_definitions (name, version, source, checksum, first_loaded_at) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (name, version) DO NOTHING
            """, name, version, source, checksum, now)
        if inserted == 1 { return }
        let existing = try query(
            "SELECT checksum, source FROM workflow_definitions WHERE name = $1 AND version = $2", name, version)
        guard existing.count == 1 else { return }
        if existing.text(0, 0) != checksum, existing.text(0, 1) != source {
            throw StorageError(
                .definitionChanged,
                "\(file) changed, but still says version \(version) of '\(name)', which this database already runs; "
                    + "give the changed definition a new version number (instances keep the version they started on)")
        }
    }

    func storedDefinitions() throws -> [(name: String, version: Int, source: String)] {
        let rows = try query("SELECT name, version, source FROM workflow_definitions ORDER BY name, version")
        return (0..<rows.count).map { (name: rows.text($0, 0), version: rows.int($0, 1) ?? 0, source: rows.text($0, 2)) }
    }

    func insertInstance(_ instance: InstanceRecord) throws {
        try execute("""
            INSERT INTO workflow_instances (\(PGCoreDecoders.instanceColumns))
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """,
            instance.id, instance.workflow, instance.version, instance.state, instance.previousState,
            instance.subjectTitle, instance.rowVersion, instance.createdAt, instance.enteredAt, instance.updatedAt)
    }

    /// In a write transaction the row is locked (`FOR NO KEY UPDATE`) until the commit, as SQLite's single writer
    /// holds it: an event read and applied in one transaction is then never refused as stale because another process
    /// moved the instance in between — that process's transaction waits, then reads what this one committed. (History
    /// rows referring to the instance can still be inserted meanwhile: the key is not locked.)
    func instance(id: String) throws -> InstanceRecord? {
        let rows = try query(
            "SELECT \(PGCoreDecoders.instanceColumns) FROM workflow_instances WHERE id = $1"
                + (writes ? " FOR NO KEY UPDATE" : ""), id)
        return rows.count == 0 ? nil : PGCoreDecoders.instance(rows, 0)
    }

    func instances(workflow: String, states: [String]?) throws -> [InstanceRecord] {
        var sql = "SELECT \(PGCoreDecoders.instanceColumns) FROM workflow_instances WHERE workflow = $1"
        var params: [PGParam] = [workflow.pgParam]
        if let states {
            sql += " AND state = ANY($2::text[])"
            params.append(Self.textArray(states))
        }
        let rows = try query(sql + " ORDER BY entered_at, id", list: params)
        return PGCoreDecoders.all(rows) { PGCoreDecoders.instance($0, $1) }
    }

    @discardableResult
    func updateInstance(
        id: String, expectedRowVersion: Int, state: String, previousState: String?, enteredAt: Double, now: Double
    ) throws -> Int {
        // Race-safe: the row version is checked by the UPDATE itself. At READ COMMITTED a concurrent writer's UPDATE
        // makes this one wait, then re-check its WHERE against the committed row: the loser changes no row and is
        // told its read was stale, never overwriting the winner.
        let changed = try execute("""
            UPDATE workflow_instances
            SET state = $1, previous_state = $2, entered_at = $3, updated_at = $4, row_version = row_version + 1
            WHERE id = $5 AND row_version = $6
            """, state, previousState, enteredAt, now, id, expectedRowVersion)
        guard changed == 1 else {
            throw StorageError.staleInstance(id: id, expectedRowVersion: expectedRowVersion, current: try instance(id: id))
        }
        return expectedRowVersion + 1
    }

    @discardableResult
    func appendTransition(
        instanceID: String, from: String?, to: String, event: String, actor: String, role: String, at: Double,
        reason: String?, rowVersion: Int
    ) throws -> Int64 {
        let rows = try query("""
            INSERT INTO transitions (instance_id, from_state, to_state, event, actor, role, at, reason, row_version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq
            """, instanceID, from, to, event, actor, role, at, reason, rowVersion)
        return rows.int64(0, 0) ?? 0
    }

    func transitions(instanceID: String) throws -> [TransitionRecord] {
        let rows = try query("""
            SELECT seq, instance_id, from_state, to_state, event, actor, role, at, reason, row_version
            FROM transitions WHERE instance_id = $1 ORDER BY seq
            """, instanceID)
        return (0..<rows.count).map {
            TransitionRecord(
                seq: rows.int64($0, 0) ?? 0, instanceID: rows.text($0, 1), from: rows.string($0, 2), to: rows.text($0, 3),
                event: rows.text($0, 4), actor: rows.text($0, 5), role: rows.text($0, 6), at: rows.double($0, 7) ?? 0,
                reason: rows.string($0, 8), rowVersion: rows.int($0, 9) ?? 0)
        }
    }
}
