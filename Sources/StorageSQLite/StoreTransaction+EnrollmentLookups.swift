import GRDB
import StorageCore

/// The SQL of enrollments found by class and by user (migration `v13-enrollment-lookups-where-used`).
///
/// Integrations in on-demand mode or with Sign in with ClassLink set up have their enrollments' keys in
/// `roster_enrollment_lookups`, kept up to date by ``SQLiteTransaction/applyRosterChanges(_:integrationID:runID:checkpoint:now:)``;
/// a lookup there reads only the enrollments it finds. Any other integration's lookup reads that integration's
/// enrollments in sourcedId order (correct, not fast; nothing in pre-provisioned rostering asks).
enum EnrollmentLookupSQL {
    /// The held roster's name of the entity (OneRoster's file name).
    static let entity = "enrollments"
    /// Whether the integration's enrollments are kept findable: on-demand mode, or a sign-in provider set up.
    static let kept = """
        SELECT EXISTS (SELECT 1 FROM provisioning_modes WHERE integration_id = ?1 AND mode = 'on-demand')
            OR EXISTS (SELECT 1 FROM sign_in_providers WHERE integration_id = ?1)
        """
    static let byClass = keyed("class")
    static let byUser = keyed("user")
    static let scanByClass = """
        SELECT \(RosterLookupSQL.columns) FROM roster_records WHERE integration_id = ? AND entity = 'enrollments' AND ref1 = ? ORDER BY sourced_id
        """
    static let scanByUser = """
        SELECT \(RosterLookupSQL.columns) FROM roster_records WHERE integration_id = ? AND entity = 'enrollments' AND ref2 = ? ORDER BY sourced_id
        """

    /// The lookup key's rows in key order (sourcedId), each joined to its held record by primary key.
    private static func keyed(_ by: String) -> String {
        let columns = RosterLookupSQL.columns.split(separator: ",").map { "x." + $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: ", ")
        return """
            SELECT \(columns) FROM roster_enrollment_lookups l CROSS JOIN roster_records x
            WHERE l.integration_id = ?1 AND l.by = '\(by)' AND l.value = ?2
              AND x.integration_id = ?1 AND x.entity = 'enrollments' AND x.sourced_id = l.sourced_id
            ORDER BY l.sourced_id
            """
    }

    /// Every held enrollment's keys of one integration, written in key order.
    static let rebuild = """
        INSERT INTO roster_enrollment_lookups (integration_id, by, value, sourced_id)
        SELECT integration_id, 'class', ref1, sourced_id FROM roster_records
        WHERE integration_id = ?1 AND entity = 'enrollments' AND ref1 IS NOT NULL
        UNION ALL
        SELECT integration_id, 'user', ref2, sourced_id FROM roster_records
        WHERE integration_id = ?1 AND entity = 'enrollments' AND ref2 IS NOT NULL
        ORDER BY 1, 2, 3, 4
        """
    static let clear = "DELETE FROM roster_enrollment_lookups WHERE integration_id = ?"
    /// One enrollment's keys, from its values (a NULL class or user is skipped by `OR IGNORE`).
    static let note = """
        INSERT OR IGNORE INTO roster_enrollment_lookups (integration_id, by, value, sourced_id)
        VALUES (?1, 'class', ?2, ?4), (?1, 'user', ?3, ?4)
        """
    /// One held enrollment's keys, read from the held record before it changes or goes.
    static let forgetClass = """
        DELETE FROM roster_enrollment_lookups WHERE integration_id = ?1 AND by = 'class' AND sourced_id = ?2 AND value = (
            SELECT ref1 FROM roster_records WHERE integration_id = ?1 AND entity = 'enrollments' AND sourced_id = ?2)
        """
    static let forgetUser = """
        DELETE FROM roster_enrollment_lookups WHERE integration_id = ?1 AND by = 'user' AND sourced_id = ?2 AND value = (
            SELECT ref2 FROM roster_records WHERE integration_id = ?1 AND entity = 'enrollments' AND sourced_id = ?2)
        """
}

/// Keeps one integration's enrollment lookups in step with its held roster, change by change, inside the apply's
/// transaction: ``forget(_:)`` before a held enrollment is updated or deleted, ``note(_:)`` after one is written.
struct EnrollmentLookupWriter {
    private let noteStatement: FastStatement
    private let forgetClass: FastStatement
    private let forgetUser: FastStatement
    private let integrationID: String

    init(_ db: Database, integrationID: String) throws {
        noteStatement = try FastStatement(db, EnrollmentLookupSQL.note)
        forgetClass = try FastStatement(db, EnrollmentLookupSQL.forgetClass)
        forgetUser = try FastStatement(db, EnrollmentLookupSQL.forgetUser)
        self.integrationID = integrationID
    }

    func note(_ record: RosterRecord) throws {
        try noteStatement.execute(.text(integrationID), FastValue(record.ref1), FastValue(record.ref2), .text(record.sourcedID))
    }

    func forget(_ sourcedID: String) throws {
        try forgetClass.execute(.text(integrationID), .text(sourcedID))
        try forgetUser.execute(.text(integrationID), .text(sourcedID))
    }
}

extension SQLiteTransaction {
    /// Whether the store keeps `integrationID`'s enrollments findable by class and by user (on-demand mode, or Sign in
    /// with ClassLink set up).
    func keepsEnrollmentLookups(integrationID: String) throws -> Bool {
        try db.fastFirst(EnrollmentLookupSQL.kept, [integrationID]) { $0.int(0) != 0 } ?? false
    }

    /// Writes the integration's enrollment lookups again from its held roster when `kept`, or removes them; called when
    /// its provisioning mode or sign-in settings change.
    func refreshEnrollmentLookups(integrationID: String, kept: Bool) throws {
        try db.fastExecute(EnrollmentLookupSQL.clear, [.text(integrationID)])
        if kept { try db.fastExecute(EnrollmentLookupSQL.rebuild, [.text(integrationID)]) }
    }

    /// Runs `change` (which may change the mode or sign-in settings) and refreshes the enrollment lookups when whether
    /// they are kept has changed.
    func keepingEnrollmentLookups(integrationID: String, _ change: () throws -> Void) throws {
        let before = try keepsEnrollmentLookups(integrationID: integrationID)
        try change()
        let after = try keepsEnrollmentLookups(integrationID: integrationID)
        if after != before { try refreshEnrollmentLookups(integrationID: integrationID, kept: after) }
    }
}
