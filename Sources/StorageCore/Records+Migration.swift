/// How many instances of a workflow run one definition version.
public struct InstanceVersionCount: Sendable, Codable, Equatable {
    public var workflow: String
    public var version: Int
    public var instances: Int

    /// A count of `instances` of `workflow` running `version`.
    public init(workflow: String, version: Int, instances: Int) {
        self.workflow = workflow
        self.version = version
        self.instances = instances
    }
}
