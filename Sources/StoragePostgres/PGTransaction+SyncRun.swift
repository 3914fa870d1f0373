import Foundation
import StorageCore

extension PGTransaction {
    func storeProposedMerges(_ merges: [SourcedIDMerge], runID: String) throws {
        throw PGTransaction.unported("SyncRunStore.storeProposedMerges")
    }

    func proposedMerges(runID: String) throws -> [SourcedIDMerge] {
        throw PGTransaction.unported("SyncRunStore.proposedMerges")
    }

    func decideProposedMerges(runID: String, status: String) throws {
        throw PGTransaction.unported("SyncRunStore.decideProposedMerges")
    }

    func unparkDeletes(runID: String, entity: String, sourcedIDs: [String]) throws {
        throw PGTransaction.unported("SyncRunStore.unparkDeletes")
    }

    func updateSyncRunCounts(id: String, counts: String) throws {
        throw PGTransaction.unported("SyncRunStore.updateSyncRunCounts")
    }

    func syncChangeCount(runID: String, entity: String?, operation: String?) throws -> Int {
        throw PGTransaction.unported("SyncRunStore.syncChangeCount")
    }

    func syncChanges(runID: String, entity: String?, operation: String?, limit: Int, offset: Int) throws -> [StoredChange] {
        throw PGTransaction.unported("SyncRunStore.syncChanges")
    }

    func hasChangeSet(runID: String) throws -> Bool {
        throw PGTransaction.unported("SyncRunStore.hasChangeSet")
    }

    func heldSyncRunID(integrationID: String) throws -> String? {
        throw PGTransaction.unported("SyncRunStore.heldSyncRunID")
    }

    func storeChangeSet<Changes: Sequence>(_ changes: Changes, runID: String) throws where Changes.Element == RosterChange  {
        throw PGTransaction.unported("SyncRunStore.storeChangeSet")
    }

    func changeSet(runID: String) throws -> [RosterChange] {
        throw PGTransaction.unported("SyncRunStore.changeSet")
    }

    func parkDeletes(runID: String) throws {
        throw PGTransaction.unported("SyncRunStore.parkDeletes")
    }

    func dropChangeSet(runID: String) throws {
        throw PGTransaction.unported("SyncRunStore.dropChangeSet")
    }

    func insertSyncRun(_ run: SyncRunRecord) throws {
        throw PGTransaction.unported("SyncRunStore.insertSyncRun")
    }

    func updateSyncRun(id: String, decision: SyncDecision, reasons: String, finishedAt: Double) throws {
        throw PGTransaction.unported("SyncRunStore.updateSyncRun")
    }

    func updateSyncRunDecision(id: String, decision: SyncDecision, finishedAt: Double) throws {
        throw PGTransaction.unported("SyncRunStore.updateSyncRunDecision")
    }

    func syncRun(id: String) throws -> SyncRunRecord? {
        throw PGTransaction.unported("SyncRunStore.syncRun")
    }

    func syncRuns(integrationID: String?) throws -> [SyncRunRecord] {
        throw PGTransaction.unported("SyncRunStore.syncRuns")
    }

    func lastAppliedRun(integrationID: String) throws -> String? {
        throw PGTransaction.unported("SyncRunStore.lastAppliedRun")
    }

    func acquireSyncLock( integrationID: String, owner: String, purpose: String, now: Double, leaseUntil: Double ) throws -> SyncLockRecord? {
        throw PGTransaction.unported("SyncRunStore.acquireSyncLock")
    }

    func renewSyncLock(integrationID: String, owner: String, leaseUntil: Double) throws -> Bool {
        throw PGTransaction.unported("SyncRunStore.renewSyncLock")
    }

    func holdsSyncLock(integrationID: String, owner: String) throws -> Bool {
        throw PGTransaction.unported("SyncRunStore.holdsSyncLock")
    }

    func releaseSyncLock(integrationID: String, owner: String) throws {
        throw PGTransaction.unported("SyncRunStore.releaseSyncLock")
    }

    func syncLock(integrationID: String) throws -> SyncLockRecord? {
        throw PGTransaction.unported("SyncRunStore.syncLock")
    }

    func acceptedRuns(integrationID: String, after runID: String) throws -> [String] {
        throw PGTransaction.unported("SyncRunStore.acceptedRuns")
    }

    func heldSyncRuns(integrationID: String) throws -> [SyncRunRecord] {
        throw PGTransaction.unported("SyncRunStore.heldSyncRuns")
    }
}
