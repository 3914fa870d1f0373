import Foundation

// The store seam: what RosterFlow keeps durably, by concern, with no SQL and no database library in sight.
// StorageSQLite is the first conformer; a second backend conforms to the same protocols and runs the same contract
// tests (Tests/StoreContractTests).

/// Workflow definitions, instances and their append-only history.
public protocol WorkflowStore {
    /// Stores a definition's text the first time its version is seen; refuses a changed text under an old version.
    ///
    /// A definition is unchanged when its checksum equals the stored one or, failing that, when its text equals the
    /// stored text: earlier releases stored a different checksum form (FNV-1a, today SHA-256), and a database they
    /// wrote must keep accepting the same definitions. The stored row is left as it is, so an earlier release
    /// opening the database afterwards still finds its own checksum.
    func recordDefinition(name: String, version: Int, source: String, checksum: String, file: String, now: Double) throws

    /// Every stored definition version's text.
    func storedDefinitions() throws -> [(name: String, version: Int, source: String)]

    /// Stores a new instance as given; its id must not be in use.
    func insertInstance(_ instance: InstanceRecord) throws

    /// The instance with that id, or nil when there is none.
    func instance(id: String) throws -> InstanceRecord?

    /// Instances of `workflow`, optionally only those in `states`, oldest entry first.
    func instances(workflow: String, states: [String]?) throws -> [InstanceRecord]

    /// Moves an instance to a new state if nobody changed it since `expectedRowVersion`.
    ///
    /// - Returns: the new row version.
    /// - Throws: ``StorageError/Code/staleInstance`` when the stored row version differs.
    @discardableResult
    func updateInstance(
        id: String, expectedRowVersion: Int, state: String, previousState: String?, enteredAt: Double, now: Double
    ) throws -> Int

    /// Appends one history row and returns its sequence number. History rows are never changed or deleted.
    @discardableResult
    func appendTransition(
        instanceID: String, from: String?, to: String, event: String, actor: String, role: String, at: Double,
        reason: String?, rowVersion: Int
    ) throws -> Int64

    /// An instance's history rows, oldest first.
    func transitions(instanceID: String) throws -> [TransitionRecord]
}

/// Timers armed by workflow states, fired when due.
public protocol TimerStore {
    /// Removes every timer armed for an instance.
    func cancelTimers(instanceID: String) throws

    /// Arms a timer that sends `event` to the instance at `dueAt`, noting when it was armed and in which state.
    func armTimer(instanceID: String, event: String, dueAt: Double, armedAt: Double, inState state: String) throws

    /// Timers due at or before `now`, earliest first.
    func dueTimers(now: Double, limit: Int) throws -> [TimerRecord]

    /// The timers armed for an instance, earliest due first.
    func timers(instanceID: String) throws -> [TimerRecord]

    /// Removes a timer; returns false when it was already gone (fired or cancelled by someone else).
    @discardableResult
    func deleteTimer(id: Int64) throws -> Bool
}

/// The transactional outbox: messages written with their transition, fanned out into deliveries that workers lease, attempt and complete.
public protocol OutboxStore {
    /// Writes a message to the outbox as given; it is sent only if this transaction commits.
    func insertOutbox(_ message: OutboxRecord) throws

    /// Outbox messages, oldest first, of one instance or (nil) of all.
    func outbox(instanceID: String?) throws -> [OutboxRecord]

