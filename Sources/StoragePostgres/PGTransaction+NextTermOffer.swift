import Foundation
import StorageCore

extension PGTransaction {
    /// `ON CONFLICT DO NOTHING`: of two syncs offering one teacher's next term at once, the later insert waits for the
    /// earlier row and inserts nothing, so a teacher is told once.
    func insertNextTermOffer(_ offer: NextTermOfferRecord) throws -> Bool {
        let classes = String(decoding: try JSONEncoder().encode(offer.classes), as: UTF8.self)
        return try execute("""
            INSERT INTO next_term_offers (integration_id, teacher_sourced_id, ended_term_sourced_id, ended_term, classes,
                status, created_at, decided_at, decided_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (integration_id, teacher_sourced_id, ended_term_sourced_id) DO NOTHING
            """, offer.integrationID, offer.teacherSourcedID, offer.endedTermSourcedID, offer.endedTerm, classes, offer.status,
            offer.createdAt, offer.decidedAt, offer.decidedBy) > 0
    }

    /// In a write transaction, first takes an advisory lock on the teacher (held to the end of the transaction): the
    /// caller answering an offer reads the open one, imports its classes and marks it decided, and two answers at once
    /// (in any processes) would both find it open at READ COMMITTED. With the lock the later one waits and reads the
    /// offer as decided.
    func nextTermOffers(integrationID: String, teacherSourcedID: String) throws -> [NextTermOfferRecord] {
        try lockForDecision("rosterflow.next-term-offer", integrationID + "\n" + teacherSourcedID)
        let rows = try query("""
            SELECT integration_id, teacher_sourced_id, ended_term_sourced_id, ended_term, classes, status, created_at, decided_at,
                decided_by
            FROM next_term_offers WHERE integration_id = $1 AND teacher_sourced_id = $2
            ORDER BY created_at DESC, ended_term_sourced_id
            """, integrationID, teacherSourcedID)
        return try (0..<rows.count).map { row in
            NextTermOfferRecord(
                integrationID: rows.text(row, 0), teacherSourcedID: rows.text(row, 1), endedTermSourcedID: rows.text(row, 2),
                endedTerm: rows.text(row, 3),
                classes: try JSONDecoder().decode([OfferedClassRecord].self, from: Data(rows.text(row, 4).utf8)),
                status: rows.text(row, 5), createdAt: rows.double(row, 6) ?? 0, decidedAt: rows.double(row, 7),
                decidedBy: rows.string(row, 8))
        }
    }

    func decideNextTermOffer(integrationID: String, teacherSourcedID: String, endedTermSourcedID: String, status: String,
                             actor: String, at: Double) throws {
        try execute("""
            UPDATE next_term_offers SET status = $1, decided_at = $2, decided_by = $3
            WHERE integration_id = $4 AND teacher_sourced_id = $5 AND ended_term_sourced_id = $6
            """, status, at, actor, integrationID, teacherSourcedID, endedTermSourcedID)
    }
}
