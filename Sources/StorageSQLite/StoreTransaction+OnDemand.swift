import StorageCore
import GRDB

extension SQLiteTransaction {
    public func provisioningMode(integrationID: String) throws -> ProvisioningMode? {
        try String.fetchOne(db, sql: "SELECT mode FROM provisioning_modes WHERE integration_id = ?", arguments: [integrationID])
            .flatMap(ProvisioningMode.init(rawValue:))
    }

    /// Sets the mode; an integration becoming on-demand has its enrollments made findable by class and user (and one
    /// leaving it, without a sign-in provider, has those lookups removed).
    public func setProvisioningMode(integrationID: String, mode: ProvisioningMode, actor: String, at: Double) throws {
        try keepingEnrollmentLookups(integrationID: integrationID) {
            try db.execute(sql: """
                INSERT OR REPLACE INTO provisioning_modes (integration_id, mode, actor, set_at) VALUES (?, ?, ?, ?)
                """, arguments: [integrationID, mode.rawValue, actor, at])
        }
    }

    private static let linkColumns = "provider, integration_id, provider_user_id, sourced_id, matched_on, actor, linked_at"

    private static func link(_ row: Row) -> IdentityLinkRecord {
        IdentityLinkRecord(provider: row[0], integrationID: row[1], providerUserID: row[2], sourcedID: row[3], matchedOn: row[4],
                           actor: row[5], linkedAt: row[6])
    }

    public func identityLink(provider: String, integrationID: String, providerUserID: String) throws -> IdentityLinkRecord? {
        try Row.fetchOne(db, sql: """
            SELECT \(Self.linkColumns) FROM identity_links WHERE provider = ? AND integration_id = ? AND provider_user_id = ?
            """, arguments: [provider, integrationID, providerUserID]).map(Self.link)
    }

    public func identityLinks(integrationID: String, sourcedID: String) throws -> [IdentityLinkRecord] {
        try Row.fetchAll(db, sql: """
            SELECT \(Self.linkColumns) FROM identity_links WHERE integration_id = ? AND sourced_id = ? ORDER BY linked_at
            """, arguments: [integrationID, sourcedID]).map(Self.link)
    }

