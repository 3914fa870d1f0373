import Foundation
import StorageCore

/// One change of a sync run as `sync show RUN --changes` lists it: what happens to which record, the record's
/// identifying fields (names, titles, the user and class of an enrollment), and for an update which fields change.
public struct SyncChangeItem: Sendable, Codable, Equatable {
    /// `add`, `update`, `delete`, or `merge` (a proposed merge of a re-keyed record).
    public var op: String
    /// The `RosterEntity` raw value.
    public var entity: String
    public var sourcedId: String
    /// A user's name; a class's, course's or academic session's title; an org's name.
    public var name: String?
    public var username: String?
    public var email: String?
    public var identifier: String?
    /// An org's or academic session's type.
    public var type: String?
    /// An enrollment's role.
    public var role: String?
    /// An org's or academic session's parent.
    public var parentId: String?
    /// A course's org.
    public var orgId: String?
    /// A class's school.
    public var schoolId: String?
    public var courseId: String?
    public var courseTitle: String?
    public var classId: String?
    public var classTitle: String?
    public var userId: String?
    public var userName: String?
    /// For an update: the fields it changes (OneRoster column names); nil when not known (see `changedFieldsNote`).
    public var changedFields: [String]?
    /// For an update whose changed fields are not known: why.
    public var changedFieldsNote: String?
    /// A delete kept back by `sync approve --without-deletes`: not applied.
    public var parked: Bool = false
    /// For a merge: the new sourcedId the old one would become (or became) an alias of, and the new record's name.
    public var mergeInto: String?
    public var mergeIntoName: String?
    /// For a merge: what the two records share (`username`, `e-mail`, `identifier`, `class and role`) and its value.
    public var matchedOn: String?
    public var matchedValue: String?
    /// For a merge: `proposed`, `merged`, `declined` or `dropped`.
    public var mergeStatus: String?

    /// An item with its operation, entity and sourcedId; the identifying fields are filled in by the review.
    public init(op: String, entity: String, sourcedId: String) {
        self.op = op
        self.entity = entity
        self.sourcedId = sourcedId
    }
}

/// One page of what a sync run would do (held, dry run) or did (approved), as `sync show RUN --changes` lists it.
public struct SyncChangePage: Sendable, Codable {
    public var runId: String
    public var integrationId: String
    /// The run's decision (`held`, `dry-run`, `approved`, …).
    public var decision: String
    /// The filters: nil for every entity, every kind of change (adds, updates and deletes; merges are asked for alone).
    public var entity: String?
    public var op: String?
    /// How many changes match the filters, in all pages.
    public var total: Int
    public var offset: Int
    public var limit: Int
    public var items: [SyncChangeItem]
    /// The offset of the next page; nil on the last.
    public var nextOffset: Int?
    /// The command that shows the next page (set by the CLI, which knows the output format); nil on the last.
    public var next: String?
    /// What the listing cannot show, e.g. a run applied without review keeps no change set.
    public var note: String?
}

extension RosterFlowService {
    /// Changes shown per page by default.
    public static let defaultChangePageSize = 50
    /// The largest page.
    public static let maxChangePageSize = 10_000
    static let reviewOperations = ["add", "update", "delete", "merge"]

