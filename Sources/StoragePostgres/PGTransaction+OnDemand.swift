import Foundation
import StorageCore

extension PGTransaction {
    func provisioningMode(integrationID: String) throws -> ProvisioningMode? {
        throw PGTransaction.unported("OnDemandStore.provisioningMode")
    }

    func setProvisioningMode(integrationID: String, mode: ProvisioningMode, actor: String, at: Double) throws {
        throw PGTransaction.unported("OnDemandStore.setProvisioningMode")
    }

    func identityLink(provider: String, integrationID: String, providerUserID: String) throws -> IdentityLinkRecord? {
        throw PGTransaction.unported("OnDemandStore.identityLink")
    }

    func identityLinks(integrationID: String, sourcedID: String) throws -> [IdentityLinkRecord] {
        throw PGTransaction.unported("OnDemandStore.identityLinks")
    }

    func upsertIdentityLink(_ link: IdentityLinkRecord) throws {
        throw PGTransaction.unported("OnDemandStore.upsertIdentityLink")
    }

    func insertUnlinkedIdentity(_ record: UnlinkedIdentityRecord) throws {
        throw PGTransaction.unported("OnDemandStore.insertUnlinkedIdentity")
    }

    func unlinkedIdentity(supportCode: String) throws -> UnlinkedIdentityRecord? {
        throw PGTransaction.unported("OnDemandStore.unlinkedIdentity")
    }

    func unlinkedIdentities(includeResolved: Bool) throws -> [UnlinkedIdentityRecord] {
        throw PGTransaction.unported("OnDemandStore.unlinkedIdentities")
    }

    func resolveUnlinkedIdentity(supportCode: String, sourcedID: String, actor: String, at: Double) throws {
        throw PGTransaction.unported("OnDemandStore.resolveUnlinkedIdentity")
    }

    func importedClass(integrationID: String, classSourcedID: String) throws -> ImportedClassRecord? {
        throw PGTransaction.unported("OnDemandStore.importedClass")
    }

    func importedClass(instanceID: String) throws -> ImportedClassRecord? {
        throw PGTransaction.unported("OnDemandStore.importedClass")
    }

    func importedClasses(integrationID: String) throws -> [ImportedClassRecord] {
        throw PGTransaction.unported("OnDemandStore.importedClasses")
    }

    func insertImportedClass(_ record: ImportedClassRecord) throws {
        throw PGTransaction.unported("OnDemandStore.insertImportedClass")
    }

    func upsertClassMember(_ member: ClassMemberRecord) throws {
        throw PGTransaction.unported("OnDemandStore.upsertClassMember")
    }

    func classMembers(integrationID: String, classSourcedID: String?, userSourcedID: String?) throws -> [ClassMemberRecord] {
        throw PGTransaction.unported("OnDemandStore.classMembers")
    }

    func claimPlatformEvent(key: String, outboxID: String, at: Double) throws -> Bool {
        throw PGTransaction.unported("OnDemandStore.claimPlatformEvent")
    }
}
