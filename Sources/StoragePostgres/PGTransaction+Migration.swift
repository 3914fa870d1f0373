import Foundation
import StorageCore

extension PGTransaction {
    @discardableResult
    func migrateInstance( id: String, expectedRowVersion: Int, fromVersion: Int, toVersion: Int, state: String, previousState: String?, now: Double ) throws -> Int {
        throw PGTransaction.unported("MigrationStore.migrateInstance")
    }

    func instanceVersionCounts() throws -> [InstanceVersionCount] {
        throw PGTransaction.unported("MigrationStore.instanceVersionCounts")
    }
}
