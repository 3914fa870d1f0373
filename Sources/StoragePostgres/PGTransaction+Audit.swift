import Foundation
import StorageCore

extension PGTransaction {
    func insertAudit(_ record: AuditRecord) throws {
        throw PGTransaction.unported("AuditStore.insertAudit")
    }

    func auditRecords(integrationID: String?, limit: Int) throws -> [AuditRecord] {
        throw PGTransaction.unported("AuditStore.auditRecords")
    }
}
