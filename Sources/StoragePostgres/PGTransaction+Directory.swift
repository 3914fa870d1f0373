import Foundation
import StorageCore

extension PGTransaction {
    func integrations(tenantID: String) throws -> [(integration: IntegrationRecord, state: String)] {
        throw PGTransaction.unported("DirectoryStore.integrations")
    }

    @discardableResult
    func upsertCustomer(_ customer: CustomerRecord) throws -> Bool {
        throw PGTransaction.unported("DirectoryStore.upsertCustomer")
    }

    func customer(tenantID: String) throws -> CustomerRecord? {
        throw PGTransaction.unported("DirectoryStore.customer")
    }

    func customers() throws -> [CustomerRecord] {
        throw PGTransaction.unported("DirectoryStore.customers")
    }

    func insertIntegration(_ integration: IntegrationRecord) throws {
        throw PGTransaction.unported("DirectoryStore.insertIntegration")
    }

    func integration(id: String) throws -> IntegrationRecord? {
        throw PGTransaction.unported("DirectoryStore.integration")
    }

    func integrations() throws -> [IntegrationRecord] {
        throw PGTransaction.unported("DirectoryStore.integrations")
    }

    func integrationListing(after: String?, limit: Int, states: [String]?, tenants: [String]?) throws -> [IntegrationListing]? {
        throw PGTransaction.unported("DirectoryStore.integrationListing")
    }
}
