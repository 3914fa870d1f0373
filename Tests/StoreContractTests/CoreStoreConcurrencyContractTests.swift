import Foundation
import StorageCore
import StoragePostgres
import StorageSQLite
import XCTest

/// The core concerns' contract where two processes share one database: timers fired once, stale writers refused,
/// definitions, digests and customers recorded once. Each test opens two stores on the same database (as two
/// `rosterflow` processes would) for every backend that can be shared: a SQLite file, a PostgreSQL schema.
final class CoreStoreConcurrencyContractTests: XCTestCase {
    /// Two stores on one new, empty database, and the backend's name for failure messages.
    private struct SharedDatabase: Sendable {
        var name: String
        var open: @Sendable (_ folder: String) throws -> (any RosterFlowStore, any RosterFlowStore)
    }

    private static let backends: [SharedDatabase] = {
        var backends = [
            SharedDatabase(name: "SQLite") { folder in
                let path = folder + "/shared.sqlite"
                return (try SQLiteStore(path: path), try SQLiteStore(path: path))
            }
        ]
        if let url = StoreConformers.postgresURL {
            backends.append(SharedDatabase(name: "PostgreSQL") { _ in
                let shared = StoreConformers.withSchema(url, "shared_" + UUID().uuidString.prefix(8).lowercased())
                return (try PostgresStore(url: shared), try PostgresStore(url: shared))
            })
        }
        return backends
    }()

    private var folders: [String] = []

    override func tearDown() {
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        folders = []
        super.tearDown()
    }

    /// Runs `body` once per backend with two stores on one new database.
    private func forEachSharedDatabase(
        file: StaticString = #filePath, line: UInt = #line,
        _ body: (any RosterFlowStore, any RosterFlowStore) async throws -> Void
    ) async throws {
        for backend in Self.backends {
            do {
                let folder = try temporaryFolder()
                folders.append(folder)
                let (first, second) = try backend.open(folder)
                try await body(first, second)
            } catch {
                XCTFail("\(backend.name): \(error)", file: file, line: line)
            }
        }
    }

    private struct Refused: Error {}

