import Foundation
import StorageCore

/// Deletes the operator parked with `sync approve --without-deletes`.
///
/// The records stay held, and the integration remembers the parking (by entity and sourcedId): the next bulk export
/// that omits the same records again does not delete them and does not hold the integration for them a second time;
/// they are counted as `parked`. A parking ends when an export carries the record again (or it is deleted otherwise),
/// or when the operator lets them go with ``RosterFlowService/unparkDeletes(integrationID:entity:)``, after which the
/// next sync proposes those deletes again, under the usual safeguards.
public enum ParkedDeletes {
    /// The counts of a run approved without its deletes: each entity's parked deletes move from `deletes` to `parked`.
    static func counts(_ counts: [String: EntityCounts], parked: [String: Int]) -> [String: EntityCounts] {
        var result = counts
        for (entity, number) in parked {
            var count = result[entity] ?? EntityCounts()
            count.deletes = max(0, count.deletes - number)
            count.parked += number
            result[entity] = count
        }
        return result
    }

    /// One line on the deletes a run kept parked, or nil when it kept none.
    static func note(_ counts: [String: EntityCounts], integrationID: String) -> String? {
        let parked = RosterEntity.allCases.compactMap { entity in
            counts[entity.rawValue].flatMap { $0.parked > 0 ? "\($0.parked) \(entity.rawValue)" : nil }
        }
        guard !parked.isEmpty else { return nil }
        return "kept parked, not deleted: " + parked.joined(separator: ", ") + " (the operator parked these deletes; "
            + "`rosterflow sync unpark --integration \(integrationID)` lets the next sync delete them)"
    }
}

extension RosterFlowService {
    /// Once a held run is approved without its deletes: records its parked deletes as parked in the run's counts and
    /// remembers them for the integration. In the approval's transaction.
    static func rememberParkedDeletes(
        tx: any StoreTransaction, run: SyncRunRecord, changes: [RosterChange], actor: String, now: Double
    ) throws {
        let parked = changes.filter { $0.parked && $0.operation == .delete }
        guard !parked.isEmpty else { return }
        let perEntity = Dictionary(grouping: parked, by: \.record.entity).mapValues(\.count)
        let counts = (try? JSONDecoder().decode([String: EntityCounts].self, from: Data(run.counts.utf8))) ?? [:]
        try tx.updateSyncRunCounts(id: run.id, counts: json(ParkedDeletes.counts(counts, parked: perEntity)))
        try tx.rememberParkedDeletes(
            parked.map { ($0.record.entity, $0.record.sourcedID) }, integrationID: run.integrationID, runID: run.id,
            actor: actor, now: now)
    }

    /// The deletes an integration keeps parked, optionally of one entity.
    public func parkedDeletes(integrationID: String, entity: String? = nil) throws -> [ParkedDeleteRecord] {
        try read { tx in
            try Self.requireIntegration(integrationID, tx)
            return try tx.parkedDeletes(integrationID: integrationID, entity: try Self.entityName(entity))
        }
    }

    /// Ends the parking of an integration's parked deletes (all, or one entity's): the next sync proposes them again,
    /// under the usual safeguards. Returns how many were let go.
    public func unparkDeletes(integrationID: String, entity: String? = nil) async throws -> Int {
        let entity = try Self.entityName(entity)
        try await requireIntegration(integrationID)
        return try await write { tx, _ in try tx.forgetParkedDeletes(integrationID: integrationID, entity: entity) }
    }

    private static func entityName(_ entity: String?) throws -> String? {
        guard let entity else { return nil }
        guard RosterEntity(rawValue: entity) != nil else {
            throw RosterFlowError(
                .invalidInput, "'\(entity)' is not a roster entity; use one of \(RosterEntity.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return entity
    }
}
