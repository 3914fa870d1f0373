// The protocols' operations with their usual arguments left out (protocol requirements cannot have default values).

extension WorkflowStore {
    /// Every instance of `workflow`, in any state.
    public func instances(workflow: String) throws -> [InstanceRecord] {
        try instances(workflow: workflow, states: nil)
    }
}

extension TimerStore {
    /// Up to 500 timers due at `now`.
    public func dueTimers(now: Double) throws -> [TimerRecord] {
        try dueTimers(now: now, limit: 500)
    }
}

extension OutboxStore {
    /// Every outbox message, oldest first.
    public func outbox() throws -> [OutboxRecord] {
        try outbox(instanceID: nil)
    }

    /// Up to 200 outbox messages, newest first: all, or those with `status`.
    public func outboxMessages(status: OutboxStatus? = nil) throws -> [OutboxRecord] {
        try outboxMessages(status: status, limit: 200)
    }

    /// Deliveries with `status` (all when nil), oldest first, up to 100,000.
    public func deliveries(status: DeliveryRecord.Status?) throws -> [DeliveryRecord] {
        try deliveries(status: status, limit: 100_000)
    }

    /// Retries every failed, dead or skipped delivery of message `id`.
    public func retryOutbox(id: String, now: Double) throws -> Int {
        try retryOutbox(id: id, deliveryID: nil, now: now)
    }
}

extension AuditStore {
    /// The audit log, oldest first (the newest 10,000 entries): all, or one integration's.
    public func auditRecords(integrationID: String? = nil) throws -> [AuditRecord] {
        try auditRecords(integrationID: integrationID, limit: 10_000)
    }
}

extension RosterStore {
    /// Aliases involving `sourcedID` in any integration.
    public func aliases(involving sourcedID: String) throws -> [RosterAlias] {
        try aliases(involving: sourcedID, integrationID: nil)
    }

    /// Every parked delete of an integration.
    public func parkedDeletes(integrationID: String) throws -> [ParkedDeleteRecord] {
        try parkedDeletes(integrationID: integrationID, entity: nil)
    }

    /// Every held record of one entity.
    public func rosterRecords(integrationID: String, entity: String) throws -> [RosterRecord] {
        try rosterRecords(integrationID: integrationID, entity: entity, sourcedIDs: nil)
    }

    /// Held records with the given sourcedIds as deletes: ``rosterRecords(integrationID:entity:sourcedIDs:)``, each
    /// made into a change without its field digests (a store that reads records one at a time makes the changes as it
    /// reads instead).
    public func heldDeletes(integrationID: String, entity: String, sourcedIDs: [String]) throws -> [RosterChange] {
        try rosterRecords(integrationID: integrationID, entity: entity, sourcedIDs: sourcedIDs).map(RosterChange.deleting)
    }

    /// A sourcedId's roster history across every integration.
    public func rosterHistory(sourcedID: String, entities: [String]) throws -> [RosterHistoryEntry] {
        try rosterHistory(sourcedID: sourcedID, integrationID: nil, entities: entities)
    }
}

extension SyncRunStore {
    /// Every sync run of every integration.
    public func syncRuns() throws -> [SyncRunRecord] {
        try syncRuns(integrationID: nil)
    }

    /// The change set as one group of changes.
    public func changeSetGroups(runID: String) throws -> [ChangeGroup] {
        [ChangeGroup(try changeSet(runID: runID))]
    }

    /// The groups joined (encoded segments decoded), stored as one sequence.
    public func storeChangeSet(groups: [ChangeGroup], runID: String) throws {
        try storeChangeSet(groups.lazy.flatMap(\.changes), runID: runID)
    }

    /// Keeps a change set given as groups of changes (see ``storeChangeSet(groups:runID:)``).
    public func storeChangeSet(groups: [[RosterChange]], runID: String) throws {
        try storeChangeSet(groups: groups.map(ChangeGroup.init), runID: runID)
    }
}
