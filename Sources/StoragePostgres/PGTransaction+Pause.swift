import Foundation
import StorageCore

extension PGTransaction {
    func setPause(_ pause: PauseRecord) throws {
        throw PGTransaction.unported("PauseStore.setPause")
    }

    func pause(integrationID: String) throws -> PauseRecord? {
        throw PGTransaction.unported("PauseStore.pause")
    }

    func clearPause(integrationID: String) throws {
        throw PGTransaction.unported("PauseStore.clearPause")
    }
}
