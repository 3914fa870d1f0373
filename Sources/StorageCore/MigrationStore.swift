/// Moving running instances to another version of their workflow definition.
public protocol MigrationStore {
    /// Moves an instance to `toVersion` and `state` if it still runs `fromVersion` at `expectedRowVersion`; its
    /// entry time stays (time in the state keeps counting) and its row version goes up by one.
    ///
    /// - Returns: the new row version.
    /// - Throws: ``StorageError/Code/staleInstance`` when the stored row version or definition version differs;
    ///   nothing is changed then.
    @discardableResult
    func migrateInstance(
        id: String, expectedRowVersion: Int, fromVersion: Int, toVersion: Int, state: String, previousState: String?,
        now: Double
    ) throws -> Int

    /// How many instances run each version of each workflow, by workflow then version.
    func instanceVersionCounts() throws -> [InstanceVersionCount]
}
