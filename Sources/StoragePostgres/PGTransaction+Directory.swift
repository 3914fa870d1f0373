import Foundation
import StorageCore

extension PGTransaction {
    func integrations(tenantID: String) throws -> [(integration: IntegrationRecord, state: String)] {
        let rows = try query("""
            SELECT \(PGCoreDecoders.prefixed(PGCoreDecoders.integrationColumns, "i")), w.state
            FROM integrations i JOIN workflow_instances w ON w.id = i.id
            WHERE i.tenant_id = $1 ORDER BY i.created_at, i.id
            """, tenantID)
        return (0..<rows.count).map { (integration: PGCoreDecoders.integration(rows, $0), state: rows.text($0, 9)) }
    }

    @discardableResult
    func upsertCustomer(_ customer: CustomerRecord) throws -> Bool {
        // Race-safe: one statement both inserts-or-updates and says which it did (`xmax = 0` only on a row this
        // statement inserted), so two imports of the same tenant at once cannot both report it as new.
        let rows = try query("""
            INSERT INTO customers (tenant_id, district, contact_email, imported_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (tenant_id) DO UPDATE SET district = EXCLUDED.district, contact_email = EXCLUDED.contact_email,
                imported_at = EXCLUDED.imported_at
            RETURNING (xmax = 0)
            """, customer.tenantID, customer.district, customer.contactEmail, customer.importedAt)
        return rows.bool(0, 0) ?? false
    }

    func customer(tenantID: String) throws -> CustomerRecord? {
        let rows = try query(
            "SELECT tenant_id, district, contact_email, imported_at FROM customers WHERE tenant_id = $1", tenantID)
        return rows.count == 0 ? nil : Self.customer(rows, 0)
    }

    func customers() throws -> [CustomerRecord] {
        let rows = try query("SELECT tenant_id, district, contact_email, imported_at FROM customers ORDER BY tenant_id")
        return PGCoreDecoders.all(rows, Self.customer)
    }

    private static func customer(_ rows: PGRows, _ row: Int) -> CustomerRecord {
        CustomerRecord(
            tenantID: rows.text(row, 0), district: rows.text(row, 1), contactEmail: rows.text(row, 2),
            importedAt: rows.double(row, 3) ?? 0)
    }

    func insertIntegration(_ integration: IntegrationRecord) throws {
        try execute("""
            INSERT INTO integrations (\(PGCoreDecoders.integrationColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """,
            integration.id, integration.tenantID, integration.district, integration.permission,
            integration.contactEmail, integration.syncTime, integration.timezone, integration.nextSyncAt,
            integration.createdAt)
    }

    func integration(id: String) throws -> IntegrationRecord? {
        let rows = try query("SELECT \(PGCoreDecoders.integrationColumns) FROM integrations WHERE id = $1", id)
        return rows.count == 0 ? nil : PGCoreDecoders.integration(rows, 0)
    }

    func integrations() throws -> [IntegrationRecord] {
        let rows = try query("SELECT \(PGCoreDecoders.integrationColumns) FROM integrations ORDER BY created_at, id")
        return PGCoreDecoders.all(rows) { PGCoreDecoders.integration($0, $1) }
    }

    func integrationListing(after: String?, limit: Int, states: [String]?, tenants: [String]?) throws -> [IntegrationListing]? {
        var conditions: [String] = []
        var params: [PGParam] = []
        func next(_ param: PGParam) -> String {
            params.append(param)
            return "$\(params.count)"
        }
        if let after {
            let start = try query("SELECT created_at FROM integrations WHERE id = $1", after)
            guard start.count == 1, let createdAt = start.double(0, 0) else { return nil }
            // Keyset paging on (created_at, id), the listing's order: a page starts right after the row named.
            conditions.append("(i.created_at, i.id) > (\(next(createdAt.pgParam))::double precision, \(next(after.pgParam)))")
        }
        if let states {
            conditions.append("w.state = ANY(\(next(Self.textArray(states)))::text[])")
        }
        if let tenants {
            if tenants.isEmpty { return [] }
            conditions.append("i.tenant_id = ANY(\(next(Self.textArray(tenants)))::text[])")
        }
        let limitParam = next(limit.pgParam)
        // Columns 0-8 the integration, 9-18 the instance, 19 the course count, 20 the mode, 21-26 the pause.
        let rows = try query("""
            SELECT \(PGCoreDecoders.prefixed(PGCoreDecoders.integrationColumns, "i")),
                \(PGCoreDecoders.prefixed(PGCoreDecoders.instanceColumns, "w")),
                (SELECT COUNT(*) FROM courses c JOIN workflow_instances ci ON ci.id = c.id WHERE c.integration_id = i.id),
                (SELECT mode FROM provisioning_modes m WHERE m.integration_id = i.id),
                p.integration_id, p.paused_until, p.until_text, p.reason, p.actor, p.paused_at
            FROM integrations i JOIN workflow_instances w ON w.id = i.id
            LEFT JOIN integration_pauses p ON p.integration_id = i.id
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY i.created_at, i.id LIMIT \(limitParam)
            """, list: params)
        return (0..<rows.count).map { row in
            IntegrationListing(
                integration: PGCoreDecoders.integration(rows, row), instance: PGCoreDecoders.instance(rows, row, offset: 9),
                courseCount: rows.int(row, 19) ?? 0,
                provisioningMode: rows.string(row, 20).flatMap(ProvisioningMode.init(rawValue:)),
                pause: rows.string(row, 21).map {
                    PauseRecord(
                        integrationID: $0, pausedUntil: rows.double(row, 22) ?? 0, untilText: rows.text(row, 23),
                        reason: rows.string(row, 24), actor: rows.text(row, 25), pausedAt: rows.double(row, 26) ?? 0)
                })
        }
    }
}
