/// Everything the domain does inside one transaction: every concern's operations on one atomic unit of work.
///
/// ## Transaction contract (every conformer keeps it; the contract tests check it)
/// - Everything done through one transaction commits together or not at all.
/// - A transaction sees its own writes at once, and no uncommitted write of any other transaction.
/// - ``savepoint(_:)`` undoes exactly what its body did when the body throws, and the transaction goes on.
/// - Workflow instances carry a row version: ``WorkflowStore/updateInstance(id:expectedRowVersion:state:previousState:enteredAt:now:)``
///   with a version that is no longer current throws ``StorageError/Code/staleInstance`` and changes nothing.
/// - History (transitions, roster history, audit) is append-only: no operation rewrites or removes it.
/// - Errors are ``StorageError``s: `busy` (another process kept the database locked; nothing was done, try again),
///   `stale-instance`, `definition-changed`, `database`.
public protocol StoreTransaction: WorkflowStore, TimerStore, OutboxStore, DirectoryStore, CourseStore, CatalogStore,
    AuditStore, RosterStore, SyncRunStore, ScheduleStore, DigestStore, AccessStore, PauseStore, CarryForwardStore,
    HookStore, SignInStore, OnDemandStore, MigrationStore, NextTermOfferStore, RosterLookupStore, ClassLinkStore
{
    /// Runs `body` in a savepoint: if it throws, its changes are undone and the rest of the transaction goes on.
    func savepoint<T>(_ body: () throws -> T) throws -> T
}

/// Held digests of one entity in sourcedId order, read one at a time (a sync compares a whole roster without loading
/// it). Used within the transaction that opened it.
public protocol RosterDigestCursor: AnyObject {
    /// The next held sourcedId and digest, or nil after the last.
    func next() throws -> (sourcedID: String, digest: Int64)?

    /// The held record ``next()`` returned last, as the change that deletes it (no field digests, as
    /// ``RosterChange/deleting(_:)`` makes it), when the cursor has it at hand; nil when it would take another read.
    /// A diff that finds the record omitted keeps the change, so a rollover's millions are not read again to plan them.
    func currentAsDelete() -> RosterChange?

    /// Appends ``currentAsDelete()`` to `deletes`, encoded straight from where the cursor holds it when it can (no
    /// change or text is made); false when the record is not at hand (nothing appended).
    func appendCurrentAsDelete(to deletes: inout EncodedChanges) -> Bool
}

extension RosterDigestCursor {
    /// Not at hand: the planner reads the records it deletes (``RosterStore/heldDeletes(integrationID:entity:sourcedIDs:)``).
    public func currentAsDelete() -> RosterChange? { nil }

    /// ``currentAsDelete()``, encoded.
    public func appendCurrentAsDelete(to deletes: inout EncodedChanges) -> Bool {
        guard let change = currentAsDelete() else { return false }
        deletes.append(change)
        return true
    }
}

/// A durable store for RosterFlow: where transactions run.
///
/// - ``write(_:)`` is the front ends' path: concurrent writes may share one commit (group commit), each in its own
///   savepoint, so one body's error undoes only that body; it returns once the write is durable.
/// - ``read(_:)`` runs a read-only snapshot without blocking the caller's cooperative thread.
/// - ``writeNow(_:)`` and ``readNow(_:)`` run on the calling thread, for start-up, tools and work already off the
///   cooperative pool (a sync reading a bundle).
public protocol RosterFlowStore: Sendable {
    /// Runs `body` in a write transaction shared with other concurrent writers; returns once durably committed.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T

    /// Runs `body` in a read-only snapshot, off the caller's cooperative thread.
    func read<T: Sendable>(_ body: @escaping @Sendable (any StoreTransaction) throws -> T) async throws -> T

    /// Runs `body` in a write transaction of its own, on the calling thread.
    @discardableResult
    func writeNow<T>(_ body: (any StoreTransaction) throws -> T) throws -> T

    /// Runs `body` in a read-only snapshot on the calling thread.
    func readNow<T>(_ body: (any StoreTransaction) throws -> T) throws -> T

    /// A number that changes whenever anyone commits to the store (this process's writers or another process's), or
    /// nil when the store cannot tell cheaply. While it is unchanged, an answer computed from the store's contents may
    /// be reused as it is.
    func commitCounter() -> Int64?

    /// Returns when a transaction that left work for background workers (outbox messages, timers) may have committed
    /// since this call began, in this process or another, or after `timeout`, or when the task is cancelled. An idle
    /// worker waits here instead of sleeping its whole poll interval.
    func waitForWork(timeout: Duration) async

    /// A new, empty stage for the adds of one sync (see ``RosterAddStage``), or nil when this store applies adds as
    /// they come.
    func makeRosterAddStage() -> (any RosterAddStage)?
}

extension RosterFlowStore {
    /// Stores that do not stage apply a sync's adds with the rest of its changes.
    public func makeRosterAddStage() -> (any RosterAddStage)? { nil }

    /// Stores that cannot tell cheaply say nil: nothing is reused.
    public func commitCounter() -> Int64? { nil }

    /// Stores that cannot tell when work is committed wait out the timeout (the worker polls).
    public func waitForWork(timeout: Duration) async {
        try? await Task.sleep(for: timeout)
    }
}