    /// Turns up to `limit` new outbox messages into deliveries, one per (channel, destination) that `destinations`
    /// names for each, and marks the messages `queued`. Safe to run from several processes at once: the first
    /// statement takes the write lock, so each message is fanned out exactly once.
    ///
    /// - Returns: the number of messages fanned out.
    @discardableResult
    func fanOutOutbox(
        limit: Int, now: Double, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)]
    ) throws -> Int

    /// ``fanOutOutbox(limit:now:destinations:)`` that also claims, for `claim.worker`, up to `claim.limit` of the
    /// deliveries it creates that are due now: they are inserted already holding the lease, exactly as if
    /// ``claimDeliveries(worker:now:leaseSeconds:limit:)`` had claimed them in the same transaction.
    func fanOutOutbox(
        limit: Int, now: Double, claim: FanOutClaim?, destinations: (OutboxRecord) -> [(channel: OutboxChannel, destination: String)]
    ) throws -> (fannedOut: Int, claimed: [ClaimedDelivery])

    /// Claims up to `limit` due deliveries for `worker` until `now + leaseSeconds`. A delivery whose previous holder's
    /// lease ran out (it crashed between send and mark) is claimed again and re-sent under the same message id.
    func claimDeliveries(worker: String, now: Double, leaseSeconds: Double, limit: Int) throws -> [ClaimedDelivery]

    /// Records the outcome of one attempt, if `worker` still holds the delivery; returns false when it does not
    /// (its lease ran out and another dispatcher took it over: that one's outcome counts).
    ///
    /// - Parameters:
    ///   - status: `.pending` to retry at `nextAttemptAt`; any other status is final.
    @discardableResult
    func completeDelivery(
        id: String, worker: String, status: DeliveryRecord.Status, error: String?, nextAttemptAt: Double?, now: Double
    ) throws -> Bool

    /// Records many attempts' outcomes in this one transaction, as ``completeDelivery(id:worker:status:error:nextAttemptAt:now:)``
    /// does each; every message concerned is summarised once. Returns the ids `worker` no longer held (not recorded).
    func completeDeliveries(_ outcomes: [DeliveryOutcomeRecord], worker: String, now: Double) throws -> [String]

    /// Gives back every delivery `worker` holds, unsent, so another dispatcher may take it at once (graceful stop).
    func releaseClaims(worker: String) throws

    /// Gives back deliveries of `ids` that `worker` claimed and did not start sending (their attempts unchanged), so
    /// another dispatcher may take them at once: only while they are still pending under the lease that ends at
    /// `leasedUntil`. One taken over by another worker, or claimed again since (a later lease), is left alone.
    func releaseClaims(worker: String, ids: [String], leasedUntil: Double) throws

    /// Outbox messages, newest first, optionally only those with `status`.
    func outboxMessages(status: OutboxStatus?, limit: Int) throws -> [OutboxRecord]

    /// One outbox message, or nil.
    func outboxMessage(id: String) throws -> OutboxRecord?

    /// A message's deliveries, e-mail first.
    func deliveries(outboxID: String) throws -> [DeliveryRecord]

    /// Deliveries with `status` (all when nil), oldest first.
    func deliveries(status: DeliveryRecord.Status?, limit: Int) throws -> [DeliveryRecord]

    /// Sends a message again: every delivery of it that failed, died or was skipped (or just `deliveryID`) goes back
    /// to `pending` with a fresh attempt count, due now. A message not yet fanned out is left as it is.
    ///
    /// - Returns: how many deliveries were reset.
    @discardableResult
    func retryOutbox(id: String, deliveryID: String?, now: Double) throws -> Int
}

/// Customers (the vendor's registry) and integrations (one per district enabling the app).
public protocol DirectoryStore {
    /// The integrations of one ClassLink tenant, oldest first, each with its workflow state.
    func integrations(tenantID: String) throws -> [(integration: IntegrationRecord, state: String)]

    /// Inserts or replaces a customer; returns true when it was new.
    @discardableResult
    func upsertCustomer(_ customer: CustomerRecord) throws -> Bool

    /// The registry entry for a tenant id, or nil when there is none.
    func customer(tenantID: String) throws -> CustomerRecord?

    /// Every customer in the registry, by tenant id.
    func customers() throws -> [CustomerRecord]

    /// Stores a new integration as given; its workflow instance (the same id) must exist already.
    func insertIntegration(_ integration: IntegrationRecord) throws

    /// The integration with that id, or nil when there is none.
    func integration(id: String) throws -> IntegrationRecord?

    /// All integrations, oldest first.
    func integrations() throws -> [IntegrationRecord]

