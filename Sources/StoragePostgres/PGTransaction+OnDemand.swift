import Foundation
import StorageCore

extension PGTransaction {
    // MARK: Provisioning modes

    func provisioningMode(integrationID: String) throws -> ProvisioningMode? {
        let rows = try query("SELECT mode FROM provisioning_modes WHERE integration_id = $1", integrationID)
        return rows.count == 0 ? nil : ProvisioningMode(rawValue: rows.text(0, 0))
    }

    func setProvisioningMode(integrationID: String, mode: ProvisioningMode, actor: String, at: Double) throws {
        try keepingEnrollmentLookups(integrationID: integrationID) {
            try execute("""
                INSERT INTO provisioning_modes (integration_id, mode, actor, set_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (integration_id) DO UPDATE SET mode = EXCLUDED.mode, actor = EXCLUDED.actor, set_at = EXCLUDED.set_at
                """, integrationID, mode.rawValue, actor, at)
        }
    }

    // MARK: Identity links

    private static let linkColumns = "provider, integration_id, provider_user_id, sourced_id, matched_on, actor, linked_at"

    private static func link(_ rows: PGRows, _ row: Int) -> IdentityLinkRecord {
        IdentityLinkRecord(
            provider: rows.text(row, 0), integrationID: rows.text(row, 1), providerUserID: rows.text(row, 2),
            sourcedID: rows.text(row, 3), matchedOn: rows.text(row, 4), actor: rows.text(row, 5),
            linkedAt: rows.double(row, 6) ?? 0)
    }

    func identityLink(provider: String, integrationID: String, providerUserID: String) throws -> IdentityLinkRecord? {
        let rows = try query("""
            SELECT \(Self.linkColumns) FROM identity_links WHERE provider = $1 AND integration_id = $2 AND provider_user_id = $3
            """, provider, integrationID, providerUserID)
        return rows.count == 0 ? nil : Self.link(rows, 0)
    }

    /// Ordered by link time as SQLite does; links made at the same time by their key (PostgreSQL has no rowid order).
    func identityLinks(integrationID: String, sourcedID: String) throws -> [IdentityLinkRecord] {
        let rows = try query("""
            SELECT \(Self.linkColumns) FROM identity_links WHERE integration_id = $1 AND sourced_id = $2
            ORDER BY linked_at, provider, provider_user_id
            """, integrationID, sourcedID)
        return (0..<rows.count).map { Self.link(rows, $0) }
    }

    func upsertIdentityLink(_ link: IdentityLinkRecord) throws {
        try execute("""
            INSERT INTO identity_links (\(Self.linkColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (provider, integration_id, provider_user_id) DO UPDATE SET sourced_id = EXCLUDED.sourced_id,
                matched_on = EXCLUDED.matched_on, actor = EXCLUDED.actor, linked_at = EXCLUDED.linked_at
            """, link.provider, link.integrationID, link.providerUserID, link.sourcedID, link.matchedOn, link.actor, link.linkedAt)
    }

    // MARK: Unlinked identities

    private static let unlinkedColumns = """
        support_code, provider, tenant_id, integration_id, provider_user_id, claimed_sourced_id, username, email, reason,
        created_at, resolved_sourced_id, resolved_by, resolved_at
        """

    private static func unlinked(_ rows: PGRows, _ row: Int) -> UnlinkedIdentityRecord {
        UnlinkedIdentityRecord(
            supportCode: rows.text(row, 0), provider: rows.text(row, 1), tenantID: rows.text(row, 2),
            integrationID: rows.string(row, 3), providerUserID: rows.text(row, 4), claimedSourcedID: rows.string(row, 5),
            username: rows.string(row, 6), email: rows.string(row, 7), reason: rows.text(row, 8),
            createdAt: rows.double(row, 9) ?? 0, resolvedSourcedID: rows.string(row, 10), resolvedBy: rows.string(row, 11),
            resolvedAt: rows.double(row, 12))
    }

    func insertUnlinkedIdentity(_ r: UnlinkedIdentityRecord) throws {
        try execute("""
            INSERT INTO unlinked_identities (\(Self.unlinkedColumns))
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            """, r.supportCode, r.provider, r.tenantID, r.integrationID, r.providerUserID, r.claimedSourcedID, r.username, r.email,
            r.reason, r.createdAt, r.resolvedSourcedID, r.resolvedBy, r.resolvedAt)
    }

    func unlinkedIdentity(supportCode: String) throws -> UnlinkedIdentityRecord? {
        let rows = try query("SELECT \(Self.unlinkedColumns) FROM unlinked_identities WHERE support_code = $1", supportCode)
        return rows.count == 0 ? nil : Self.unlinked(rows, 0)
    }

    func unlinkedIdentities(includeResolved: Bool) throws -> [UnlinkedIdentityRecord] {
        let rows = try query("""
            SELECT \(Self.unlinkedColumns) FROM unlinked_identities
            \(includeResolved ? "" : "WHERE resolved_at IS NULL") ORDER BY created_at, support_code
            """)
        return (0..<rows.count).map { Self.unlinked(rows, $0) }
    }