    public func upsertIdentityLink(_ link: IdentityLinkRecord) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO identity_links (\(Self.linkColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)", arguments: [
            link.provider, link.integrationID, link.providerUserID, link.sourcedID, link.matchedOn, link.actor, link.linkedAt,
        ])
    }

    private static let unlinkedColumns = """
        support_code, provider, tenant_id, integration_id, provider_user_id, claimed_sourced_id, username, email, reason,
        created_at, resolved_sourced_id, resolved_by, resolved_at
        """

    private static func unlinked(_ row: Row) -> UnlinkedIdentityRecord {
        UnlinkedIdentityRecord(
            supportCode: row[0], provider: row[1], tenantID: row[2], integrationID: row[3], providerUserID: row[4],
            claimedSourcedID: row[5], username: row[6], email: row[7], reason: row[8], createdAt: row[9],
            resolvedSourcedID: row[10], resolvedBy: row[11], resolvedAt: row[12])
    }

    public func insertUnlinkedIdentity(_ r: UnlinkedIdentityRecord) throws {
        try db.execute(sql: "INSERT INTO unlinked_identities (\(Self.unlinkedColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [r.supportCode, r.provider, r.tenantID, r.integrationID, r.providerUserID, r.claimedSourcedID,
                                   r.username, r.email, r.reason, r.createdAt, r.resolvedSourcedID, r.resolvedBy, r.resolvedAt])
    }

    public func unlinkedIdentity(supportCode: String) throws -> UnlinkedIdentityRecord? {
        try Row.fetchOne(db, sql: "SELECT \(Self.unlinkedColumns) FROM unlinked_identities WHERE support_code = ?",
                         arguments: [supportCode]).map(Self.unlinked)
    }

    public func unlinkedIdentities(includeResolved: Bool) throws -> [UnlinkedIdentityRecord] {
        try Row.fetchAll(db, sql: """
            SELECT \(Self.unlinkedColumns) FROM unlinked_identities
            \(includeResolved ? "" : "WHERE resolved_at IS NULL") ORDER BY created_at, support_code
            """).map(Self.unlinked)
    }

    public func resolveUnlinkedIdentity(supportCode: String, sourcedID: String, actor: String, at: Double) throws {
        try db.execute(sql: """
            UPDATE unlinked_identities SET resolved_sourced_id = ?, resolved_by = ?, resolved_at = ? WHERE support_code = ?
            """, arguments: [sourcedID, actor, at, supportCode])
    }

    private static let classColumns = "integration_id, class_sourced_id, instance_id, title, imported_by, imported_at"

    private static func importedClass(_ row: Row) -> ImportedClassRecord {
        ImportedClassRecord(integrationID: row[0], classSourcedID: row[1], instanceID: row[2], title: row[3], importedBy: row[4],
                            importedAt: row[5])
    }

    public func importedClass(integrationID: String, classSourcedID: String) throws -> ImportedClassRecord? {
        try Row.fetchOne(db, sql: """
            SELECT \(Self.classColumns) FROM imported_classes WHERE integration_id = ? AND class_sourced_id = ?
            """, arguments: [integrationID, classSourcedID]).map(Self.importedClass)
    }

    public func importedClass(instanceID: String) throws -> ImportedClassRecord? {
        try Row.fetchOne(db, sql: "SELECT \(Self.classColumns) FROM imported_classes WHERE instance_id = ?", arguments: [instanceID])
            .map(Self.importedClass)
    }

    public func importedClasses(integrationID: String) throws -> [ImportedClassRecord] {
        try Row.fetchAll(db, sql: """
            SELECT \(Self.classColumns) FROM imported_classes WHERE integration_id = ? ORDER BY class_sourced_id
            """, arguments: [integrationID]).map(Self.importedClass)
    }

    public func insertImportedClass(_ r: ImportedClassRecord) throws {
        try db.execute(sql: "INSERT INTO imported_classes (\(Self.classColumns)) VALUES (?, ?, ?, ?, ?, ?)", arguments: [
            r.integrationID, r.classSourcedID, r.instanceID, r.title, r.importedBy, r.importedAt,
        ])
    }

    public func upsertClassMember(_ m: ClassMemberRecord) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO class_members (role, integration_id, class_sourced_id, user_sourced_id, status, how, since, changed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [m.role, m.integrationID, m.classSourcedID, m.userSourcedID, m.status, m.how, m.since, m.changedAt])
    }

    public func classMembers(integrationID: String, classSourcedID: String?, userSourcedID: String?) throws -> [ClassMemberRecord] {
        var sql = """
            SELECT role, integration_id, class_sourced_id, user_sourced_id, status, how, since, changed_at
            FROM class_members WHERE integration_id = ?
            """
        var arguments: StatementArguments = [integrationID]
        if let classSourcedID {
            sql += " AND class_sourced_id = ?"
            _ = arguments.append(contentsOf: [classSourcedID])
        }
        if let userSourcedID {
            sql += " AND user_sourced_id = ?"
            _ = arguments.append(contentsOf: [userSourcedID])
        }
        sql += " ORDER BY class_sourced_id, role DESC, user_sourced_id"
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
            ClassMemberRecord(role: $0[0], integrationID: $0[1], classSourcedID: $0[2], userSourcedID: $0[3], status: $0[4],
                              how: $0[5], since: $0[6], changedAt: $0[7])
        }
    }

    public func claimPlatformEvent(key: String, outboxID: String, at: Double) throws -> Bool {
        try db.execute(sql: "INSERT OR IGNORE INTO platform_events (idempotency_key, outbox_id, at) VALUES (?, ?, ?)",
                       arguments: [key, outboxID, at])
        return db.changesCount > 0
    }
}