    /// One page of a sync run's changes in apply order, each with its record's identifying fields and, for an update,
    /// the fields it changes: what a held or dry-run run would do, or what an approved or rejected run did or would
    /// have done. `operation` `merge` lists the run's proposed merges of re-keyed records instead.
    ///
    /// - Parameters:
    ///   - entity: only this entity (a `RosterEntity` raw value, any case); nil for all.
    ///   - operation: `add`, `update`, `delete` or `merge`; nil for adds, updates and deletes.
    /// - Throws: ``RosterFlowError/Code/notFound`` for an unknown run, ``RosterFlowError/Code/invalidInput`` for an unknown
    ///   entity or operation or a page out of range.
    public func syncChanges(
        runID: String, entity: String? = nil, operation: String? = nil, limit: Int = RosterFlowService.defaultChangePageSize,
        offset: Int = 0
    ) throws -> SyncChangePage {
        let entity = try entity.map(Self.reviewEntity)
        if let operation, !Self.reviewOperations.contains(operation) {
            throw RosterFlowError(
                .invalidInput, "--op is one of \(Self.reviewOperations.joined(separator: ", ")), not '\(operation)'")
        }
        guard (1...Self.maxChangePageSize).contains(limit) else {
            throw RosterFlowError(.invalidInput, "--limit is from 1 to \(Self.maxChangePageSize), not \(limit)")
        }
        guard offset >= 0 else { throw RosterFlowError(.invalidInput, "--offset is 0 or more, not \(offset)") }
        return try read { tx in
            guard let run = try tx.syncRun(id: runID) else {
                throw RosterFlowError(.notFound, "there is no sync run \(runID); `rosterflow sync list` shows them")
            }
            var page = SyncChangePage(
                runId: run.id, integrationId: run.integrationID, decision: run.decision.rawValue, entity: entity?.rawValue, op: operation,
                total: 0, offset: offset, limit: limit, items: [])
            if operation == "merge" {
                let merges = try tx.proposedMerges(runID: runID).filter { entity == nil || $0.entity == entity?.rawValue }
                page.total = merges.count
                let shown = merges.dropFirst(offset).prefix(limit)
                page.items = try Self.mergeItems(Array(shown), tx: tx, run: run)
                if merges.isEmpty { page.note = "run \(runID) proposes no merges" }
            } else {
                page.total = try tx.syncChangeCount(runID: runID, entity: entity?.rawValue, operation: operation)
                let changes = try tx.syncChanges(
                    runID: runID, entity: entity?.rawValue, operation: operation, limit: limit, offset: offset)
                page.items = try Self.changeItems(changes.map(\.change), tx: tx, run: run)
                if page.total == 0, !(try tx.hasChangeSet(runID: runID)) { page.note = Self.missingChangeSetNote(run) }
                let merges = try tx.proposedMerges(runID: runID).count
                if merges > 0, page.note == nil {
                    page.note = "run \(runID) also proposes \(merges) merge\(merges == 1 ? "" : "s") of re-keyed records: "
                        + "`rosterflow sync show \(runID) --changes --op merge`"
                }
            }
            if offset + page.items.count < page.total { page.nextOffset = offset + page.items.count }
            return page
        }
    }