    func resolveUnlinkedIdentity(supportCode: String, sourcedID: String, actor: String, at: Double) throws {
        try execute("""
            UPDATE unlinked_identities SET resolved_sourced_id = $1, resolved_by = $2, resolved_at = $3 WHERE support_code = $4
            """, sourcedID, actor, at, supportCode)
    }

    // MARK: Imported classes

    private static let classColumns = "integration_id, class_sourced_id, instance_id, title, imported_by, imported_at"

    private static func importedClass(_ rows: PGRows, _ row: Int) -> ImportedClassRecord {
        ImportedClassRecord(
            integrationID: rows.text(row, 0), classSourcedID: rows.text(row, 1), instanceID: rows.text(row, 2),
            title: rows.text(row, 3), importedBy: rows.text(row, 4), importedAt: rows.double(row, 5) ?? 0)
    }

    func importedClass(integrationID: String, classSourcedID: String) throws -> ImportedClassRecord? {
        let rows = try query("""
            SELECT \(Self.classColumns) FROM imported_classes WHERE integration_id = $1 AND class_sourced_id = $2
            """, integrationID, classSourcedID)
        return rows.count == 0 ? nil : Self.importedClass(rows, 0)
    }

    func importedClass(instanceID: String) throws -> ImportedClassRecord? {
        let rows = try query("SELECT \(Self.classColumns) FROM imported_classes WHERE instance_id = $1", instanceID)
        return rows.count == 0 ? nil : Self.importedClass(rows, 0)
    }

    func importedClasses(integrationID: String) throws -> [ImportedClassRecord] {
        let rows = try query(
            "SELECT \(Self.classColumns) FROM imported_classes WHERE integration_id = $1 ORDER BY class_sourced_id", integrationID)
        return (0..<rows.count).map { Self.importedClass(rows, $0) }
    }

    /// Records an imported class; the caller looks first for one imported already. Two teachers importing one class
    /// at once (in any processes) both find none: the later insert meets the earlier row's key and becomes `busy`, so
    /// its body runs again and joins the class the earlier one imported (see ``insertUnlessTaken(_:_:taken:)``).
    func insertImportedClass(_ r: ImportedClassRecord) throws {
        try insertUnlessTaken(
            "INSERT INTO imported_classes (\(Self.classColumns)) VALUES ($1, $2, $3, $4, $5, $6)",
            [r.integrationID.pgParam, r.classSourcedID.pgParam, r.instanceID.pgParam, r.title.pgParam, r.importedBy.pgParam,
             r.importedAt.pgParam],
            taken: "class \(r.classSourcedID) of \(r.integrationID) was imported")
    }

    // MARK: Class members

    func upsertClassMember(_ m: ClassMemberRecord) throws {
        try execute("""
            INSERT INTO class_members (role, integration_id, class_sourced_id, user_sourced_id, status, how, since, changed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (integration_id, class_sourced_id, role, user_sourced_id) DO UPDATE SET status = EXCLUDED.status,
                how = EXCLUDED.how, since = EXCLUDED.since, changed_at = EXCLUDED.changed_at
            """, m.role, m.integrationID, m.classSourcedID, m.userSourcedID, m.status, m.how, m.since, m.changedAt)
    }

    func classMembers(integrationID: String, classSourcedID: String?, userSourcedID: String?) throws -> [ClassMemberRecord] {
        var sql = """
            SELECT role, integration_id, class_sourced_id, user_sourced_id, status, how, since, changed_at
            FROM class_members WHERE integration_id = $1
            """
        var params: [PGParam] = [integrationID.pgParam]
        if let classSourcedID {
            params.append(classSourcedID.pgParam)
            sql += " AND class_sourced_id = $\(params.count)"
        }
        if let userSourcedID {
            params.append(userSourcedID.pgParam)
            sql += " AND user_sourced_id = $\(params.count)"
        }
        sql += " ORDER BY class_sourced_id, role DESC, user_sourced_id"
        let rows = try query(sql, list: params)
        return (0..<rows.count).map { row in
            ClassMemberRecord(
                role: rows.text(row, 0), integrationID: rows.text(row, 1), classSourcedID: rows.text(row, 2),
                userSourcedID: rows.text(row, 3), status: rows.text(row, 4), how: rows.text(row, 5),
                since: rows.double(row, 6) ?? 0, changedAt: rows.double(row, 7) ?? 0)
        }
    }

    // MARK: Platform events

    /// `ON CONFLICT DO NOTHING`: of two workers claiming one event key at once (in any processes), the later insert waits
    /// for the earlier row and inserts nothing, so the event is sent once.
    func claimPlatformEvent(key: String, outboxID: String, at: Double) throws -> Bool {
        try execute("""
            INSERT INTO platform_events (idempotency_key, outbox_id, at) VALUES ($1, $2, $3) ON CONFLICT (idempotency_key) DO NOTHING
            """, key, outboxID, at) > 0
    }
}
