import Foundation
import GRDB
import StorageCore

extension SQLiteTransaction {
    public func insertNextTermOffer(_ offer: NextTermOfferRecord) throws -> Bool {
        let classes = String(decoding: try JSONEncoder().encode(offer.classes), as: UTF8.self)
        try db.execute(sql: """
            INSERT OR IGNORE INTO next_term_offers (integration_id, teacher_sourced_id, ended_term_sourced_id, ended_term, classes,
                status, created_at, decided_at, decided_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [offer.integrationID, offer.teacherSourcedID, offer.endedTermSourcedID, offer.endedTerm, classes,
                             offer.status, offer.createdAt, offer.decidedAt, offer.decidedBy])
        return db.changesCount > 0
    }

    public func nextTermOffers(integrationID: String, teacherSourcedID: String) throws -> [NextTermOfferRecord] {
        try Row.fetchAll(db, sql: """
            SELECT integration_id, teacher_sourced_id, ended_term_sourced_id, ended_term, classes, status, created_at, decided_at,
                decided_by
            FROM next_term_offers WHERE integration_id = ? AND teacher_sourced_id = ? ORDER BY created_at DESC, ended_term_sourced_id
            """, arguments: [integrationID, teacherSourcedID]).map { row in
            let text: String = row[4]
            return NextTermOfferRecord(
                integrationID: row[0], teacherSourcedID: row[1], endedTermSourcedID: row[2], endedTerm: row[3],
                classes: try JSONDecoder().decode([OfferedClassRecord].self, from: Data(text.utf8)), status: row[5],
                createdAt: row[6], decidedAt: row[7], decidedBy: row[8])
        }
    }

    public func decideNextTermOffer(integrationID: String, teacherSourcedID: String, endedTermSourcedID: String, status: String,
                                    actor: String, at: Double) throws {
        try db.execute(sql: """
            UPDATE next_term_offers SET status = ?, decided_at = ?, decided_by = ?
            WHERE integration_id = ? AND teacher_sourced_id = ? AND ended_term_sourced_id = ?
            """, arguments: [status, at, actor, integrationID, teacherSourcedID, endedTermSourcedID])
    }

    /// Sign-ins, placements and imports run these lookups many times each: read in place by position, no GRDB `Row`.
    private func lookup(_ sql: String, _ arguments: StatementArguments) throws -> [RosterRecord] {
        var records: [RosterRecord] = []
        try db.fastEach(sql, arguments) { row in
            records.append(RosterRecord(
                entity: row.string(0), sourcedID: row.string(1), digest: Int64(row.int(2)), ref1: row.optionalString(3),
                ref2: row.optionalString(4), ref3: row.optionalString(5), title: row.optionalString(6), fields: row.optionalData(7),
                ref4: row.optionalString(8)))
        }
        return records
    }

    public func rosterUsers(integrationID: String, username: String) throws -> [RosterRecord] {
        try lookup(RosterLookupSQL.usersByUsername, [integrationID, username])
    }

    public func rosterUsers(integrationID: String, email: String) throws -> [RosterRecord] {
        try lookup(RosterLookupSQL.usersByEmail, [integrationID, email])
    }

    public func rosterEnrollments(integrationID: String, classSourcedID: String) throws -> [RosterRecord] {
        let keyed = try keepsEnrollmentLookups(integrationID: integrationID)
        return try lookup(keyed ? EnrollmentLookupSQL.byClass : EnrollmentLookupSQL.scanByClass, [integrationID, classSourcedID])
    }

    public func rosterEnrollments(integrationID: String, userSourcedID: String) throws -> [RosterRecord] {
        let keyed = try keepsEnrollmentLookups(integrationID: integrationID)
        return try lookup(keyed ? EnrollmentLookupSQL.byUser : EnrollmentLookupSQL.scanByUser, [integrationID, userSourcedID])
    }
}

/// The held-roster lookups of users by something other than the sourcedId. Each names its entity as a literal, so that
/// SQLite uses that entity's partial index (migration `v9-on-demand-terms`); a test checks each plan. Enrollments are
/// found through ``EnrollmentLookupSQL``.
enum RosterLookupSQL {
    static let columns = "entity, sourced_id, digest, ref1, ref2, ref3, title, fields, ref4"
    static let usersByUsername = """
        SELECT \(columns) FROM roster_records WHERE integration_id = ? AND entity = 'users' AND ref1 = ? ORDER BY sourced_id
        """
    static let usersByEmail = """
        SELECT \(columns) FROM roster_records WHERE integration_id = ? AND entity = 'users' AND lower(ref2) = lower(?) ORDER BY sourced_id
        """
}