    /// One page of integrations with their instances and list figures, oldest first (by creation, then id).
    ///
    /// - Parameters:
    ///   - after: the id of the last integration of the previous page (nil: from the first).
    ///   - limit: at most this many rows.
    ///   - states: only instances in these states (nil: any).
    ///   - tenants: only integrations of these tenant ids (nil: any).
    /// - Returns: nil when `after` names no integration.
    func integrationListing(after: String?, limit: Int, states: [String]?, tenants: [String]?) throws -> [IntegrationListing]?
}

/// Course shells and their mappings to the vendor's catalog.
public protocol CourseStore {
    /// The course sourcedIds of an integration whose mapping is locked (a student started them).
    func lockedCourseSourcedIDs(integrationID: String) throws -> Set<String>

    /// Stores a new course as given; its workflow instance (the same id) and its integration must exist already, and
    /// the integration must not hold another course with the same sourcedId.
    func insertCourse(_ course: CourseRecord) throws

    /// The course with that id, or nil when there is none.
    func course(id: String) throws -> CourseRecord?

    /// An integration's course with that OneRoster sourcedId, or nil when there is none.
    func course(integrationID: String, sourcedID: String) throws -> CourseRecord?

    /// An integration's courses, oldest first.
    func courses(integrationID: String) throws -> [CourseRecord]

    /// Maps a course to a catalog course: its catalog title and the vendor's base course id (the lock is not checked
    /// here).
    func updateMapping(courseID: String, catalogTitle: String, baseID: String) throws

    /// Locks a course's mapping as of `at`; a course already locked keeps its first lock time.
    func markLocked(courseID: String, at: Double) throws

    /// For the integration a course belongs to: its id, its state, and whether any of its courses is in none of
    /// `states` (one query that stops at the first such course: this runs on every course that gets content).
    func integrationProgress(courseID: String, notIn states: [String]) throws
        -> (integrationID: String, state: String, anyOutside: Bool)?

    /// How many of an integration's courses are in none of `states`, and how many it has in all.
    func courseCounts(integrationID: String, notIn states: [String]) throws -> (outside: Int, total: Int)
}

/// The audit log of operator actions outside the workflows (imports, policies, approvals).
public protocol AuditStore {
    /// Appends `record` to the audit log, in this transaction (so the change and its record commit together).
    func insertAudit(_ record: AuditRecord) throws

    /// The audit log, oldest first; only the changes of `integrationID` when given. `limit` keeps the newest rows.
    func auditRecords(integrationID: String?, limit: Int) throws -> [AuditRecord]
}

/// The roster an integration holds: records by digest, their history, sourcedId aliases, parked deletes and the roster version.
public protocol RosterStore {
    /// Records applied merges as aliases of the integration's roster.
    func insertAliases(_ merges: [SourcedIDMerge], integrationID: String, runID: String, actor: String, now: Double) throws

    /// Applied merges in which a sourcedId took part, as the old or the new id, oldest first: in one integration, or
    /// (nil) in every integration. SourcedIds are unique only inside a district: callers showing one record pass its
    /// integration.
    func aliases(involving sourcedID: String, integrationID: String?) throws -> [RosterAlias]

    /// The sourcedId a record now has, following applied merges (itself when it was never merged).
    func currentSourcedID(integrationID: String, entity: String, sourcedID: String) throws -> String

    /// Remembers a run's parked deletes for its integration (a record parked again keeps its latest run).
    func rememberParkedDeletes(
        _ records: [(entity: String, sourcedID: String)], integrationID: String, runID: String, actor: String, now: Double
    ) throws

    /// The integration's parked deletes as `entity|sourcedId` keys.
    func parkedDeleteKeys(integrationID: String) throws -> Set<String>

    /// The integration's parked deletes, optionally of one entity, by entity and sourcedId.
    func parkedDeletes(integrationID: String, entity: String?) throws -> [ParkedDeleteRecord]

    /// Forgets parked deletes given as `entity|sourcedId` keys.
    func forgetParkedDeletes(integrationID: String, keys: [String]) throws

