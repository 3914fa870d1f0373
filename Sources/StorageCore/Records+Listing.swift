import Foundation

/// One row of an integrations list: the integration, its workflow instance, and what a list shows beside them,
/// read together so that a page costs one query, not several per integration.
public struct IntegrationListing: Sendable, Equatable {
    public var integration: IntegrationRecord
    public var instance: InstanceRecord
    /// Course shells of the integration (every state).
    public var courseCount: Int
    /// The provisioning mode set for the integration; nil when never set (pre-provisioned).
    public var provisioningMode: ProvisioningMode?
    /// The integration's pause, when one is stored.
    public var pause: PauseRecord?

    public init(
        integration: IntegrationRecord, instance: InstanceRecord, courseCount: Int, provisioningMode: ProvisioningMode?,
        pause: PauseRecord?
    ) {
        self.integration = integration
        self.instance = instance
        self.courseCount = courseCount
        self.provisioningMode = provisioningMode
        self.pause = pause
    }
}
