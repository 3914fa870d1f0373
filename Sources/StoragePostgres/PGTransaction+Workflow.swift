import Foundation
import StorageCore

extension PGTransaction {
    func recordDefinition(name: String, version: Int, source: String, checksum: String, file: String, now: Double) throws {
        throw PGTransaction.unported("WorkflowStore.recordDefinition")
    }

    func storedDefinitions() throws -> [(name: String, version: Int, source: String)] {
        throw PGTransaction.unported("WorkflowStore.storedDefinitions")
    }

    func insertInstance(_ instance: InstanceRecord) throws {
        throw PGTransaction.unported("WorkflowStore.insertInstance")
    }

    func instance(id: String) throws -> InstanceRecord? {
        throw PGTransaction.unported("WorkflowStore.instance")
    }

    func instances(workflow: String, states: [String]?) throws -> [InstanceRecord] {
        throw PGTransaction.unported("WorkflowStore.instances")
    }

    @discardableResult
    func updateInstance( id: String, expectedRowVersion: Int, state: String, previousState: String?, enteredAt: Double, now: Double ) throws -> Int {
        throw PGTransaction.unported("WorkflowStore.updateInstance")
    }

    @discardableResult
    func appendTransition( instanceID: String, from: String?, to: String, event: String, actor: String, role: String, at: Double, reason: String?, rowVersion: Int ) throws -> Int64 {
        throw PGTransaction.unported("WorkflowStore.appendTransition")
    }

    func transitions(instanceID: String) throws -> [TransitionRecord] {
        throw PGTransaction.unported("WorkflowStore.transitions")
    }
}
