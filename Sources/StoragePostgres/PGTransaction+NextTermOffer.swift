import Foundation
import StorageCore

extension PGTransaction {
    func insertNextTermOffer(_ offer: NextTermOfferRecord) throws -> Bool {
        throw PGTransaction.unported("NextTermOfferStore.insertNextTermOffer")
    }

    func nextTermOffers(integrationID: String, teacherSourcedID: String) throws -> [NextTermOfferRecord] {
        throw PGTransaction.unported("NextTermOfferStore.nextTermOffers")
    }

    func decideNextTermOffer(integrationID: String, teacherSourcedID: String, endedTermSourcedID: String, status: String, actor: String, at: Double) throws {
        throw PGTransaction.unported("NextTermOfferStore.decideNextTermOffer")
    }
}
