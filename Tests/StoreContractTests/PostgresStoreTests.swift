import Foundation
import StorageCore
import StoragePostgres
import XCTest

/// What only the PostgreSQL store has: its URL, its connection pool, reconnecting, migrations shared by processes.
/// Run against the server `ROSTERFLOW_TEST_POSTGRES` names (CI starts one; without it these tests are skipped, except
/// the URL parsing, which needs no server).
final class PostgresStoreTests: XCTestCase {
    private func serverURL() throws -> String {
        guard let url = StoreConformers.postgresURL else {
            throw XCTSkip("no PostgreSQL server: run `eval \"$(bash scripts/start-test-postgres)\"` first")
        }
        return url
    }

    private func newSchemaURL(_ extra: String = "") throws -> String {
        try newSchema(extra).url
    }

    private func newSchema(_ extra: String = "") throws -> (url: String, schema: String) {
        let schema = "rfpg_" + UUID().uuidString.prefix(8).lowercased()
        return (StoreConformers.withSchema(try serverURL(), schema) + extra, schema)
    }

    /// Runs SQL as another client would (`psql`, which the server's package brings), on the test server.
    @discardableResult
    private func psql(_ sql: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", try serverURL(), "-c", sql]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "psql failed on: \(sql)")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTheServerIsGivenOnCI() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            XCTAssertNotNil(
                StoreConformers.postgresURL, "CI must run the store contract against PostgreSQL (ROSTERFLOW_TEST_POSTGRES)")
        }
    }

    // MARK: The URL

    func testTheURLIsReadWithRosterFlowsOwnOptionsTakenOut() throws {
        let configuration = try PostgresConfiguration(
            url: "postgres://ana:s3cret@db.example:5433/rosterflow?sslmode=verify-full&sslrootcert=/etc/ca.pem&pool_size=3&schema=rf&pool_timeout=2.5")
        XCTAssertEqual(configuration.poolSize, 3)
        XCTAssertEqual(configuration.schema, "rf")
        XCTAssertEqual(configuration.poolTimeout, 2.5)
        XCTAssertTrue(configuration.requiresTLS)
        XCTAssertFalse(configuration.isLoopback)
        XCTAssertTrue(configuration.hasPasswordInURL)
        XCTAssertFalse(configuration.conninfo.contains("pool_size"))
        XCTAssertFalse(configuration.conninfo.contains("schema="))
        XCTAssertTrue(configuration.conninfo.contains("sslmode=verify-full"))
        XCTAssertTrue(configuration.conninfo.contains("s3cret"), "libpq gets the password")
        XCTAssertFalse(configuration.displayName.contains("s3cret"), configuration.displayName)
        XCTAssertEqual(configuration.displayName, "postgres://ana:***@db.example:5433/rosterflow?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        XCTAssertEqual(PostgresConfiguration.redacted("postgresql://u:pw@h/d"), "postgresql://u:***@h/d")
        XCTAssertEqual(PostgresConfiguration.redacted("./rosterflow.sqlite"), "./rosterflow.sqlite")

        let local = try PostgresConfiguration(url: "postgresql://rosterflow@127.0.0.1/rf")
        XCTAssertEqual(local.poolSize, 8)
        XCTAssertNil(local.schema)
        XCTAssertTrue(local.isLoopback)
        XCTAssertFalse(local.requiresTLS)
        XCTAssertFalse(local.hasPasswordInURL)
    }

    func testBadURLOptionsAreRefusedWithoutEchoingThePassword() {
        for url in [
            "postgres://u:pw@h/d?pool_size=0", "postgres://u:pw@h/d?pool_size=many", "postgres://u:pw@h/d?schema=a;drop",
            "postgres://u:pw@h/d?schema=1abc", "postgres://u:pw@h/d?pool_timeout=-1", "mysql://u:pw@h/d",
        ] {
            XCTAssertThrowsError(try PostgresConfiguration(url: url), url) { error in
                let message = "\(error)"
                XCTAssertFalse(message.contains("pw@"), message)
                XCTAssertEqual((error as? StorageError)?.code, .database, message)
            }
        }
    }

    // MARK: Connections

    func testAnUnreachableServerIsBusyAndNamedWithoutItsPassword() throws {
        // A port nothing listens on: refused at once; the pool retries for a few seconds, then says so.
        let port = try freeLoopbackPort()
        XCTAssertThrowsError(try PostgresStore(url: "postgres://rosterflow:topsecret@127.0.0.1:\(port)/rf?connect_timeout=2")) { error in
            let storage = error as? StorageError
            XCTAssertEqual(storage?.code, .busy, "\(error)")
            XCTAssertTrue(storage?.message.contains("***") == true, "\(error)")
            XCTAssertFalse("\(error)".contains("topsecret"), "\(error)")
        }
    }

    func testALostConnectionIsReconnectedForTheNextTransaction() throws {
        let name = "rf_lost_" + UUID().uuidString.prefix(8).lowercased()
        let store = try PostgresStore(url: try newSchemaURL("&pool_size=1&application_name=\(name)"))
        try store.writeNow { try $0.upsertCustomer(customer("t-1")) }
        // Another session ends this store's only connection, as a restarted server or a dropped network would.
        let killed = try psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '\(name)'")
        XCTAssertEqual(killed, "1")
        let found = try store.readNow { try $0.customer(tenantID: "t-1") }
        XCTAssertEqual(found?.district, "District t-1")
    }

    func testATransactionWaitsForAFreeConnectionAndIsToldBusyAfterThePoolTimeout() async throws {
        let url = try newSchemaURL("&pool_size=1&pool_timeout=0.5")
        let store = try PostgresStore(url: url)
        let started = DispatchSemaphore(value: 0)
        let finish = DispatchSemaphore(value: 0)
        let holder = Thread {
            try? store.writeNow { _ in
                started.signal()
                finish.wait()
            }
        }
        holder.start()
        started.wait()
        // Both a blocking and an async caller are refused once the only connection stays taken past the timeout.
        XCTAssertThrowsError(try store.readNow { _ in 0 }) { error in
            XCTAssertEqual((error as? StorageError)?.code, .busy, "\(error)")
            XCTAssertTrue("\(error)".contains("pool_size"), "\(error)")
        }
        do {
            _ = try await store.read { _ in 0 }
            XCTFail("an async read got a connection that was taken")
        } catch {
            XCTAssertEqual((error as? StorageError)?.code, .busy, "\(error)")
        }
        // Given back in time, the connection goes to the waiting caller.
        async let waited = store.read { try $0.customers().count }
        try await Task.sleep(nanoseconds: 100_000_000)
        finish.signal()
        let count = try await waited
        XCTAssertEqual(count, 0)
    }

    func testManyConcurrentWritesShareTheSmallPoolAndAllCommit() async throws {
        let store = try PostgresStore(url: try newSchemaURL("&pool_size=3"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<60 {
                group.addTask { () async throws -> Void in _ = try await store.write { try $0.upsertCustomer(customer("t-\(index)")) } }
            }
            try await group.waitForAll()
        }
        let count = try await store.read { try $0.customers().count }
        XCTAssertEqual(count, 60)
    }

    /// `rosterflow serve` mixes both kinds of callers: async transactions, and synchronous reads made on Swift's
    /// cooperative threads (two on two cores), which block their thread while they wait for a connection. Async
    /// transactions must never hold a connection where only a cooperative thread could let them go on, or the blocked
    /// readers and the waiting transactions stall each other until the pool's timeout and are all told busy.
    func testSynchronousReadersOnEveryCooperativeThreadDoNotStallAsyncTransactions() async throws {
        let store = try PostgresStore(url: try newSchemaURL("&pool_size=2&pool_timeout=5"))
        let started = Date()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<80 {
                group.addTask { () async throws -> Void in
                    if index % 2 == 0 {
                        _ = try await store.write { try $0.upsertCustomer(customer("t-\(index)")) }
                    } else {
                        // A synchronous read on a cooperative thread, as a request handler's might be.
                        _ = try store.readNow { try $0.customers().count }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(try store.readNow { try $0.customers().count }, 40)
        // Not a timing test: a stall lasts the pool timeout (5 s) and ends in busy errors, which the group rethrows.
        XCTAssertLessThan(seconds, 5, "the callers waited for the pool's timeout")
    }

    func testAFailedStatementCaughtInsideTheBodyDoesNotCommitTheRestSilently() throws {
        let store = try PostgresStore(url: try newSchemaURL())
        // An insert of a customer with a NULL-violating value is impossible through the protocol; a transition of an
        // instance that does not exist violates the foreign key, which PostgreSQL reports at once.
        XCTAssertThrowsError(try store.writeNow { transaction in
            try transaction.upsertCustomer(customer("kept-only-if-committed"))
            _ = try? transaction.appendTransition(
                instanceID: "no-such-instance", from: nil, to: "requested", event: "request", actor: "t", role: "system", at: 1,
                reason: nil, rowVersion: 1)
        }) { error in
            XCTAssertTrue("\(error)".contains("nothing was saved"), "\(error)")
        }
        XCTAssertNil(try store.readNow { try $0.customer(tenantID: "kept-only-if-committed") })
    }

    // MARK: Migrations

    func testProcessesOpeningANewDatabaseTogetherMigrateItOnce() async throws {
        let url = try newSchemaURL()
        let names = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask { () async throws -> [String] in try PostgresStore(url: url).appliedMigrations() }
            }
            var all: [[String]] = []
            for try await names in group { all.append(names) }
            return all
        }
        XCTAssertEqual(Set(names.map { $0.joined(separator: ",") }).count, 1, "every opener sees the same migrations")
        XCTAssertEqual(names.first?.count, try PostgresStore(url: url).appliedMigrations().count)
        XCTAssertFalse(names.first?.isEmpty ?? true)
    }

    func testADatabaseMigratedByANewerReleaseIsRefused() throws {
        let (url, schema) = try newSchema()
        _ = try PostgresStore(url: url)
        try psql("INSERT INTO \(schema).rosterflow_migrations VALUES ('v99-from-the-future', 0)")
        XCTAssertThrowsError(try PostgresStore(url: url)) { error in
            XCTAssertTrue("\(error)".contains("v99-from-the-future"), "\(error)")
            XCTAssertTrue("\(error)".contains("upgrade RosterFlow"), "\(error)")
        }
    }

    // MARK: The roster, one partition per integration

    private static func rosterRun(_ id: String, _ integrationID: String) -> SyncRunRecord {
        SyncRunRecord(id: id, integrationID: integrationID, bundle: "/bundles/\(id)", startedAt: 10, finishedAt: 10,
                      decision: .applied, reasons: "[]", counts: "{}", report: "{}", basedOnRun: nil)
    }

    /// Users (username, e-mail) and enrollments (class, user) of a district, as a first sync adds them.
    private static func rosterAdds(users: Int, enrollments: Int) -> [RosterChange] {
        (0..<users).map {
            RosterChange(operation: .add, record: RosterRecord(
                entity: "users", sourcedID: String(format: "u-%05d", $0), digest: Int64($0), ref1: "name\($0)",
                ref2: "Name\($0)@Example.org", title: "User \($0)"))
        } + (0..<enrollments).map {
            RosterChange(operation: .add, record: RosterRecord(
                entity: "enrollments", sourcedID: String(format: "e-%06d", $0), digest: Int64($0),
                ref1: "class-\($0 % 7)", ref2: String(format: "u-%05d", $0 % max(users, 1))))
        }
    }

    private func partitions(of schema: String) throws -> [String] {
        try psql("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = '\(schema).roster_records'::regclass ORDER BY 1
            """).split(separator: "\n").map(String.init)
    }

    /// A first sync loads its integration's partition without indexes and attaches it: the attach must leave it with
    /// every index of the partitioned table (valid, attached to the parent's), plus its own enrollment indexes by class
    /// and user when the integration looks enrollments up (on-demand here), and the lookups find each integration's own
    /// records; a mode change makes or drops those two indexes.
    func testEachIntegrationsRosterIsAPartitionOfItsOwnWithEveryIndex() throws {
        let (url, schema) = try newSchema()
        let store = try PostgresStore(url: url)
        try store.writeNow { tx in
            for id in ["int-1", "int-2"] {
                try StoreContractTests.seedIntegration(tx, id, tenant: "t-\(id)")
                try tx.insertSyncRun(Self.rosterRun("run-\(id)", id))
            }
            try tx.setProvisioningMode(integrationID: "int-1", mode: .onDemand, actor: "t", at: 1)
            // As a sync applies them: one group per entity.
            let adds = Self.rosterAdds(users: 3_000, enrollments: 9_000)
            try tx.applyRosterChanges(groups: [adds.filter { $0.record.entity == "users" }.shuffled(),
                                               adds.filter { $0.record.entity == "enrollments" }.shuffled()],
                                      integrationID: "int-1", runID: "run-int-1", checkpoint: nil, now: 10)
            try tx.applyRosterChanges(Self.rosterAdds(users: 4, enrollments: 10), integrationID: "int-2", runID: "run-int-2",
                                      checkpoint: nil, now: 10)
        }
        let names = try partitions(of: schema)
        XCTAssertEqual(names.count, 2, "\(names)")
        let parentIndexes = try psql("""
            SELECT count(*) FROM pg_index WHERE indrelid = '\(schema).roster_records'::regclass
            """)
        XCTAssertEqual(parentIndexes, "3", "the primary key and the users' two lookups")
        func ownIndexes(_ name: String) throws -> String {
            try psql("""
                SELECT count(*) FROM pg_index x WHERE x.indrelid = '\(schema).\(name)'::regclass AND x.indisvalid
                AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = x.indexrelid)
                """)
        }
        let partitionOf = ["int-1": "roster_records_" + (try psql("SELECT md5('int-1')")),
                           "int-2": "roster_records_" + (try psql("SELECT md5('int-2')"))]
        for name in names {
            let attached = try psql("""
                SELECT count(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid
                WHERE x.indrelid = '\(schema).\(name)'::regclass AND x.indisvalid AND x.indisready
                """)
            XCTAssertEqual(attached, "3", "\(name): every index of roster_records, valid and attached")
            XCTAssertEqual(try ownIndexes(name), name == partitionOf["int-1"] ? "2" : "0", "\(name): enrollments by class and user")
        }
        // Both were copied in key order, all groups in one (int-1's users came first, each group shuffled; int-2's
        // users before its enrollments), so the attach built each primary key from presorted rows.
        for name in names {
            XCTAssertEqual(try psql("""
                SELECT count(*) FROM (SELECT entity, sourced_id, lag(entity) OVER () AS e0, lag(sourced_id) OVER () AS s0
                                      FROM \(schema).\(name)) x
                WHERE (e0, s0) > (entity, sourced_id)
                """), "0", "\(name) not in key order")
        }
        // The lookups reach the integration's own partition through its index.
        let plan = try psql("""
            SET search_path = \(schema);
            EXPLAIN SELECT sourced_id FROM roster_records WHERE integration_id = 'int-1' AND entity = 'users' AND ref1 = 'name7'
            """)
        XCTAssertTrue(plan.contains("Index") && plan.contains(names[0]) != plan.contains(names[1]), plan)
        XCTAssertFalse(plan.contains("Seq Scan"), plan)
        let enrollmentPlan = try psql("""
            SET search_path = \(schema);
            EXPLAIN SELECT sourced_id FROM roster_records WHERE integration_id = 'int-1' AND entity = 'enrollments' AND ref1 = 'class-7'
            """)
        XCTAssertTrue(enrollmentPlan.contains("\(partitionOf["int-1"]!)_class"), enrollmentPlan)
        try store.readNow { tx in
            XCTAssertEqual(try tx.rosterCounts(integrationID: "int-1"), ["users": 3_000, "enrollments": 9_000])
            XCTAssertEqual(try tx.rosterCounts(integrationID: "int-2"), ["users": 4, "enrollments": 10])
            XCTAssertEqual(try tx.rosterUsers(integrationID: "int-1", username: "name2999").map(\.sourcedID), ["u-02999"])
            XCTAssertEqual(try tx.rosterUsers(integrationID: "int-2", email: "NAME3@example.org").map(\.sourcedID), ["u-00003"])
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-2", classSourcedID: "class-2").map(\.sourcedID),
                           ["e-000002", "e-000009"])
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-00005").map(\.sourcedID),
                           ["e-000005", "e-003005", "e-006005"])
        }
        // A later sync of int-1 goes into its partition as it is (an update and an add).
        try store.writeNow { tx in
            try tx.insertSyncRun(Self.rosterRun("run-2", "int-1"))
            try tx.applyRosterChanges([
                RosterChange(operation: .update, record: RosterRecord(entity: "users", sourcedID: "u-00001", digest: -1, ref1: "renamed")),
                RosterChange(operation: .add, record: RosterRecord(entity: "users", sourcedID: "u-99999", digest: 9, ref1: "late")),
            ], integrationID: "int-1", runID: "run-2", checkpoint: nil, now: 20)
        }
        XCTAssertEqual(try store.readNow { try $0.rosterUsers(integrationID: "int-1", username: "renamed").map(\.sourcedID) }, ["u-00001"])
        XCTAssertEqual(try store.readNow { try $0.rosterCounts(integrationID: "int-1")["users"] }, 3_001)
        XCTAssertEqual(try partitions(of: schema), names)

        try store.writeNow { tx in
            try tx.setProvisioningMode(integrationID: "int-1", mode: .preProvisioned, actor: "t", at: 30)
            try tx.setProvisioningMode(integrationID: "int-2", mode: .onDemand, actor: "t", at: 30)
        }
        XCTAssertEqual(try ownIndexes(partitionOf["int-1"]!), "0", "no longer on-demand")
        XCTAssertEqual(try ownIndexes(partitionOf["int-2"]!), "2", "made on-demand")
        try store.readNow { tx in
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-1", userSourcedID: "u-00005").map(\.sourcedID),
                           ["e-000005", "e-003005", "e-006005"], "read through")
            XCTAssertEqual(try tx.rosterEnrollments(integrationID: "int-2", classSourcedID: "class-2").map(\.sourcedID),
                           ["e-000002", "e-000009"])
        }
    }

    /// A database whose roster is still one table (before `v11-roster-partitions`) has it moved into one partition per
    /// integration on upgrade, every record and index kept.
    func testAnUnpartitionedRosterMovesIntoItsIntegrationsPartitionsOnUpgrade() throws {
        let (url, schema) = try newSchema()
        do {
            let store = try PostgresStore(url: url)
            try store.writeNow { tx in
                for id in ["int-1", "int-2"] {
                    try StoreContractTests.seedIntegration(tx, id, tenant: "t-\(id)")
                    try tx.insertSyncRun(Self.rosterRun("run-\(id)", id))
                    try tx.applyRosterChanges(Self.rosterAdds(users: 50, enrollments: id == "int-1" ? 300 : 20), integrationID: id,
                                              runID: "run-\(id)", checkpoint: nil, now: 10)
                }
            }
        }
        let before = try PostgresStore(url: url).readNow { tx in
            try ["int-1", "int-2"].map { try tx.rosterRecords(integrationID: $0, entity: "enrollments", sourcedIDs: nil) }
        }
        // The roster as migration v10 left it: one table with its primary key and four partial indexes (and no
        // function of v11's).
        try psql("""
            SET search_path = \(schema);
            CREATE TABLE held_rows AS SELECT * FROM roster_records;
            DROP TABLE roster_records CASCADE;
            CREATE TABLE roster_records (
                integration_id TEXT COLLATE "C" NOT NULL, entity TEXT COLLATE "C" NOT NULL, sourced_id TEXT COLLATE "C" NOT NULL,
                digest BIGINT NOT NULL, ref1 TEXT COLLATE "C", ref2 TEXT COLLATE "C", ref3 TEXT COLLATE "C", title TEXT COLLATE "C",
                run_id TEXT COLLATE "C" NOT NULL, add_logged BIGINT NOT NULL DEFAULT 1, fields BYTEA, ref4 TEXT COLLATE "C",
                PRIMARY KEY (integration_id, entity, sourced_id));
            CREATE INDEX roster_users_by_username ON roster_records (integration_id, ref1) WHERE entity = 'users';
            CREATE INDEX roster_users_by_email ON roster_records (integration_id, lower(ref2)) WHERE entity = 'users';
            CREATE INDEX roster_enrollments_by_class ON roster_records (integration_id, ref1) WHERE entity = 'enrollments';
            CREATE INDEX roster_enrollments_by_user ON roster_records (integration_id, ref2) WHERE entity = 'enrollments';
            INSERT INTO roster_records SELECT * FROM held_rows;
            DROP TABLE held_rows;
            DROP FUNCTION rosterflow_move_into_roster_partitions(text);
            DROP FUNCTION rosterflow_key_enrollments(text, boolean);
            DELETE FROM rosterflow_migrations
            WHERE identifier IN ('v11-roster-partitions', 'v12-roster-lookups-value-first', 'v13-enrollment-lookups-where-used');
            """)
        XCTAssertEqual(try partitions(of: schema), [])
        let store = try PostgresStore(url: url)
        XCTAssertTrue(try store.appliedMigrations().contains("v11-roster-partitions"))
        XCTAssertEqual(try partitions(of: schema).count, 2)
        let after = try store.readNow { tx in
            try ["int-1", "int-2"].map { try tx.rosterRecords(integrationID: $0, entity: "enrollments", sourcedIDs: nil) }
        }
        XCTAssertEqual(after, before)
        XCTAssertEqual(after.map(\.count), [300, 20])
        XCTAssertEqual(try store.readNow { try $0.rosterUsers(integrationID: "int-2", username: "name7").map(\.sourcedID) }, ["u-00007"])
        XCTAssertEqual(try store.readNow { try $0.rosterEnrollments(integrationID: "int-2", classSourcedID: "class-2") },
                       before[1].filter { $0.ref1 == "class-2" })
        XCTAssertEqual(try psql("SELECT count(*) FROM pg_indexes WHERE schemaname = '\(schema)' AND indexname LIKE '%enrollments_by%'"),
                       "0", "enrollments keyed only where looked up")
        XCTAssertEqual(try psql("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                + "WHERE n.nspname = '\(schema)' AND c.relname LIKE 'roster_records_unpartitioned%'"), "0")
    }

    // MARK: Helpers

    private func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

private func customer(_ tenant: String) -> CustomerRecord {
    CustomerRecord(tenantID: tenant, district: "District \(tenant)", contactEmail: "\(tenant)@example.org", importedAt: 1)
}

extension PostgresStoreTests {
    func testAnIdleWorkerIsWokenWhenAnotherProcessCommitsOutboxWork() async throws {
        let url = try newSchemaURL()
        let worker = try PostgresStore(url: url)
        let server = try PostgresStore(url: url)
        // The first wait starts listening (and returns at once when the listener connects: work may have been
        // committed while nobody listened); after that, with nothing committed, a wait lasts its whole timeout.
        await worker.waitForWork(timeout: .seconds(2))
        let clock = ContinuousClock()
        let quiet = await clock.measure { await worker.waitForWork(timeout: .milliseconds(300)) }
        XCTAssertGreaterThanOrEqual(quiet, .milliseconds(300))
        // Listening has started (the first wait started it); a commit with an outbox message wakes the next wait long
        // before its 60 s timeout.
        async let woken: Duration = clock.measure { await worker.waitForWork(timeout: .seconds(60)) }
        try await Task.sleep(nanoseconds: 300_000_000)
        try await server.write { transaction in
            try transaction.insertOutbox(OutboxRecord(
                id: "wake-1", instanceID: "i-1", transitionSeq: nil, channel: .email, recipient: "a@example.org",
                template: "t", payload: "{}", nextAttemptAt: 0, createdAt: 0))
        }
        let waited = await woken
        XCTAssertLessThan(waited, .seconds(30), "the wait was not woken by the commit")
    }
}
