import StorageCore
import GRDB

/// ``StoreTransaction`` over one SQLite transaction (a GRDB `Database` inside `write` or `read`).
public struct SQLiteTransaction: StoreTransaction {
    let db: Database

    init(_ db: Database) {
        self.db = db
    }

    private func execute(_ sql: String, _ arguments: StatementArguments) throws {
        try db.cachedStatement(sql: sql).execute(arguments: arguments)
    }

    private func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }

    private func row(_ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    /// Decodes every row in place, by position.
    func all<T>(_ sql: String, _ arguments: StatementArguments, _ decode: (FastRow) -> T) throws -> [T] {
        var results: [T] = []
        try db.fastEach(sql, arguments) { results.append(decode($0)) }
        return results
    }

    /// Decodes the first row in place, by position: the hot path for single-record lookups.
    func first<T>(_ sql: String, _ arguments: StatementArguments, _ decode: (FastRow) -> T) throws -> T? {
        try db.fastFirst(sql, arguments, decode)
    }

    /// Runs `body` in a savepoint: if it throws, its changes are undone and the rest of the transaction goes on.
    public func savepoint<T>(_ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: "SAVEPOINT rosterflow_step").execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT rosterflow_step").execute()
            return result
        } catch {
            try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT rosterflow_step").execute()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT rosterflow_step").execute()
            throw error
        }
    }

    // MARK: Workflow definitions

    /// Stores a definition's text the first time its version is seen; refuses a changed text under an old version.
    ///
    /// A definition is unchanged when its checksum equals the stored one or, failing that, when its text equals the
    /// stored text: earlier releases stored a different checksum form (FNV-1a, today SHA-256), and a database they
    /// wrote must keep accepting the same definitions. The stored row is left as it is, so an earlier release
    /// opening the database afterwards still finds its own checksum.
    public func recordDefinition(name: String, version: Int, source: String, checksum: String, file: String, now: Double) throws {
        if let existing = try row("SELECT checksum, source FROM workflow_definitions WHERE name = ? AND version = ?", [name, version]) {
            let stored: String = existing["checksum"]
            let storedSource: String = existing["source"]
            if stored != checksum, storedSource != source {
                throw StorageError(
                    .definitionChanged,
                    "\(file) changed, but still says version \(version) of '\(name)', which this database already runs; "
                        + "give the changed definition a new version number (instances keep the version they started on)")
            }
            return
        }
        try execute(
            "INSERT INTO workflow_definitions (name, version, source, checksum, first_loaded_at) VALUES (?, ?, ?, ?, ?)",
            [name, version, source, checksum, now])
    }

    /// Every stored definition version's text.
    public func storedDefinitions() throws -> [(name: String, version: Int, source: String)] {
        try rows("SELECT name, version, source FROM workflow_definitions ORDER BY name, version").map {
            (name: $0["name"], version: $0["version"], source: $0["source"])
        }
    }

    // MARK: Instances

    /// Columns in the order ``instance(_:)`` decodes them by position (name lookups are slow on hot paths).
    private static let instanceColumns =
        "id, workflow, version, state, previous_state, subject_title, row_version, created_at, entered_at, updated_at"
    private static let instanceByID = "SELECT \(instanceColumns) FROM workflow_instances WHERE id = ?"

    private static func instance(_ row: FastRow) -> InstanceRecord {
        InstanceRecord(
            id: row.string(0), workflow: row.string(1), version: row.int(2), state: row.string(3),
            previousState: row.optionalString(4), subjectTitle: row.string(5), rowVersion: row.int(6),
            createdAt: row.double(7), enteredAt: row.double(8), updatedAt: row.double(9))
    }

    /// Stores a new instance as given; its id must not be in use.
    public func insertInstance(_ instance: InstanceRecord) throws {
        try execute("""
            INSERT INTO workflow_instances
                (id, workflow, version, state, previous_state, subject_title, row_version, created_at, entered_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [instance.id, instance.workflow, instance.version, instance.state, instance.previousState,
             instance.subjectTitle, instance.rowVersion, instance.createdAt, instance.enteredAt, instance.updatedAt])
    }

    /// The instance with that id, or nil when there is none.
    public func instance(id: String) throws -> InstanceRecord? {
        try db.fastLookup(Self.instanceByID, [.text(id)], Self.instance)
    }

    /// Instances of `workflow`, optionally only those in `states`, oldest entry first.
    public func instances(workflow: String, states: [String]? = nil) throws -> [InstanceRecord] {
        var sql = "SELECT \(Self.instanceColumns) FROM workflow_instances WHERE workflow = ?"
        var arguments: StatementArguments = [workflow]
        if let states {
            sql += " AND state IN (\(states.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(states)
        }
        return try all(sql + " ORDER BY entered_at, id", arguments, Self.instance)
    }

    /// Moves an instance to a new state if nobody changed it since `expectedRowVersion`.
    ///
    /// - Returns: the new row version.
    /// - Throws: ``StorageError/Code/staleInstance`` when the stored row version differs.
    @discardableResult
    public func updateInstance(
        id: String, expectedRowVersion: Int, state: String, previousState: String?, enteredAt: Double, now: Double
    ) throws -> Int {
        let changed = try db.fastExecute("""
            UPDATE workflow_instances
            SET state = ?, previous_state = ?, entered_at = ?, updated_at = ?, row_version = row_version + 1
            WHERE id = ? AND row_version = ?
            """, [.text(state), FastValue(previousState), .double(enteredAt), .double(now), .text(id), .int(expectedRowVersion)])
        guard changed == 1 else {
            throw StorageError.staleInstance(id: id, expectedRowVersion: expectedRowVersion, current: try instance(id: id))
        }
        return expectedRowVersion + 1
    }

    // MARK: History

    /// Appends one history row and returns its sequence number. History rows are never changed or deleted.
    @discardableResult
    public func appendTransition(
        instanceID: String, from: String?, to: String, event: String, actor: String, role: String, at: Double,
        reason: String?, rowVersion: Int
    ) throws -> Int64 {
        try db.fastExecute("""
            INSERT INTO transitions (instance_id, from_state, to_state, event, actor, role, at, reason, row_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(instanceID), FastValue(from), .text(to), .text(event), .text(actor), .text(role), .double(at),
                  FastValue(reason), .int(rowVersion)])
        return db.lastInsertedRowID
    }

    /// An instance's history rows, oldest first.
    public func transitions(instanceID: String) throws -> [TransitionRecord] {
        try rows("SELECT * FROM transitions WHERE instance_id = ? ORDER BY seq", [instanceID]).map {
            TransitionRecord(
                seq: $0["seq"], instanceID: $0["instance_id"], from: $0["from_state"], to: $0["to_state"],
                event: $0["event"], actor: $0["actor"], role: $0["role"], at: $0["at"], reason: $0["reason"],
                rowVersion: $0["row_version"])
        }
    }

    // MARK: Timers

    /// Removes every timer armed for an instance.
    public func cancelTimers(instanceID: String) throws {
        try db.fastExecute("DELETE FROM timers WHERE instance_id = ?", [.text(instanceID)])
    }

    /// Arms a timer that sends `event` to the instance at `dueAt`, noting when it was armed and in which state.
    public func armTimer(instanceID: String, event: String, dueAt: Double, armedAt: Double, inState state: String) throws {
        try db.fastExecute(
            "INSERT INTO timers (instance_id, event, due_at, armed_at, armed_in_state) VALUES (?, ?, ?, ?, ?)",
            [.text(instanceID), .text(event), .double(dueAt), .double(armedAt), .text(state)])
    }

    /// Timers due at or before `now`, earliest first.
    public func dueTimers(now: Double, limit: Int = 500) throws -> [TimerRecord] {
        try rows("SELECT * FROM timers WHERE due_at <= ? ORDER BY due_at, id LIMIT ?", [now, limit]).map(Self.timer)
    }

    /// The timers armed for an instance, earliest due first.
    public func timers(instanceID: String) throws -> [TimerRecord] {
        try rows("SELECT * FROM timers WHERE instance_id = ? ORDER BY due_at", [instanceID]).map(Self.timer)
    }

    /// Removes a timer; returns false when it was already gone (fired or cancelled by someone else).
    @discardableResult
    public func deleteTimer(id: Int64) throws -> Bool {
        try execute("DELETE FROM timers WHERE id = ?", [id])
        return db.changesCount == 1
    }

    private static func timer(_ row: Row) -> TimerRecord {
        TimerRecord(
            id: row["id"], instanceID: row["instance_id"], event: row["event"], dueAt: row["due_at"],
            armedAt: row["armed_at"], armedInState: row["armed_in_state"])
    }

    // MARK: Outbox

    /// Writes a message to the outbox as given; it is sent only if this transaction commits.
    public func insertOutbox(_ message: OutboxRecord) throws {
        try db.fastExecute("""
            INSERT INTO outbox (id, instance_id, transition_seq, channel, recipient, template, payload, status,
                                attempts, next_attempt_at, created_at, last_error)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(message.id), .text(message.instanceID), FastValue(message.transitionSeq), .text(message.channel.rawValue),
             .text(message.recipient), .text(message.template), .text(message.payload), .text(message.status.rawValue),
             .int(message.attempts), .double(message.nextAttemptAt), .double(message.createdAt), FastValue(message.lastError)])
    }

    /// Outbox messages, oldest first, of one instance or (nil) of all.
    public func outbox(instanceID: String? = nil) throws -> [OutboxRecord] {
        let sql = "SELECT * FROM outbox" + (instanceID == nil ? "" : " WHERE instance_id = ?") + " ORDER BY created_at, rowid"
        return try rows(sql, instanceID.map { [$0] } ?? []).map {
            OutboxRecord(
                id: $0["id"], instanceID: $0["instance_id"], transitionSeq: $0["transition_seq"],
                channel: OutboxChannel(rawValue: $0["channel"]) ?? .email, recipient: $0["recipient"], template: $0["template"],
                payload: $0["payload"], status: OutboxStatus(rawValue: $0["status"]) ?? .pending,
                attempts: $0["attempts"], nextAttemptAt: $0["next_attempt_at"], createdAt: $0["created_at"],
                lastError: $0["last_error"])
        }
    }

    // MARK: Customers

    /// Inserts or replaces a customer; returns true when it was new.
    @discardableResult
    public func upsertCustomer(_ customer: CustomerRecord) throws -> Bool {
        let existed = try row("SELECT 1 FROM customers WHERE tenant_id = ?", [customer.tenantID]) != nil
        try execute("""
            INSERT INTO customers (tenant_id, district, contact_email, imported_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (tenant_id) DO UPDATE SET district = excluded.district, contact_email = excluded.contact_email,
                imported_at = excluded.imported_at
            """, [customer.tenantID, customer.district, customer.contactEmail, customer.importedAt])
        return !existed
    }

    /// The registry entry for a tenant id, or nil when there is none.
    public func customer(tenantID: String) throws -> CustomerRecord? {
        try row("SELECT * FROM customers WHERE tenant_id = ?", [tenantID]).map(Self.customer)
    }

    /// Every customer in the registry, by tenant id.
    public func customers() throws -> [CustomerRecord] {
        try rows("SELECT * FROM customers ORDER BY tenant_id").map(Self.customer)
    }

    private static func customer(_ row: Row) -> CustomerRecord {
        CustomerRecord(
            tenantID: row["tenant_id"], district: row["district"], contactEmail: row["contact_email"],
            importedAt: row["imported_at"])
    }

    // MARK: Integrations

    /// Stores a new integration as given; its workflow instance (the same id) must exist already.
    public func insertIntegration(_ integration: IntegrationRecord) throws {
        try execute("""
            INSERT INTO integrations (id, tenant_id, district, permission, contact_email, sync_time, timezone,
                                      next_sync_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [integration.id, integration.tenantID, integration.district, integration.permission,
             integration.contactEmail, integration.syncTime, integration.timezone, integration.nextSyncAt,
             integration.createdAt])
    }

    /// The integration with that id, or nil when there is none.
    public func integration(id: String) throws -> IntegrationRecord? {
        try db.fastLookup(Self.integrationByID, [.text(id)], Self.integration)
    }

    /// All integrations, oldest first.
    public func integrations() throws -> [IntegrationRecord] {
        try all("SELECT \(Self.integrationColumns) FROM integrations ORDER BY created_at, id", [], Self.integration)
    }

    public func integrationListing(after: String?, limit: Int, states: [String]?, tenants: [String]?) throws -> [IntegrationListing]? {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let after {
            guard let start = try first("SELECT created_at FROM integrations WHERE id = ?", [after], { $0.double(0) }) else { return nil }
            conditions.append("(i.created_at, i.id) > (?, ?)")
            arguments += [start, after]
        }
        if let states {
            conditions.append("w.state IN (\(states.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(states)
        }
        if let tenants {
            if tenants.isEmpty { return [] }
            conditions.append("i.tenant_id IN (\(tenants.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(tenants)
        }
        arguments += [limit]
        // Columns 0-8 the integration, 9-18 the instance, 19 the course count, 20 the mode, 21-26 the pause.
        return try all("""
            SELECT \(Self.listingColumns),
                (SELECT COUNT(*) FROM courses c JOIN workflow_instances ci ON ci.id = c.id WHERE c.integration_id = i.id),
                (SELECT mode FROM provisioning_modes m WHERE m.integration_id = i.id),
                p.integration_id, p.paused_until, p.until_text, p.reason, p.actor, p.paused_at
            FROM integrations i JOIN workflow_instances w ON w.id = i.id
            LEFT JOIN integration_pauses p ON p.integration_id = i.id
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY i.created_at, i.id LIMIT ?
            """, arguments) { row in
            IntegrationListing(
                integration: Self.integration(row), instance: Self.instance(FastRow(handle: row.handle, offset: 9)),
                courseCount: row.int(19), provisioningMode: row.optionalString(20).flatMap(ProvisioningMode.init(rawValue:)),
                pause: row.optionalString(21).map {
                    PauseRecord(integrationID: $0, pausedUntil: row.double(22), untilText: row.string(23), reason: row.optionalString(24),
                                actor: row.string(25), pausedAt: row.double(26))
                })
        }
    }

    /// The integration's columns then its instance's, prefixed for the listing's join.
    private static let listingColumns = [
        integrationColumns.split(separator: ", ").map { "i.\($0)" }, instanceColumns.split(separator: ", ").map { "w.\($0)" },
    ].joined().joined(separator: ", ")

    /// Sets an integration's daily sync time, its time zone and the next sync instant; an unknown id changes nothing.
    public func updateSchedule(integrationID: String, syncTime: String, timezone: String, nextSyncAt: Double) throws {
        try execute(
            "UPDATE integrations SET sync_time = ?, timezone = ?, next_sync_at = ? WHERE id = ?",
            [syncTime, timezone, nextSyncAt, integrationID])
    }

    private static let integrationColumns =
        "id, tenant_id, district, permission, contact_email, sync_time, timezone, next_sync_at, created_at"
    private static let integrationByID = "SELECT \(integrationColumns) FROM integrations WHERE id = ?"

    private static func integration(_ row: FastRow) -> IntegrationRecord {
        IntegrationRecord(
            id: row.string(0), tenantID: row.string(1), district: row.string(2), permission: row.string(3),
            contactEmail: row.string(4), syncTime: row.optionalString(5), timezone: row.optionalString(6),
            nextSyncAt: row.optionalDouble(7), createdAt: row.double(8))
    }

    // MARK: Courses

    /// Stores a new course as given; its workflow instance (the same id) and its integration must exist already, and
    /// the integration must not hold another course with the same sourcedId.
    public func insertCourse(_ course: CourseRecord) throws {
        try execute("""
            INSERT INTO courses (id, integration_id, sourced_id, title, catalog_title, base_id, locked_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [course.id, course.integrationID, course.sourcedID, course.title, course.catalogTitle, course.baseID,
             course.lockedAt, course.createdAt])
    }

    /// The course with that id, or nil when there is none.
    public func course(id: String) throws -> CourseRecord? {
        try db.fastLookup(Self.courseByID, [.text(id)], Self.courseRecord)
    }

    /// An integration's course with that OneRoster sourcedId, or nil when there is none.
    public func course(integrationID: String, sourcedID: String) throws -> CourseRecord? {
        try first("SELECT \(Self.courseColumns) FROM courses WHERE integration_id = ? AND sourced_id = ?", [integrationID, sourcedID],
                  Self.courseRecord)
    }

    /// An integration's courses, oldest first.
    public func courses(integrationID: String) throws -> [CourseRecord] {
        try all("SELECT \(Self.courseColumns) FROM courses WHERE integration_id = ? ORDER BY created_at, id", [integrationID],
                Self.courseRecord)
    }

    /// Maps a course to a catalog course: its catalog title and the vendor's base course id (the lock is not checked
    /// here).
    public func updateMapping(courseID: String, catalogTitle: String, baseID: String) throws {
        try db.fastExecute("UPDATE courses SET catalog_title = ?, base_id = ? WHERE id = ?", [.text(catalogTitle), .text(baseID), .text(courseID)])
    }

    /// Locks a course's mapping as of `at`; a course already locked keeps its first lock time.
    public func markLocked(courseID: String, at: Double) throws {
        try db.fastExecute("UPDATE courses SET locked_at = COALESCE(locked_at, ?) WHERE id = ?", [.double(at), .text(courseID)])
    }

    static let courseColumns = "id, integration_id, sourced_id, title, catalog_title, base_id, locked_at, created_at"
    private static let courseByID = "SELECT \(courseColumns) FROM courses WHERE id = ?"

    static func courseRecord(_ row: FastRow) -> CourseRecord {
        CourseRecord(
            id: row.string(0), integrationID: row.string(1), sourcedID: row.string(2), title: row.string(3),
            catalogTitle: row.optionalString(4), baseID: row.optionalString(5), lockedAt: row.optionalDouble(6),
            createdAt: row.double(7))
    }

    /// For the integration a course belongs to: its id, its state, and whether any of its courses is in none of
    /// `states` (one query that stops at the first such course: this runs on every course that gets content).
    public func integrationProgress(courseID: String, notIn states: [String]) throws
        -> (integrationID: String, state: String, anyOutside: Bool)?
    {
        var values = states.map { FastValue.text($0) }
        values.append(.text(courseID))
        return try db.fastLookup(Self.integrationProgressSQL(states.count), values) {
            (integrationID: $0.string(0), state: $0.string(1), anyOutside: $0.int(2) != 0)
        }
    }

    /// ``integrationProgress(courseID:notIn:)``'s query for a few states, built once (no string building per call).
    private static let integrationProgressSQLs = (0..<8).map(makeIntegrationProgressSQL)

    private static func integrationProgressSQL(_ count: Int) -> String {
        count < integrationProgressSQLs.count ? integrationProgressSQLs[count] : makeIntegrationProgressSQL(count)
    }

    private static func makeIntegrationProgressSQL(_ count: Int) -> String {
        let placeholders = Array(repeating: "?", count: count).joined(separator: ",")
        return """
            SELECT c.integration_id, i.state,
                   EXISTS (SELECT 1 FROM courses c2 JOIN workflow_instances i2 ON i2.id = c2.id
                           WHERE c2.integration_id = c.integration_id AND i2.state NOT IN (\(placeholders)))
            FROM courses c JOIN workflow_instances i ON i.id = c.integration_id
            WHERE c.id = ?
            """
    }

    /// How many of an integration's courses are in none of `states`, and how many it has in all.
    public func courseCounts(integrationID: String, notIn states: [String]) throws -> (outside: Int, total: Int) {
        let placeholders = states.isEmpty ? "NULL" : states.map { _ in "?" }.joined(separator: ",")
        let counts = try first("""
            SELECT COUNT(*), COALESCE(SUM(CASE WHEN i.state IN (\(placeholders)) THEN 0 ELSE 1 END), 0)
            FROM courses c JOIN workflow_instances i ON i.id = c.id
            WHERE c.integration_id = ?
            """, StatementArguments(states) + [integrationID]) { (outside: $0.int(1), total: $0.int(0)) }
        return counts ?? (0, 0)
    }

}
