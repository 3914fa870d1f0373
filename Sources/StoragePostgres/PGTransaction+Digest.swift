import Foundation
import StorageCore

extension PGTransaction {
    func recordDigest(integrationID: String, kind: String, localDate: String, at: Double) throws -> Bool {
        throw PGTransaction.unported("DigestStore.recordDigest")
    }
}
