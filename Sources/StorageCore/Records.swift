/// A persisted workflow instance: one per integration and one per course mapping.
public struct InstanceRecord: Sendable, Codable, Equatable {
    public var id: String
    public var workflow: String
    public var version: Int
    public var state: String
    public var previousState: String?
    /// What the instance is about, for people ("Springfield USD", "Algebra I (Springfield USD)").
    public var subjectTitle: String
    /// Incremented by every transition; a writer holding an older value is refused.
    public var rowVersion: Int
    public var createdAt: Double
    /// When the instance entered its current state (drives task age and timers).
    public var enteredAt: Double
    public var updatedAt: Double

    /// An instance with every field given; a new one starts at row version 1.
    public init(
        id: String, workflow: String, version: Int, state: String, previousState: String? = nil, subjectTitle: String,
        rowVersion: Int = 1, createdAt: Double, enteredAt: Double, updatedAt: Double
    ) {
        self.id = id
        self.workflow = workflow
        self.version = version
        self.state = state
        self.previousState = previousState
        self.subjectTitle = subjectTitle
        self.rowVersion = rowVersion
        self.createdAt = createdAt
        self.enteredAt = enteredAt
        self.updatedAt = updatedAt
    }
}

/// One row of the append-only transition history.
public struct TransitionRecord: Sendable, Codable, Equatable {
    public var seq: Int64
    public var instanceID: String
    /// nil for the row that records an instance's creation.
    public var from: String?
    public var to: String
    public var event: String
    public var actor: String
    public var role: String
    public var at: Double
    public var reason: String?
    /// The instance's row version after this transition.
    public var rowVersion: Int

    /// A record with every field given.
    public init(seq: Int64, instanceID: String, from: String?, to: String, event: String, actor: String, role: String, at: Double, reason: String?, rowVersion: Int) {
        self.seq = seq
        self.instanceID = instanceID
        self.from = from
        self.to = to
        self.event = event
        self.actor = actor
        self.role = role
        self.at = at
        self.reason = reason
        self.rowVersion = rowVersion
    }
}

/// A durable timer: at `dueAt` the system sends `event` to the instance.
public struct TimerRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var instanceID: String
    public var event: String
    public var dueAt: Double
    public var armedAt: Double
    public var armedInState: String

    /// A record with every field given.
    public init(id: Int64, instanceID: String, event: String, dueAt: Double, armedAt: Double, armedInState: String) {
        self.id = id
        self.instanceID = instanceID
        self.event = event
        self.dueAt = dueAt
        self.armedAt = armedAt
        self.armedInState = armedInState
    }
}

/// A message waiting to be sent (or sent), written in the same transaction as the transition that caused it.
public struct OutboxRecord: Sendable, Codable, Equatable {
    public var id: String
    public var instanceID: String
    public var transitionSeq: Int64?
    /// How it is delivered (today always ``OutboxChannel/email``; webhooks are deliveries of it).
    public var channel: OutboxChannel
    /// Who receives it, as named in the workflow (`vendor_admins`, `school_contact`, `dsp`) or resolved to an address.
    public var recipient: String
    public var template: String
    /// JSON object of the values the template may use.
    public var payload: String
    public var status: OutboxStatus
    public var attempts: Int
    public var nextAttemptAt: Double
    public var createdAt: Double
    public var lastError: String?

    /// A message with every field given; by default a new one: `pending`, not attempted yet.
    public init(
        id: String, instanceID: String, transitionSeq: Int64?, channel: OutboxChannel, recipient: String, template: String,
        payload: String, status: OutboxStatus = .pending, attempts: Int = 0, nextAttemptAt: Double, createdAt: Double,
        lastError: String? = nil
    ) {
        self.id = id
        self.instanceID = instanceID
        self.transitionSeq = transitionSeq
        self.channel = channel
        self.recipient = recipient
        self.template = template
        self.payload = payload
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
        self.lastError = lastError
    }
}

/// An existing customer of the vendor, from the imported registry.
public struct CustomerRecord: Sendable, Codable, Equatable {
    public var tenantID: String
    public var district: String
    public var contactEmail: String
    public var importedAt: Double

    /// A registry entry with every field given.
    public init(tenantID: String, district: String, contactEmail: String, importedAt: Double) {
        self.tenantID = tenantID
        self.district = district
        self.contactEmail = contactEmail
        self.importedAt = importedAt
    }
}

/// A district's integration (its workflow instance has the same id).
public struct IntegrationRecord: Sendable, Codable, Equatable {
    public var id: String
    public var tenantID: String
    public var district: String
    /// ClassLink permission type: `rule-based`, `full` or `legacy-custom`.
    public var permission: String
    public var contactEmail: String
    /// Preferred daily sync time, local `HH:MM`.
    public var syncTime: String?
    /// IANA time zone of `syncTime`.
    public var timezone: String?
    /// The next sync instant (UTC seconds since 1970).
    public var nextSyncAt: Double?
    public var createdAt: Double

    /// An integration with every field given; the sync time, its zone and the next sync instant stay nil until a sync
    /// time is set.
    public init(
        id: String, tenantID: String, district: String, permission: String, contactEmail: String,
        syncTime: String? = nil, timezone: String? = nil, nextSyncAt: Double? = nil, createdAt: Double
    ) {
        self.id = id
        self.tenantID = tenantID
        self.district = district
        self.permission = permission
        self.contactEmail = contactEmail
        self.syncTime = syncTime
        self.timezone = timezone
        self.nextSyncAt = nextSyncAt
        self.createdAt = createdAt
    }
}

/// A school course's shell and its mapping to a catalog course (its workflow instance has the same id).
public struct CourseRecord: Sendable, Codable, Equatable {
    public var id: String
    public var integrationID: String
    /// The course's OneRoster sourcedId at the school.
    public var sourcedID: String
    public var title: String
    public var catalogTitle: String?
    /// The vendor's base course id; fixed once a student starts.
    public var baseID: String?
    public var lockedAt: Double?
    public var createdAt: Double

    /// A course with every field given; the catalog mapping and the lock time stay nil until the course is mapped and
    /// locked.
    public init(
        id: String, integrationID: String, sourcedID: String, title: String, catalogTitle: String? = nil,
        baseID: String? = nil, lockedAt: Double? = nil, createdAt: Double
    ) {
        self.id = id
        self.integrationID = integrationID
        self.sourcedID = sourcedID
        self.title = title
        self.catalogTitle = catalogTitle
        self.baseID = baseID
        self.lockedAt = lockedAt
        self.createdAt = createdAt
    }
}
