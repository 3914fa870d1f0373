import Foundation
import StorageCore

extension PGTransaction {
    func rosterUsers(integrationID: String, username: String) throws -> [RosterRecord] {
        throw PGTransaction.unported("RosterLookupStore.rosterUsers")
    }

    func rosterUsers(integrationID: String, email: String) throws -> [RosterRecord] {
        throw PGTransaction.unported("RosterLookupStore.rosterUsers")
    }

    func rosterEnrollments(integrationID: String, classSourcedID: String) throws -> [RosterRecord] {
        throw PGTransaction.unported("RosterLookupStore.rosterEnrollments")
    }

    func rosterEnrollments(integrationID: String, userSourcedID: String) throws -> [RosterRecord] {
        throw PGTransaction.unported("RosterLookupStore.rosterEnrollments")
    }
}
