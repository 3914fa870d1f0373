import Foundation
import StorageCore

// Helpers for the access, sign-in, on-demand and hook operations that SQLite made safe by its single writer: several
// processes write one PostgreSQL database at READ COMMITTED, so a "read, decide, write" in one transaction needs a lock
// taken before the read, or a write that lets the loser of a race try again.
extension PGTransaction {
    /// Whether this transaction is read-only (the store's `read`/`readNow`): row locks and advisory locks are taken only
    /// by writers (`SELECT … FOR UPDATE` is refused in a read-only transaction, and a reader decides nothing).
    func isReadOnly() throws -> Bool {
        try query("SELECT current_setting('transaction_read_only')").string(0, 0) == "on"
    }

    /// Takes a transaction-scoped advisory lock on (`space`, `key`) in a write transaction, held until it commits or
    /// rolls back; nothing in a read-only one. Writers that take it before reading what they decide on run one after
    /// the other for one key, and the later one (its next statement has a new READ COMMITTED snapshot) sees what the
    /// earlier one committed. Two keys whose hashes collide only wait for each other.
    func lockForDecision(_ space: String, _ key: String) throws {
        try execute(
            "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2)) WHERE current_setting('transaction_read_only') = 'off'",
            space, key)
    }

    /// Runs an INSERT whose unique key another request may have just taken: a unique violation (SQLSTATE 23505) becomes
    /// a `busy` error, so the store's `write` runs the whole body again, and the body then finds the row committed by
    /// the request that won (and answers as it would have had they come one after the other). Other errors pass.
    func insertUnlessTaken(_ sql: String, _ params: [PGParam], taken: String) throws {
        do {
            try execute(sql, list: params)
        } catch let error as StorageError where error.code == .database && connection.lastErrorState == "23505" {
            throw StorageError(.busy, "\(taken) at the same moment by another request; nothing was done, try again")
        }
    }
}
