import Foundation
import StorageCore

/// Column lists and positional row decoders for the records several core concerns read (instances, integrations,
/// courses): one list and one decoder each, so the workflow, directory, course and catalog files read them alike.
enum PGCoreDecoders {
    /// Columns in the order ``instance(_:_:offset:)`` decodes them.
    static let instanceColumns =
        "id, workflow, version, state, previous_state, subject_title, row_version, created_at, entered_at, updated_at"

    /// The instance in `row`, its columns starting at `offset` (``instanceColumns``' order).
    static func instance(_ rows: PGRows, _ row: Int, offset: Int = 0) -> InstanceRecord {
        InstanceRecord(
            id: rows.text(row, offset), workflow: rows.text(row, offset + 1), version: rows.int(row, offset + 2) ?? 0,
            state: rows.text(row, offset + 3), previousState: rows.string(row, offset + 4),
            subjectTitle: rows.text(row, offset + 5), rowVersion: rows.int(row, offset + 6) ?? 0,
            createdAt: rows.double(row, offset + 7) ?? 0, enteredAt: rows.double(row, offset + 8) ?? 0,
            updatedAt: rows.double(row, offset + 9) ?? 0)
    }

    /// Columns in the order ``integration(_:_:offset:)`` decodes them.
    static let integrationColumns =
        "id, tenant_id, district, permission, contact_email, sync_time, timezone, next_sync_at, created_at"

    /// The integration in `row`, its columns starting at `offset` (``integrationColumns``' order).
    static func integration(_ rows: PGRows, _ row: Int, offset: Int = 0) -> IntegrationRecord {
        IntegrationRecord(
            id: rows.text(row, offset), tenantID: rows.text(row, offset + 1), district: rows.text(row, offset + 2),
            permission: rows.text(row, offset + 3), contactEmail: rows.text(row, offset + 4),
            syncTime: rows.string(row, offset + 5), timezone: rows.string(row, offset + 6),
            nextSyncAt: rows.double(row, offset + 7), createdAt: rows.double(row, offset + 8) ?? 0)
    }

    /// Columns in the order ``course(_:_:offset:)`` decodes them.
    static let courseColumns = "id, integration_id, sourced_id, title, catalog_title, base_id, locked_at, created_at"

    /// The course in `row`, its columns starting at `offset` (``courseColumns``' order).
    static func course(_ rows: PGRows, _ row: Int, offset: Int = 0) -> CourseRecord {
        CourseRecord(
            id: rows.text(row, offset), integrationID: rows.text(row, offset + 1), sourcedID: rows.text(row, offset + 2),
            title: rows.text(row, offset + 3), catalogTitle: rows.string(row, offset + 4),
            baseID: rows.string(row, offset + 5), lockedAt: rows.double(row, offset + 6),
            createdAt: rows.double(row, offset + 7) ?? 0)
    }

    /// Every row of `rows`, decoded.
    static func all<T>(_ rows: PGRows, _ decode: (PGRows, Int) -> T) -> [T] {
        (0..<rows.count).map { decode(rows, $0) }
    }

    /// `columns` with each name prefixed by a table alias (`i.id, i.tenant_id, …`).
    static func prefixed(_ columns: String, _ alias: String) -> String {
        columns.split(separator: ",").map { "\(alias).\($0.trimmingCharacters(in: .whitespaces))" }
            .joined(separator: ", ")
    }
}