    /// Runs `first` in a write on `a` and, while that write is still open (its body has run, it has not committed),
    /// `second` in a write on `b`; then lets `a`'s write end (rolled back when `rollBackFirst`). A write that must wait
    /// for the first (SQLite's one writer; a PostgreSQL row lock) waits: the first ends after at most a second on its
    /// own. Timing never decides an outcome here, only whether the second ran while the first was open.
    private static func overlapping<T: Sendable, U: Sendable>(
        _ a: any RosterFlowStore, _ first: @escaping @Sendable (any StoreTransaction) throws -> T,
        _ b: any RosterFlowStore, _ second: @escaping @Sendable (any StoreTransaction) throws -> U,
        rollBackFirst: Bool = false
    ) async -> (first: Result<T, Error>, second: Result<U, Error>) {
        let firstRan = DispatchSemaphore(value: 0)
        let secondDone = DispatchSemaphore(value: 0)
        let firstTask = Task {
            do {
                return Result<T, Error>.success(try await a.write { tx in
                    let value: T
                    do {
                        value = try first(tx)
                    } catch {
                        firstRan.signal()
                        throw error
                    }
                    firstRan.signal()
                    _ = secondDone.wait(timeout: .now() + 1)
                    if rollBackFirst { throw Refused() }
                    return value
                })
            } catch {
                return .failure(error)
            }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                firstRan.wait()
                continuation.resume()
            }
        }
        let secondResult: Result<U, Error>
        do {
            secondResult = .success(try await b.write { tx in try second(tx) })
        } catch {
            secondResult = .failure(error)
        }
        secondDone.signal()
        return (await firstTask.value, secondResult)
    }

    private static func instance(_ id: String, state: String = "waiting", enteredAt: Double = 1) -> InstanceRecord {
        InstanceRecord(
            id: id, workflow: "integration", version: 1, state: state, subjectTitle: "Subject \(id)", createdAt: 1,
            enteredAt: enteredAt, updatedAt: 1)
    }

    // MARK: Timers

    func testATimerAnotherProcessIsFiringIsNotHandedOutAgain() async throws {
        try await forEachSharedDatabase { a, b in
            try await a.write { tx in
                for index in 0..<6 {
                    try tx.insertInstance(Self.instance("i-\(index)"))
                    try tx.armTimer(instanceID: "i-\(index)", event: "remind", dueAt: Double(10 + index), armedAt: 1, inState: "waiting")
                }
            }
            let (first, second) = await Self.overlapping(a, { tx in
                let due = try tx.dueTimers(now: 100, limit: 2)
                return (due.map(\.id), try due.filter { try tx.deleteTimer(id: $0.id) }.map(\.id))
            }, b, { tx in
                let due = try tx.dueTimers(now: 100, limit: 10)
                return (due.map(\.id), try due.filter { try tx.deleteTimer(id: $0.id) }.map(\.id))
            })
            let (firstDue, firstFired) = try first.get()
            let (secondDue, secondFired) = try second.get()
            XCTAssertEqual(firstFired, firstDue, "the first process could not take the timers it was handed")
            XCTAssertEqual(firstDue.count, 2)
            XCTAssertTrue(
                Set(firstDue).isDisjoint(with: secondDue),
                "timers another process was firing were handed out again: \(firstDue) and \(secondDue)")
            XCTAssertEqual(secondFired, secondDue)
            XCTAssertEqual((firstFired + secondFired).count, 6)
            XCTAssertEqual(Set(firstFired + secondFired).count, 6, "a timer fired twice")
            XCTAssertEqual(try a.readNow { try $0.dueTimers(now: 1_000, limit: 100) }, [])
        }
    }

    func testATimerWhoseFiringRolledBackIsFiredByTheOtherProcess() async throws {
        try await forEachSharedDatabase { a, b in
            try await a.write { tx in
                try tx.insertInstance(Self.instance("i-1"))
                try tx.armTimer(instanceID: "i-1", event: "remind", dueAt: 10, armedAt: 1, inState: "waiting")
            }
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.dueTimers(now: 100, limit: 10).filter { try tx.deleteTimer(id: $0.id) }.count
            }, b, { tx in
                // Whatever this process saw while the first was open, the timer is still there to fire once the first
                // gave up (or, if this ran after, it fires it now).
                try tx.dueTimers(now: 100, limit: 10).filter { try tx.deleteTimer(id: $0.id) }.count
            }, rollBackFirst: true)
            XCTAssertThrowsError(try first.get())
            let firedBySecond = try second.get()
            let left = try a.readNow { try $0.dueTimers(now: 100, limit: 10) }
            XCTAssertEqual(firedBySecond + left.count, 1, "a timer whose firing rolled back was lost or doubled")
        }
    }

    func testTwoProcessesFiringDueTimersTogetherFireEachOnce() async throws {
        try await forEachSharedDatabase { a, b in
            try await a.write { tx in
                for index in 0..<60 {
                    try tx.insertInstance(Self.instance("i-\(index)"))
                    try tx.armTimer(instanceID: "i-\(index)", event: "remind", dueAt: Double(index % 7), armedAt: 1, inState: "waiting")
                }
            }
            // Four workers (two per process) fire batches of five until nothing is due, as `rosterflow worker` does.
            let fired = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for worker in 0..<4 {
                    let store = worker % 2 == 0 ? a : b
                    group.addTask {
                        var mine: [Int64] = []
                        while true {
                            let batch = try await store.write { tx in
                                try tx.dueTimers(now: 100, limit: 5).filter { try tx.deleteTimer(id: $0.id) }.map(\.id)
                            }
                            let left = try await store.read { tx in try tx.dueTimers(now: 100, limit: 1).count }
                            mine += batch
                            if batch.isEmpty && left == 0 { return mine }
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            XCTAssertEqual(fired.count, 60, "timers fired \(fired.count) times, not once each")
            XCTAssertEqual(Set(fired).count, 60)
        }
    }

    // MARK: Instances

    func testOfTwoProcessesMovingOneInstanceFromTheSameReadOnlyTheFirstWins() async throws {
        try await forEachSharedDatabase { a, b in
            try await a.write { tx in try tx.insertInstance(Self.instance("i-1", state: "a")) }
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.updateInstance(id: "i-1", expectedRowVersion: 1, state: "b", previousState: "a", enteredAt: 2, now: 2)
            }, b, { tx in
                try tx.updateInstance(id: "i-1", expectedRowVersion: 1, state: "c", previousState: "a", enteredAt: 3, now: 3)
            })
            XCTAssertEqual(try first.get(), 2)
            XCTAssertThrowsError(try second.get()) { error in
                XCTAssertEqual((error as? StorageError)?.code, .staleInstance, "\(error)")
            }
            let stored = try XCTUnwrap(try b.readNow { try $0.instance(id: "i-1") })
            XCTAssertEqual([stored.state, stored.previousState], ["b", "a"], "the later writer overwrote the first")
            XCTAssertEqual(stored.rowVersion, 2)
            XCTAssertEqual(stored.enteredAt, 2)
            XCTAssertThrowsError(try a.writeNow { tx in
                try tx.updateInstance(id: "nope", expectedRowVersion: 1, state: "b", previousState: nil, enteredAt: 2, now: 2)
            }) { error in XCTAssertEqual((error as? StorageError)?.code, .staleInstance, "\(error)") }
        }
    }

    /// An event read and applied inside one write transaction (as the domain applies every event) is never refused
    /// because another process moved the instance meanwhile: the second waits for the first and moves the instance on
    /// from where the first left it, as SQLite's single writer does.
    func testTwoProcessesReadingAndMovingOneInstanceInsideTheirTransactionsBothMoveItInTurn() async throws {
        try await forEachSharedDatabase { a, b in
            try await a.write { tx in try tx.insertInstance(Self.instance("i-1", state: "a")) }
            @Sendable func move(to state: String, at time: Double) -> @Sendable (any StoreTransaction) throws -> Int {
                { tx in
                    let current = try XCTUnwrap(try tx.instance(id: "i-1"))
                    return try tx.updateInstance(
                        id: "i-1", expectedRowVersion: current.rowVersion, state: state, previousState: current.state,
                        enteredAt: time, now: time)
                }
            }
            let (first, second) = await Self.overlapping(a, move(to: "b", at: 2), b, move(to: "c", at: 3))
            XCTAssertEqual(try first.get(), 2)
            XCTAssertEqual(try second.get(), 3, "the second read the first's move and went on from it")
            let stored = try XCTUnwrap(try b.readNow { try $0.instance(id: "i-1") })
            XCTAssertEqual([stored.state, stored.previousState], ["c", "b"])
            XCTAssertEqual(stored.rowVersion, 3)
        }
    }

    func testAMigrationRacingATransitionIsRefused() async throws {
        try await forEachSharedDatabase { a, b in
            try await a.write { tx in try tx.insertInstance(Self.instance("i-1", state: "a")) }
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.updateInstance(id: "i-1", expectedRowVersion: 1, state: "b", previousState: "a", enteredAt: 2, now: 2)
            }, b, { tx in
                try tx.migrateInstance(id: "i-1", expectedRowVersion: 1, fromVersion: 1, toVersion: 2, state: "a2", previousState: nil, now: 3)
            })
            XCTAssertEqual(try first.get(), 2)
            XCTAssertThrowsError(try second.get()) { error in
                XCTAssertEqual((error as? StorageError)?.code, .staleInstance, "\(error)")
            }
            let stored = try XCTUnwrap(try b.readNow { try $0.instance(id: "i-1") })
            XCTAssertEqual([stored.version, stored.rowVersion], [1, 2])
            XCTAssertEqual(stored.state, "b")
        }
    }

    // MARK: Definitions

    func testTwoProcessesRecordingTheSameDefinitionAtOnceBothGoOn() async throws {
        try await forEachSharedDatabase { a, b in
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.recordDefinition(name: "integration", version: 1, source: "text-1", checksum: "sum-1", file: "a.yaml", now: 1)
            }, b, { tx in
                try tx.recordDefinition(name: "integration", version: 1, source: "text-1", checksum: "sum-1", file: "a.yaml", now: 2)
            })
            XCTAssertNoThrow(try first.get())
            XCTAssertNoThrow(try second.get(), "the second process to load an unchanged definition was refused")
            let stored = try a.readNow { try $0.storedDefinitions() }
            XCTAssertEqual(stored.map { "\($0.name)@\($0.version):\($0.source)" }, ["integration@1:text-1"])
        }
    }

    func testOfTwoProcessesRecordingDifferentTextsUnderOneVersionTheSecondIsRefused() async throws {
        try await forEachSharedDatabase { a, b in
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.recordDefinition(name: "integration", version: 2, source: "text-a", checksum: "sum-a", file: "a.yaml", now: 1)
            }, b, { tx in
                try tx.recordDefinition(name: "integration", version: 2, source: "text-b", checksum: "sum-b", file: "b.yaml", now: 2)
            })
            XCTAssertNoThrow(try first.get())
            XCTAssertThrowsError(try second.get()) { error in
                XCTAssertEqual((error as? StorageError)?.code, .definitionChanged, "\(error)")
            }
            XCTAssertEqual(try b.readNow { try $0.storedDefinitions() }.map(\.source), ["text-a"])
        }
    }

    func testADefinitionIsUnchangedWhenItsChecksumOrItsTextMatches() async throws {
        try await forEachSharedDatabase { a, b in
            try a.writeNow { tx in
                try tx.recordDefinition(name: "course", version: 1, source: "text", checksum: "fnv", file: "c.yaml", now: 1)
                try tx.recordDefinition(name: "course", version: 3, source: "other", checksum: "sha", file: "c.yaml", now: 1)
            }
            // The same text under a new checksum form, and the same checksum over a text that differs (whitespace an
            // earlier release normalised): both unchanged, and the stored row stays as it was.
            try b.writeNow { tx in
                try tx.recordDefinition(name: "course", version: 1, source: "text", checksum: "sha-of-text", file: "c.yaml", now: 2)
                try tx.recordDefinition(name: "course", version: 3, source: "other ", checksum: "sha", file: "c.yaml", now: 2)
            }
            XCTAssertThrowsError(try b.writeNow { tx in
                try tx.recordDefinition(name: "course", version: 1, source: "changed", checksum: "sha-of-changed", file: "c.yaml", now: 3)
            }) { error in
                XCTAssertEqual((error as? StorageError)?.code, .definitionChanged, "\(error)")
                XCTAssertTrue((error as? StorageError)?.message.contains("c.yaml") == true, "\(error)")
            }
            XCTAssertEqual(
                try a.readNow { try $0.storedDefinitions() }.map { "\($0.name)@\($0.version):\($0.source)" },
                ["course@1:text", "course@3:other"])
        }
    }

    // MARK: Digests and upserts

    func testADigestTwoProcessesRecordAtOnceIsRecordedByOneOfThem() async throws {
        try await forEachSharedDatabase { a, b in
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.recordDigest(integrationID: "int-1", kind: "daily", localDate: "2026-12-01", at: 1)
            }, b, { tx in
                try tx.recordDigest(integrationID: "int-1", kind: "daily", localDate: "2026-12-01", at: 2)
            })
            XCTAssertEqual([try first.get(), try second.get()], [true, false], "a digest would be sent twice (or never)")
        }
    }

    func testADigestWhoseRecordingRolledBackIsRecordedByTheOtherProcess() async throws {
        try await forEachSharedDatabase { a, b in
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.recordDigest(integrationID: "int-1", kind: "daily", localDate: "2026-12-01", at: 1)
            }, b, { tx in
                try tx.recordDigest(integrationID: "int-1", kind: "daily", localDate: "2026-12-01", at: 2)
            }, rollBackFirst: true)
            XCTAssertThrowsError(try first.get())
            XCTAssertEqual(try second.get(), true, "a digest whose first recording rolled back was never sent")
            XCTAssertFalse(try a.writeNow { try $0.recordDigest(integrationID: "int-1", kind: "daily", localDate: "2026-12-01", at: 3) })
        }
    }

    func testACustomerTwoProcessesImportAtOnceIsNewToOneOfThem() async throws {
        try await forEachSharedDatabase { a, b in
            let (first, second) = await Self.overlapping(a, { tx in
                try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "First", contactEmail: "a@example.org", importedAt: 1))
            }, b, { tx in
                try tx.upsertCustomer(CustomerRecord(tenantID: "t-1", district: "Second", contactEmail: "b@example.org", importedAt: 2))
            })
            XCTAssertEqual([try first.get(), try second.get()], [true, false])
            XCTAssertEqual(try a.readNow { try $0.customers() }.map(\.district), ["Second"], "the later import did not win")
        }
    }

    func testACatalogCourseTwoProcessesImportAtOnceIsNewToOneOfThem() async throws {
        try await forEachSharedDatabase { a, b in
            let course = CatalogCourseRecord(
                baseID: "ALG1", title: "Algebra I", subject: "Mathematics", grades: ["09"], status: .active, updatedAt: 1)
            var changed = course
            changed.title = "Algebra 1"
            let renamed = changed
            let (first, second) = await Self.overlapping(a, { tx in try tx.upsertCatalogCourse(course) }, b, { tx in
                try tx.upsertCatalogCourse(renamed)
            })
            XCTAssertEqual([try first.get(), try second.get()], [true, false])
            XCTAssertEqual(try a.readNow { try $0.catalogCourse(baseID: "ALG1") }, renamed)
        }
    }
}
