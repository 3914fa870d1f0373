import Foundation
import StorageCore

extension PGTransaction {
    /// Held records of one entity matching one column, in sourcedId order. Each statement names its entity as a
    /// literal, so that PostgreSQL uses that entity's partial index (`… WHERE entity = 'users'`).
    private func lookup(_ sql: String, _ integrationID: String, _ value: String) throws -> [RosterRecord] {
        let rows = try query(sql, integrationID, value)
        return (0..<rows.count).map { Self.rosterRecord(rows, $0) }
    }

    func rosterUsers(integrationID: String, username: String) throws -> [RosterRecord] {
        try lookup("""
            SELECT \(Self.rosterColumns) FROM roster_records x
            WHERE integration_id = $1 AND entity = 'users' AND ref1 = $2 ORDER BY sourced_id
            """, integrationID, username)
    }

    func rosterUsers(integrationID: String, email: String) throws -> [RosterRecord] {
        // `lower` under COLLATE "C" folds ASCII letters only, as SQLite's `lower` does (and as the index
        // `roster_users_by_email` on `lower(ref2)` was built).
        try lookup("""
            SELECT \(Self.rosterColumns) FROM roster_records x
            WHERE integration_id = $1 AND entity = 'users' AND lower(ref2) = lower($2::text COLLATE "C") ORDER BY sourced_id
            """, integrationID, email)
    }

    func rosterEnrollments(integrationID: String, classSourcedID: String) throws -> [RosterRecord] {
        try lookup("""
            SELECT \(Self.rosterColumns) FROM roster_records x
            WHERE integration_id = $1 AND entity = 'enrollments' AND ref1 = $2 ORDER BY sourced_id
            """, integrationID, classSourcedID)
    }

    func rosterEnrollments(integrationID: String, userSourcedID: String) throws -> [RosterRecord] {
        try lookup("""
            SELECT \(Self.rosterColumns) FROM roster_records x
            WHERE integration_id = $1 AND entity = 'enrollments' AND ref2 = $2 ORDER BY sourced_id
            """, integrationID, userSourcedID)
    }
}
