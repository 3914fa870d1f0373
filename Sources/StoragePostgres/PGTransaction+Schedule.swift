import Foundation
import StorageCore

extension PGTransaction {
    func setSyncSource(integrationID: String, source: String) throws {
        throw PGTransaction.unported("ScheduleStore.setSyncSource")
    }

    func syncPolicyJSON(integrationID: String) throws -> String? {
        throw PGTransaction.unported("ScheduleStore.syncPolicyJSON")
    }

    func setSyncPolicyJSON(integrationID: String, json: String) throws {
        throw PGTransaction.unported("ScheduleStore.setSyncPolicyJSON")
    }

    func syncSource(integrationID: String) throws -> String? {
        throw PGTransaction.unported("ScheduleStore.syncSource")
    }

    func dueSyncs(now: Double) throws -> [DueSync] {
        throw PGTransaction.unported("ScheduleStore.dueSyncs")
    }

    func advanceSchedule(integrationID: String, nextSyncAt: Double, lastRun: String?) throws {
        throw PGTransaction.unported("ScheduleStore.advanceSchedule")
    }

    func updateSchedule(integrationID: String, syncTime: String, timezone: String, nextSyncAt: Double) throws {
        throw PGTransaction.unported("ScheduleStore.updateSchedule")
    }
}