    /// Forgets every parked delete of an integration (or of one entity of it); returns how many.
    @discardableResult
    func forgetParkedDeletes(integrationID: String, entity: String?) throws -> Int

    /// The titles (a user's name, a class's or course's title) of records of one entity, by sourcedId: as the
    /// integration holds them, else as the run adds or updates them, else as the run deleted them (a run applied since:
    /// the record is gone, its change keeps the title). Ids found in none are left out.
    func rosterTitles(integrationID: String, runID: String, entity: String, sourcedIDs: Set<String>) throws -> [String: String]

    /// Every record held for an integration.
    func rosterRecords(integrationID: String) throws -> [RosterRecord]

    /// How many records of each entity the integration holds.
    func rosterCounts(integrationID: String) throws -> [String: Int]

    /// The held digests of one entity in sourcedId order (bytewise), read one at a time: merged with a bundle file
    /// that lists its rows in the same order, no index of millions of digests is built. Valid in this transaction.
    func rosterDigestCursor(integrationID: String, entity: String) throws -> any RosterDigestCursor

    /// Whether the integration holds a record.
    func holdsRosterRecord(integrationID: String, entity: String, sourcedID: String) throws -> Bool

    /// Held records of one entity; all of them, or those with the given sourcedIds.
    func rosterRecords(integrationID: String, entity: String, sourcedIDs: [String]?) throws -> [RosterRecord]

    /// Held records with the given sourcedIds, in the order asked (those not held left out), each as the change that
    /// deletes it, without its field digests (a delete never uses them): what a sync's plan asks for the records a
    /// bulk file omits (a rollover's millions).
    func heldDeletes(integrationID: String, entity: String, sourcedIDs: [String]) throws -> [RosterChange]

    /// Applies changes to the held roster and records each in the history, as part of `runID`.
    ///
    /// An add is recorded by the held record itself (its `run_id`, with `add_logged = 0`): no history row is written
    /// for it until the record is updated or deleted, when its add row is written out first. `rosterHistory` shows
    /// both. The sync run `runID` must be in `sync_runs` with `finished_at` = `now` (the add's time). The integration's
    /// roster version moves on (see ``rosterVersion(integrationID:)``). `checkpoint` is called every few thousand
    /// changes; what it throws ends the apply (the caller's transaction then rolls back).
    func applyRosterChanges(
        _ changes: [RosterChange], integrationID: String, runID: String, checkpoint: (() throws -> Void)?, now: Double
    ) throws

    /// Applies groups of changes (a sync's, one group per entity), in order, with the same result as
    /// ``applyRosterChanges(_:integrationID:runID:checkpoint:now:)`` called once per group. Given all at once, a store
    /// can load a district's first roster as one (PostgreSQL: into the integration's new partition, indexed after).
    func applyRosterChanges(
        groups: [[RosterChange]], integrationID: String, runID: String, checkpoint: (() throws -> Void)?, now: Double
    ) throws

    /// As ``applyRosterChanges(groups:integrationID:runID:checkpoint:now:)``, where `stage` may hold adds of these
    /// groups written ahead (see ``RosterAddStage``): a store that staged them moves them into the roster from there
    /// when the stage holds exactly the adds of whole groups, and applies everything as given otherwise.
    func applyRosterChanges(
        groups: [[RosterChange]], integrationID: String, runID: String, stage: (any RosterAddStage)?,
        checkpoint: (() throws -> Void)?, now: Double
    ) throws

    /// As ``applyRosterChanges(groups:integrationID:runID:stage:checkpoint:now:)``, for groups that may hold encoded
    /// segments (``ChangeGroup``): a store may apply those a block at a time instead of decoding them all first.
    func applyRosterChanges(
        changeGroups: [ChangeGroup], integrationID: String, runID: String, stage: (any RosterAddStage)?,
        checkpoint: (() throws -> Void)?, now: Double
    ) throws

    /// A record's story in one integration (or, with nil, in every integration), oldest first: the history rows, and
    /// the add of a held record that has not changed since (kept in the record itself; see `applyRosterChanges`).
    /// SourcedIds are unique only inside a district: callers showing one record pass its integration.
    /// - Parameter entities: the entity names records are held under.
    func rosterHistory(sourcedID: String, integrationID: String?, entities: [String]) throws -> [RosterHistoryEntry]

