/// On-demand rostering: provisioning modes, identity links and the unlinked queue, imported classes and their members,
/// and the platform events already written (so a retry never provisions twice).
public protocol OnDemandStore {
    /// The integration's provisioning mode; nil when never set (pre-provisioned).
    func provisioningMode(integrationID: String) throws -> ProvisioningMode?

    /// Sets the integration's provisioning mode.
    func setProvisioningMode(integrationID: String, mode: ProvisioningMode, actor: String, at: Double) throws

    /// The link of a provider identity in one integration, if there is one.
    func identityLink(provider: String, integrationID: String, providerUserID: String) throws -> IdentityLinkRecord?

    /// The links to one OneRoster user of an integration.
    func identityLinks(integrationID: String, sourcedID: String) throws -> [IdentityLinkRecord]

    /// Records (or replaces) a link.
    func upsertIdentityLink(_ link: IdentityLinkRecord) throws

    /// Adds a sign-in to the unlinked queue.
    func insertUnlinkedIdentity(_ record: UnlinkedIdentityRecord) throws

    /// One queue entry by its support code.
    func unlinkedIdentity(supportCode: String) throws -> UnlinkedIdentityRecord?

    /// The queue, oldest first: only unresolved entries unless `includeResolved`.
    func unlinkedIdentities(includeResolved: Bool) throws -> [UnlinkedIdentityRecord]

    /// Marks a queue entry resolved.
    func resolveUnlinkedIdentity(supportCode: String, sourcedID: String, actor: String, at: Double) throws

    /// An imported class, if it was imported.
    func importedClass(integrationID: String, classSourcedID: String) throws -> ImportedClassRecord?

    /// The imported class a `class-import` workflow instance runs for.
    func importedClass(instanceID: String) throws -> ImportedClassRecord?

    /// Every imported class of an integration.
    func importedClasses(integrationID: String) throws -> [ImportedClassRecord]

    /// Records an imported class.
    func insertImportedClass(_ record: ImportedClassRecord) throws

    /// Records (or replaces) a member of a class, keyed by role, integration, class and user.
    func upsertClassMember(_ member: ClassMemberRecord) throws

    /// The members of one class (`classSourcedID`) or of one user (`userSourcedID`) in an integration; nil matches any.
    func classMembers(integrationID: String, classSourcedID: String?, userSourcedID: String?) throws -> [ClassMemberRecord]

    /// Claims a platform event's idempotency key for an outbox message: false when the key was claimed before.
    func claimPlatformEvent(key: String, outboxID: String, at: Double) throws -> Bool
}
