import WorkflowEngine

extension RosterFlowService {
    /// A workflow definition this database knows: `version`, or (nil) the newest.
    ///
    /// - Throws: ``RosterFlowError/Code/notFound`` naming the workflows or versions there are.
    public func workflowDefinition(name: String, version: Int? = nil) throws -> WorkflowDefinition {
        guard let versions = runtime.definitions[name], let newest = runtime.current[name] else {
            throw RosterFlowError(
                .notFound, "there is no workflow '\(name)'; there are \(runtime.definitions.keys.sorted().joined(separator: ", "))")
        }
        guard let version else { return newest }
        guard let definition = versions[version] else {
            throw RosterFlowError(
                .notFound, "workflow \(name) has no version \(version); this database holds versions "
                    + versions.keys.sorted().map(String.init).joined(separator: ", "))
        }
        return definition
    }
}