    /// The integrations that hold, held or merged a record with this sourcedId (in `roster_records`,
    /// `roster_history` or `roster_aliases`), in integration id order.
    /// - Parameter entities: the entity names records are held under.
    func integrationsKnowing(sourcedID: String, entities: [String]) throws -> [String]

    /// The version of the integration's held roster: it changes with every transaction that changes the roster.
    func rosterVersion(integrationID: String) throws -> Int

    /// Marks the integration's held roster as changed (call once in each transaction that changes it).
    func bumpRosterVersion(integrationID: String) throws
}

extension RosterStore {
    /// The groups decoded, then applied as changes.
    public func applyRosterChanges(
        changeGroups: [ChangeGroup], integrationID: String, runID: String, stage: (any RosterAddStage)?,
        checkpoint: (() throws -> Void)?, now: Double
    ) throws {
        try applyRosterChanges(groups: changeGroups.map(\.changes), integrationID: integrationID, runID: runID, stage: stage,
                               checkpoint: checkpoint, now: now)
    }

    /// One ``applyRosterChanges(_:integrationID:runID:checkpoint:now:)`` per group, in order.
    public func applyRosterChanges(
        groups: [[RosterChange]], integrationID: String, runID: String, checkpoint: (() throws -> Void)?, now: Double
    ) throws {
        for group in groups {
            try applyRosterChanges(group, integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
        }
    }

    /// Stores that do not stage apply every change as given.
    public func applyRosterChanges(
        groups: [[RosterChange]], integrationID: String, runID: String, stage: (any RosterAddStage)?,
        checkpoint: (() throws -> Void)?, now: Double
    ) throws {
        try applyRosterChanges(groups: groups, integrationID: integrationID, runID: runID, checkpoint: checkpoint, now: now)
    }
}

/// Sync runs, their stored change sets and proposed merges, and the per-integration sync lock.
public protocol SyncRunStore {
    /// Keeps the merges a held run proposes, so that its approval can apply them.
    func storeProposedMerges(_ merges: [SourcedIDMerge], runID: String) throws

    /// The merges a run proposed, users first, in old sourcedId order.
    func proposedMerges(runID: String) throws -> [SourcedIDMerge]

    /// Records how a run's proposed merges were decided (`merged`, `declined` or `dropped`).
    func decideProposedMerges(runID: String, status: String) throws

    /// Takes the deletes of merged records out of a parked set: they are half of a merge, not a removal.
    func unparkDeletes(runID: String, entity: String, sourcedIDs: [String]) throws

    /// Replaces a run's counts (JSON), e.g. once its approval parked its deletes.
    func updateSyncRunCounts(id: String, counts: String) throws

    /// How many stored changes of a run match the filters (nil: any entity, any operation).
    func syncChangeCount(runID: String, entity: String?, operation: String?) throws -> Int

    /// One page of a run's stored changes, in apply order, that match the filters (nil: any entity, any operation).
    func syncChanges(runID: String, entity: String?, operation: String?, limit: Int, offset: Int) throws -> [StoredChange]

    /// Whether a change set is stored for the run (held and dry-run runs keep theirs).
    func hasChangeSet(runID: String) throws -> Bool

    /// The id of the integration's held sync run (the newest, if ever several), or nil.
    func heldSyncRunID(integrationID: String) throws -> String?

    /// Keeps a held (or dry-run) change set so that it can be reviewed and approved later, with each record's field
    /// digests and, for updates, which fields they change (a bit mask over the entity's fields; NULL when unknown).
    func storeChangeSet<Changes: Sequence>(_ changes: Changes, runID: String) throws where Changes.Element == RosterChange

    /// Keeps a change set given as the planner's groups (applied in order, each in order), as
    /// ``storeChangeSet(_:runID:)`` does; a store may work on several groups at once, and keep encoded segments
    /// (``EncodedChanges``) as they are.
    func storeChangeSet(groups: [ChangeGroup], runID: String) throws

