import StorageCore

// The stored vocabularies as SQL string literals, for the store's fixed statements (no string building per call).

extension SyncDecision {
    /// The decision as an SQL string literal (`'applied'`).
    var sql: String { "'\(rawValue)'" }

    /// `decisions` as an SQL list of literals: `('applied', 'approved')`.
    static func sqlList(_ decisions: [SyncDecision]) -> String {
        "(" + decisions.map(\.sql).joined(separator: ", ") + ")"
    }
}

extension OutboxStatus {
    /// The status as an SQL string literal (`'pending'`).
    var sql: String { "'\(rawValue)'" }
}

extension DeliveryRecord.Status {
    /// The status as an SQL string literal (`'pending'`).
    var sql: String { "'\(rawValue)'" }
}
