import Foundation

/// How an integration provisions the platform: a shell per course ahead of time, or classes imported by teachers.
public enum ProvisioningMode: String, Sendable, Codable, CaseIterable {
    /// Today's model: the nightly sync creates a course shell per course, mapped by the DSP.
    case preProvisioned = "pre-provisioned"
    /// Nothing is created ahead of time: teachers import their classes, students are placed when they sign in.
    case onDemand = "on-demand"
}

/// A sign-in identity linked to a OneRoster user of an integration's held roster.
public struct IdentityLinkRecord: Sendable, Equatable, Codable {
    public var provider: String
    public var integrationID: String
    /// The provider's own user id (ClassLink `UserId`, the id_token `sub`).
    public var providerUserID: String
    /// The OneRoster user the identity is linked to.
    public var sourcedID: String
    /// How the link was made: `sourcedId`, `username`, `email`, or `manual` (a vendor admin resolved it).
    public var matchedOn: String
    public var actor: String
    public var linkedAt: Double

    /// A link with every field given.
    public init(provider: String, integrationID: String, providerUserID: String, sourcedID: String, matchedOn: String,
                actor: String, linkedAt: Double) {
        self.provider = provider
        self.integrationID = integrationID
        self.providerUserID = providerUserID
        self.sourcedID = sourcedID
        self.matchedOn = matchedOn
        self.actor = actor
        self.linkedAt = linkedAt
    }
}

/// A sign-in that could not be linked to exactly one OneRoster user: waits in the unlinked queue under its support code.
public struct UnlinkedIdentityRecord: Sendable, Equatable, Codable {
    /// Shown to the person at sign-in and given to support (`rosterflow identities link CODE --user …`).
    public var supportCode: String
    public var provider: String
    public var tenantID: String
    /// The integration whose tenant matched, when one did.
    public var integrationID: String?
    public var providerUserID: String
    public var claimedSourcedID: String?
    public var username: String?
    public var email: String?
    /// Why it could not be linked, in plain words.
    public var reason: String
    public var createdAt: Double
    /// Set once a vendor admin linked it.
    public var resolvedSourcedID: String?
    public var resolvedBy: String?
    public var resolvedAt: Double?

    /// A queue entry with every field given; unresolved by default.
    public init(supportCode: String, provider: String, tenantID: String, integrationID: String?, providerUserID: String,
                claimedSourcedID: String?, username: String?, email: String?, reason: String, createdAt: Double,
                resolvedSourcedID: String? = nil, resolvedBy: String? = nil, resolvedAt: Double? = nil) {
        self.supportCode = supportCode
        self.provider = provider
        self.tenantID = tenantID
        self.integrationID = integrationID
        self.providerUserID = providerUserID
        self.claimedSourcedID = claimedSourcedID
        self.username = username
        self.email = email
        self.reason = reason
        self.createdAt = createdAt
        self.resolvedSourcedID = resolvedSourcedID
        self.resolvedBy = resolvedBy
        self.resolvedAt = resolvedAt
    }
}

/// A OneRoster class imported by a teacher of an on-demand integration: one per (integration, class sourcedId), run as
/// a `class-import` workflow instance.
public struct ImportedClassRecord: Sendable, Equatable, Codable {
    public var integrationID: String
    public var classSourcedID: String
    /// The `class-import` workflow instance.
    public var instanceID: String
    public var title: String
    /// The teacher (OneRoster sourcedId) who imported it first.
    public var importedBy: String
    public var importedAt: Double

    /// A record with every field given.
    public init(integrationID: String, classSourcedID: String, instanceID: String, title: String, importedBy: String,
                importedAt: Double) {
        self.integrationID = integrationID
        self.classSourcedID = classSourcedID
        self.instanceID = instanceID
        self.title = title
        self.importedBy = importedBy
        self.importedAt = importedAt
    }
}

/// A person's place in an imported class: a teacher, or a student's membership (active, pending or archived).
public struct ClassMemberRecord: Sendable, Equatable, Codable {
    /// `teacher` or `student`.
    public var role: String
    public var integrationID: String
    public var classSourcedID: String
    public var userSourcedID: String
    /// `active`; `pending` (a student enrolled in a class not imported yet); `archived` (dropped, work kept; or a
    /// teacher who left).
    public var status: String
    /// How it came to be: `imported`, `joined`, `signed-in`, `sync`, `import` (a pending placement resolved).
    public var how: String
    public var since: Double
    public var changedAt: Double

    /// A member with every field given.
    public init(role: String, integrationID: String, classSourcedID: String, userSourcedID: String, status: String,
                how: String, since: Double, changedAt: Double) {
        self.role = role
        self.integrationID = integrationID
        self.classSourcedID = classSourcedID
        self.userSourcedID = userSourcedID
        self.status = status
        self.how = how
        self.since = since
        self.changedAt = changedAt
    }
}
