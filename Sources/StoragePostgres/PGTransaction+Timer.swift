import Foundation
import StorageCore

extension PGTransaction {
    private static let timerColumns = "id, instance_id, event, due_at, armed_at, armed_in_state"

    private static func timer(_ rows: PGRows, _ row: Int) -> TimerRecord {
        TimerRecord(
            id: rows.int64(row, 0) ?? 0, instanceID: rows.text(row, 1), event: rows.text(row, 2),
            dueAt: rows.double(row, 3) ?? 0, armedAt: rows.double(row, 4) ?? 0, armedInState: rows.text(row, 5))
    }

    func cancelTimers(instanceID: String) throws {
        try execute("DELETE FROM timers WHERE instance_id = $1", instanceID)
    }

    func armTimer(instanceID: String, event: String, dueAt: Double, armedAt: Double, inState state: String) throws {
        wakesWorkers = true
        try execute(
            "INSERT INTO timers (instance_id, event, due_at, armed_at, armed_in_state) VALUES ($1, $2, $3, $4, $5)",
            instanceID, event, dueAt, armedAt, state)
    }

    func dueTimers(now: Double, limit: Int) throws -> [TimerRecord] {
        // Race-safe: several workers fire timers at once, each in a write that reads the due timers, then deletes each
        // one (``deleteTimer(id:)``) before applying its event. In a write the due timers are claimed with
        // `FOR UPDATE SKIP LOCKED`: a timer another worker is firing right now is left to it (its delete decides), so
        // two workers take disjoint timers instead of queueing on each other's row locks, or deadlocking when their
        // events touch each other's instances. A read-only transaction cannot lock rows: it only looks.
        let readOnly = try query("SELECT current_setting('transaction_read_only')").text(0, 0) == "on"
        let rows = try query("""
            SELECT \(Self.timerColumns) FROM timers WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2
            """ + (readOnly ? "" : " FOR UPDATE SKIP LOCKED"), now, limit)
        return PGCoreDecoders.all(rows, Self.timer)
    }

    func timers(instanceID: String) throws -> [TimerRecord] {
        let rows = try query(
            "SELECT \(Self.timerColumns) FROM timers WHERE instance_id = $1 ORDER BY due_at, id", instanceID)
        return PGCoreDecoders.all(rows, Self.timer)
    }

    @discardableResult
    func deleteTimer(id: Int64) throws -> Bool {
        // At READ COMMITTED a delete of a row another transaction is deleting waits for it, then finds the row gone
        // (0 rows: false) if that one committed: a timer is taken, and fired, by one transaction only.
        try execute("DELETE FROM timers WHERE id = $1", id) == 1
    }
}
