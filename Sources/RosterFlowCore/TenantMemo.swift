import Synchronization

/// Which tenant each integration belongs to, remembered once read.
///
/// An integration's tenant is set when it is requested and never changes, and integrations are never deleted, so a
/// remembered answer stays true; only integrations that exist are remembered. Bounded: when full it starts again.
final class TenantMemo: Sendable {
    private let tenants = Mutex<[String: String]>([:])
    private let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    subscript(integrationID: String) -> String? {
        get { tenants.withLock { $0[integrationID] } }
        set {
            tenants.withLock { tenants in
                if tenants.count >= capacity { tenants.removeAll(keepingCapacity: true) }
                tenants[integrationID] = newValue
            }
        }
    }
}