    /// The entity named by a `--entity` value, in any case.
    static func reviewEntity(_ name: String) throws -> RosterEntity {
        guard let entity = RosterEntity.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
            throw RosterFlowError(
                .invalidInput, "--entity is one of \(RosterEntity.allCases.map(\.rawValue).joined(separator: ", ")), not '\(name)'")
        }
        return entity
    }

    /// Why a run lists no changes at all.
    static func missingChangeSetNote(_ run: SyncRunRecord) -> String? {
        switch run.decision {
        case .applied:
            return "run \(run.id) was applied when it ran (nothing was held), so no change set was kept; "
                + "`rosterflow roster history SOURCEDID` shows each record's changes with their run"
        case .unchanged:
            return "run \(run.id) changed nothing"
        case .rejected:
            return "run \(run.id) was rejected: the bundle could not be used, so nothing was planned or applied"
        default:
            let counts = (try? JSONDecoder().decode([String: EntityCounts].self, from: Data(run.counts.utf8))) ?? [:]
            let changes = counts.values.map { $0.adds + $0.updates + $0.deletes }.reduce(0, +)
            return changes == 0 ? "run \(run.id) changes nothing"
                : "no change set is kept for run \(run.id) ('\(run.decision)'): it was planned before RosterFlow kept the "
                    + "change sets of dry runs and rejected runs"
        }
    }

    /// Why an update's changed fields are not known.
    static func changedFieldsNote(_ change: RosterChange) -> String? {
        guard change.operation == .update else { return nil }
        if change.record.entity == RosterEntity.demographics.rawValue {
            return "not kept: demographics are held as one fingerprint, never field by field"
        }
        guard let mask = change.changedFieldMask else {
            return "unknown: the record was held before field digests were kept (held before \(FieldDigests.migration))"
        }
        return mask == 0 ? "unknown: no single field's digest differs (a digest collision)" : nil
    }

    /// Items of stored changes, with the names and titles of the records they refer to.
    static func changeItems(_ changes: [RosterChange], tx: any StoreTransaction, run: SyncRunRecord) throws -> [SyncChangeItem] {
        var wanted: [RosterEntity: Set<String>] = [:]
        for change in changes {
            let r = change.record
            switch RosterEntity(rawValue: r.entity) {
            case .classes: if let course = r.ref1 { wanted[.courses, default: []].insert(course) }
            case .enrollments:
                if let classID = r.ref1 { wanted[.classes, default: []].insert(classID) }
                if let user = r.ref2 { wanted[.users, default: []].insert(user) }
            case .demographics: wanted[.users, default: []].insert(r.sourcedID)
            default: break
            }
        }
        var titles: [RosterEntity: [String: String]] = [:]
        for (entity, ids) in wanted {
            titles[entity] = try tx.rosterTitles(
                integrationID: run.integrationID, runID: run.id, entity: entity.rawValue, sourcedIDs: ids)
        }
        return changes.map { change in
            let r = change.record
            var item = SyncChangeItem(op: change.operation.rawValue, entity: r.entity, sourcedId: r.sourcedID)
            item.parked = change.parked
            switch RosterEntity(rawValue: r.entity) {
            case .orgs, .academicSessions:
                item.name = r.title; item.type = r.ref1; item.parentId = r.ref2
            case .courses:
                item.name = r.title; item.orgId = r.ref1
            case .classes:
                item.name = r.title; item.courseId = r.ref1; item.schoolId = r.ref2
                item.courseTitle = r.ref1.flatMap { titles[.courses]?[$0] }
            case .users:
                item.name = r.title; item.username = r.ref1; item.email = r.ref2; item.identifier = r.ref3
            case .enrollments:
                item.classId = r.ref1; item.userId = r.ref2; item.role = r.ref3
                item.classTitle = r.ref1.flatMap { titles[.classes]?[$0] }
                item.userName = r.ref2.flatMap { titles[.users]?[$0] }
            case .demographics:
                item.userId = r.sourcedID
                item.userName = titles[.users]?[r.sourcedID]
                item.name = item.userName
            case nil:
                item.name = r.title
            }
            if change.operation == .update {
                item.changedFields = change.changedFieldMask.flatMap { mask in
                    RosterEntity(rawValue: r.entity).map { FieldDigests.names($0, mask: mask) }
                }.flatMap { $0.isEmpty ? nil : $0 }
                item.changedFieldsNote = changedFieldsNote(change)
            }
            return item
        }
    }

    /// Items of proposed merges, with the old and the new record's names.
    static func mergeItems(_ merges: [SourcedIDMerge], tx: any StoreTransaction, run: SyncRunRecord) throws -> [SyncChangeItem] {
        var ids: [String: Set<String>] = [:]
        for merge in merges { ids[merge.entity, default: []].formUnion([merge.oldID, merge.newID]) }
        var titles: [String: [String: String]] = [:]
        for (entity, set) in ids {
            titles[entity] = try tx.rosterTitles(integrationID: run.integrationID, runID: run.id, entity: entity, sourcedIDs: set)
        }
        return merges.map { merge in
            var item = SyncChangeItem(op: "merge", entity: merge.entity, sourcedId: merge.oldID)
            item.name = titles[merge.entity]?[merge.oldID]
            item.mergeInto = merge.newID
            item.mergeIntoName = titles[merge.entity]?[merge.newID]
            item.matchedOn = merge.matchedOn
            item.matchedValue = merge.value
            item.mergeStatus = merge.status
            return item
        }
    }
}
