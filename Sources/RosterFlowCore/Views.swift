import Foundation
import StorageCore
import WorkflowEngine

/// One history row, for people and for `--json`.
public struct HistoryEntry: Sendable, Codable, Equatable {
    public var from: String?
    public var to: String
    public var event: String
    public var actor: String
    public var role: String
    /// ISO 8601, UTC.
    public var at: String
    public var reason: String?
}

/// An event allowed in the instance's current state and the roles that may send it.
public struct AllowedEvent: Sendable, Codable, Equatable {
    public var event: String
    public var roles: [String]
}

/// An integration as shown by `integrations show` and `list`.
public struct IntegrationView: Sendable, Codable, Equatable {
    public var id: String
    public var state: String
    public var tenantID: String
    public var district: String
    public var permission: String
    public var contactEmail: String
    public var syncTime: String?
    public var timezone: String?
    /// ISO 8601, UTC.
    public var nextSyncAt: String?
    public var workflowVersion: Int
    public var rowVersion: Int
    public var courseCount: Int
    public var allowedEvents: [AllowedEvent]
    public var history: [HistoryEntry]
    /// The request beside its customer registry record, while it is not authenticated (in `integrations show`).
    public var registryCheck: RegistryComparison? = nil
    /// Things stored as given that deserve a look (a NUL byte in the district name); set by the request only.
    public var warnings: [String]? = nil
    /// While paused (`integrations pause`): the day syncs resume (`YYYY-MM-DD`) and why.
    public var pausedUntil: String? = nil
    public var pauseReason: String? = nil
    /// How the platform is provisioned: `pre-provisioned` (course shells) or `on-demand` (teachers import classes).
    public var provisioningMode: String? = nil
    /// When the integration entered its current state (ISO 8601, UTC): its age in that state, also in lists.
    public var enteredStateAt: String? = nil
}

/// A course shell and its mapping, as shown by `courses show`.
public struct CourseView: Sendable, Codable, Equatable {
    public var id: String
    public var state: String
    public var integrationID: String
    public var sourcedID: String
    public var title: String
    public var catalogTitle: String?
    public var baseID: String?
    public var locked: Bool
    public var lockedAt: String?
    public var workflowVersion: Int
    public var rowVersion: Int
    public var allowedEvents: [AllowedEvent]
    public var history: [HistoryEntry]
}

/// Something that must happen next, and who owns it.
public struct TaskItem: Sendable, Codable, Equatable {
    public var instanceID: String
    /// `integration` or `course`.
    public var kind: String
    public var integrationID: String
    public var subject: String
    public var state: String
    /// The role that owns the next step.
    public var owner: String
    /// Human label of the owner: "vendor admin", "DSP", "school admin", "system".
    public var ownerLabel: String
    public var todo: String
    /// When the instance entered the state (ISO 8601, UTC): the task's age.
    public var waitingSince: String
    /// For a request held for review (`needs_review`): the request beside its customer registry record.
    public var registryCheck: RegistryComparison? = nil
    /// The sync run an on-hold integration waits on (its review and decision are part of the task), if any.
    public var syncRun: String? = nil
}

/// The outcome of importing the customer registry.
public struct CustomerImportResult: Sendable, Codable, Equatable {
    public var added: Int
    public var updated: Int
    /// Values imported as given that deserve a look (a NUL byte in a name), with file and line; nil when none.
    public var warnings: [String]? = nil
}

/// A timer that fired, or failed to.
public struct FiredTimer: Sendable, Codable, Equatable {
    public var instanceID: String
    public var event: String
    public var dueAt: String
    /// nil when the event was applied; otherwise why it was not (the timer is dropped either way).
    public var refusal: String?
}

enum Timestamp {
    /// `2026-11-24T03:28:02Z`
    static func iso(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds).ISO8601Format()
    }
}