    /// The change set stored for a held run.
    func changeSet(runID: String) throws -> [RosterChange]

    /// The change set stored for a held run, in apply order, as groups; a store that keeps it encoded hands its
    /// blocks over as they are (``EncodedChanges``: checked, not decoded), so that applying it decodes a block at a time.
    func changeSetGroups(runID: String) throws -> [ChangeGroup]

    /// Marks the deletes of a change set as parked (kept, not applied).
    func parkDeletes(runID: String) throws

    /// Drops a held change set.
    func dropChangeSet(runID: String) throws

    /// Stores a new sync run as given; its id must not be in use.
    func insertSyncRun(_ run: SyncRunRecord) throws

    /// Records a run's decision, its reasons (JSON array) and when it was decided; an unknown id changes nothing.
    func updateSyncRun(id: String, decision: SyncDecision, reasons: String, finishedAt: Double) throws

    /// Records a run's decision and when it was made (`finishedAt`); an unknown id changes nothing.
    func updateSyncRunDecision(id: String, decision: SyncDecision, finishedAt: Double) throws

    /// The sync run with that id, or nil when there is none.
    func syncRun(id: String) throws -> SyncRunRecord?

    /// Sync runs, newest first, optionally of one integration.
    func syncRuns(integrationID: String?) throws -> [SyncRunRecord]

    /// The last run whose changes were applied to the integration's roster.
    func lastAppliedRun(integrationID: String) throws -> String?

    /// Takes the integration's sync lock for `owner` until `leaseUntil`, unless someone else holds a lock whose lease
    /// has not run out at `now`: then nothing changes and that lock is returned. An expired lock is taken over.
    func acquireSyncLock(
        integrationID: String, owner: String, purpose: String, now: Double, leaseUntil: Double
    ) throws -> SyncLockRecord?

    /// Extends `owner`'s lease; false when `owner` no longer holds the lock (it expired and was taken over).
    func renewSyncLock(integrationID: String, owner: String, leaseUntil: Double) throws -> Bool

    /// Whether `owner` holds the integration's lock (whatever its lease says: a holder checks before it commits).
    func holdsSyncLock(integrationID: String, owner: String) throws -> Bool

    /// Releases `owner`'s lock; a lock someone else took over is left alone.
    func releaseSyncLock(integrationID: String, owner: String) throws

    /// The integration's sync lock, expired or not; nil when nobody holds it.
    func syncLock(integrationID: String) throws -> SyncLockRecord?

    /// Runs of the integration started after `runID` that read a newer export and were applied or found unchanged:
    /// a held run older than any of them is stale, whatever the roster version says.
    func acceptedRuns(integrationID: String, after runID: String) throws -> [String]

    /// The integration's held runs (waiting for approve or reject), oldest first.
    func heldSyncRuns(integrationID: String) throws -> [SyncRunRecord]
}

/// When each integration syncs and from where, and its sync policy.
public protocol ScheduleStore {
    /// Sets the folder or .zip an integration's nightly sync reads.
    func setSyncSource(integrationID: String, source: String) throws

    /// The integration's sync policy as stored (JSON), or nil for the defaults.
    func syncPolicyJSON(integrationID: String) throws -> String?

    /// Stores an integration's sync policy as JSON, as ``syncPolicyJSON(integrationID:)`` reads it back; an unknown id
    /// changes nothing.
    func setSyncPolicyJSON(integrationID: String, json: String) throws

    /// The folder or .zip an integration's nightly sync reads; nil when none is set or there is no such integration.
    func syncSource(integrationID: String) throws -> String?

    /// Integrations whose next sync instant is at or before `now`, earliest first.
    func dueSyncs(now: Double) throws -> [DueSync]

    /// Moves an integration's schedule on after a due sync was handled (run, failed or missed).
    func advanceSchedule(integrationID: String, nextSyncAt: Double, lastRun: String?) throws

