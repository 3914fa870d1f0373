import Foundation
import StorageCore

extension PGTransaction {
    func storeCarryForwards(_ proposals: [CarryForwardRecord], runID: String) throws {
        throw PGTransaction.unported("CarryForwardStore.storeCarryForwards")
    }

    func carryForwards(runID: String) throws -> [CarryForwardRecord] {
        throw PGTransaction.unported("CarryForwardStore.carryForwards")
    }
}
