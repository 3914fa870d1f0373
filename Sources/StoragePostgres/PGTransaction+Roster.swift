import Foundation
import StorageCore

extension PGTransaction {
    func insertAliases(_ merges: [SourcedIDMerge], integrationID: String, runID: String, actor: String, now: Double) throws {
        throw PGTransaction.unported("RosterStore.insertAliases")
    }

    func aliases(involving sourcedID: String, integrationID: String?) throws -> [RosterAlias] {
        throw PGTransaction.unported("RosterStore.aliases")
    }

    func currentSourcedID(integrationID: String, entity: String, sourcedID: String) throws -> String {
        throw PGTransaction.unported("RosterStore.currentSourcedID")
    }

    func rememberParkedDeletes( _ records: [(entity: String, sourcedID: String)], integrationID: String, runID: String, actor: String, now: Double ) throws {
        throw PGTransaction.unported("RosterStore.rememberParkedDeletes")
    }

    func parkedDeleteKeys(integrationID: String) throws -> Set<String> {
        throw PGTransaction.unported("RosterStore.parkedDeleteKeys")
    }

    func parkedDeletes(integrationID: String, entity: String?) throws -> [ParkedDeleteRecord] {
        throw PGTransaction.unported("RosterStore.parkedDeletes")
    }

    func forgetParkedDeletes(integrationID: String, keys: [String]) throws {
        throw PGTransaction.unported("RosterStore.forgetParkedDeletes")
    }

    @discardableResult
    func forgetParkedDeletes(integrationID: String, entity: String?) throws -> Int {
        throw PGTransaction.unported("RosterStore.forgetParkedDeletes")
    }

    func rosterTitles(integrationID: String, runID: String, entity: String, sourcedIDs: Set<String>) throws -> [String: String] {
        throw PGTransaction.unported("RosterStore.rosterTitles")
    }

    func rosterRecords(integrationID: String) throws -> [RosterRecord] {
        throw PGTransaction.unported("RosterStore.rosterRecords")
    }

    func rosterCounts(integrationID: String) throws -> [String: Int] {
        throw PGTransaction.unported("RosterStore.rosterCounts")
    }

    func rosterDigestCursor(integrationID: String, entity: String) throws -> any RosterDigestCursor {
        throw PGTransaction.unported("RosterStore.rosterDigestCursor")
    }

    func holdsRosterRecord(integrationID: String, entity: String, sourcedID: String) throws -> Bool {
        throw PGTransaction.unported("RosterStore.holdsRosterRecord")
    }

    func rosterRecords(integrationID: String, entity: String, sourcedIDs: [String]?) throws -> [RosterRecord] {
        throw PGTransaction.unported("RosterStore.rosterRecords")
    }

    func applyRosterChanges( _ changes: [RosterChange], integrationID: String, runID: String, checkpoint: (() throws -> Void)?, now: Double ) throws {
        throw PGTransaction.unported("RosterStore.applyRosterChanges")
    }

    func rosterHistory(sourcedID: String, integrationID: String?, entities: [String]) throws -> [RosterHistoryEntry] {
        throw PGTransaction.unported("RosterStore.rosterHistory")
    }

    func integrationsKnowing(sourcedID: String, entities: [String]) throws -> [String] {
        throw PGTransaction.unported("RosterStore.integrationsKnowing")
    }

    func rosterVersion(integrationID: String) throws -> Int {
        throw PGTransaction.unported("RosterStore.rosterVersion")
    }

    func bumpRosterVersion(integrationID: String) throws {
        throw PGTransaction.unported("RosterStore.bumpRosterVersion")
    }
}