    /// Sets an integration's daily sync time, its time zone and the next sync instant; an unknown id changes nothing.
    func updateSchedule(integrationID: String, syncTime: String, timezone: String, nextSyncAt: Double) throws
}

/// The vendor's catalog of courses that school courses are mapped to.
public protocol CatalogStore {
    /// Inserts or replaces a catalog course by base id; returns true when it was new.
    @discardableResult
    func upsertCatalogCourse(_ course: CatalogCourseRecord) throws -> Bool

    /// The catalog course with this base id, or nil.
    func catalogCourse(baseID: String) throws -> CatalogCourseRecord?

    /// Every catalog course (retired ones too when `includeRetired`), by title then version.
    func catalogCourses(includeRetired: Bool) throws -> [CatalogCourseRecord]

    /// The school courses of one integration mapped to `baseID`.
    func courses(integrationID: String, mappedTo baseID: String) throws -> [CourseRecord]

    /// How many school courses of any integration are mapped to `baseID`, and how many of those are locked.
    func mappingCounts(baseID: String) throws -> (mapped: Int, locked: Int)
}

/// Which daily digests have been sent: one per integration, kind and local date.
public protocol DigestStore {
    /// Records that the `kind` digest of an integration for `localDate` (YYYY-MM-DD in the recipient's zone) was
    /// written; returns false, changing nothing, when it already was (so two workers never send it twice).
    func recordDigest(integrationID: String, kind: String, localDate: String, at: Double) throws -> Bool
}

/// People's accounts, their API tokens (stored only as hashes) and the API's idempotency keys.
public protocol AccessStore {
    /// Adds an account; the caller checks first that its e-mail is free.
    func insertAccount(_ record: AccountRecord) throws

    /// The account with this id, or nil.
    func account(id: String) throws -> AccountRecord?

    /// The account with this e-mail (compared without case), or nil.
    func account(email: String) throws -> AccountRecord?

    /// Every account, oldest first.
    func accounts() throws -> [AccountRecord]

    /// Sets an account's status (`active` or `disabled`) and when it was disabled.
    func setAccountStatus(id: String, status: String, disabledAt: Double?) throws

    /// Stores a token's hash.
    func insertToken(_ record: APITokenRecord) throws

    /// The token whose hash this is, or nil.
    func token(hash: String) throws -> APITokenRecord?

    /// The token with this id, or nil.
    func token(id: String) throws -> APITokenRecord?

    /// The tokens of one account, or (nil) of all, oldest first.
    func tokens(accountID: String?) throws -> [APITokenRecord]

    /// Marks a token revoked (a token revoked already keeps its first time).
    func revokeToken(id: String, at: Double) throws

    /// Claims `record.key` for its account: returns nil when the key was free (it is now held, with no answer yet), or
    /// the record already stored under it. A claim with no answer made before `abandonedBefore` (its request died before
    /// answering) is taken over.
    func claimIdempotencyKey(_ record: IdempotencyRecord, abandonedBefore: Double) throws -> IdempotencyRecord?

    /// Stores the answer given under a claimed key.
    func completeIdempotencyKey(accountID: String, key: String, status: Int, contentType: String?, body: Data) throws

    /// Frees a claimed key (its request failed in a way worth trying again).
    func releaseIdempotencyKey(accountID: String, key: String) throws
}

/// Summer pauses: until when an integration's nightly syncs are skipped, and why.
public protocol PauseStore {
    /// Records (or replaces) an integration's pause.
    func setPause(_ pause: PauseRecord) throws

    /// The integration's pause, if it is paused.
    func pause(integrationID: String) throws -> PauseRecord?

    /// Ends an integration's pause (on resume).
    func clearPause(integrationID: String) throws
}

/// Course-map carry-forward proposals of a school-year rollover, stored with their sync run.
public protocol CarryForwardStore {
    /// Keeps a held run's carry-forward proposals.
    func storeCarryForwards(_ proposals: [CarryForwardRecord], runID: String) throws

    /// A run's carry-forward proposals, by new course sourcedId.
    func carryForwards(runID: String) throws -> [CarryForwardRecord]
}
