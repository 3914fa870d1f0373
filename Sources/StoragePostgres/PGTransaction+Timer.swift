import Foundation
import StorageCore

extension PGTransaction {
    func cancelTimers(instanceID: String) throws {
        throw PGTransaction.unported("TimerStore.cancelTimers")
    }

    func armTimer(instanceID: String, event: String, dueAt: Double, armedAt: Double, inState state: String) throws {
        throw PGTransaction.unported("TimerStore.armTimer")
    }

    func dueTimers(now: Double, limit: Int) throws -> [TimerRecord] {
        throw PGTransaction.unported("TimerStore.dueTimers")
    }

    func timers(instanceID: String) throws -> [TimerRecord] {
        throw PGTransaction.unported("TimerStore.timers")
    }

    @discardableResult
    func deleteTimer(id: Int64) throws -> Bool {
        throw PGTransaction.unported("TimerStore.deleteTimer")
    }
}
