import Foundation
import StorageCore
import WorkflowEngine

extension RosterFlowService {
    /// The carry-forward a rollover proposes: each new course matched to one of last year's mapped courses (those the
    /// rollover ends, or, when the district's courses do not end, every mapped course the new year does not carry).
    static func carryForwardProposals(_ rollover: Rollover, tx: StoreTransaction, integrationID: String) throws -> [CarryForwardRecord] {
        guard !rollover.newCourses.isEmpty else { return [] }
        let mapped = try tx.courses(integrationID: integrationID).filter { $0.catalogTitle != nil && $0.baseID != nil }
        let ending = Dictionary(rollover.endingCourses.map { ($0.sourcedID, $0) }, uniquingKeysWith: { a, _ in a })
        let newIDs = Set(rollover.newCourses.map(\.sourcedID))
        let candidates = ending.isEmpty ? mapped.filter { !newIDs.contains($0.sourcedID) } : mapped.filter { ending[$0.sourcedID] != nil }
        var held = ending
        let missing = candidates.map(\.sourcedID).filter { held[$0] == nil }
        if !missing.isEmpty {
            for record in try tx.rosterRecords(integrationID: integrationID, entity: RosterEntity.courses.rawValue, sourcedIDs: missing) {
                held[record.sourcedID] = record
            }
        }
        return Rollover.carryForward(newCourses: rollover.newCourses, mapped: candidates.map { ($0, held[$0.sourcedID]) })
    }

    /// The hold reason that sums up a rollover's carry-forward.
    static func carryForwardNote(_ proposals: [CarryForwardRecord], _ rollover: Rollover) -> String {
        let byHow = Dictionary(grouping: proposals, by: \.matchedOn).mapValues(\.count)
        let how = ["course code", "title", "grades and subject"].compactMap { key in byHow[key].map { "\($0) by \(key)" } }
        let total = rollover.newCourses.count, matched = proposals.count
        let evidence = how.isEmpty ? "" : " (" + how.joined(separator: ", ") + ")"
        let usual = " as usual (`sync show RUN` lists the matches)"
        let listed = "; `sync show RUN` lists the matches"
        switch (total, matched) {
        case (0, _):
            return "carry-forward: the rollover starts no new course, so there is nothing to carry forward"
        case (1, 0):
            return "carry-forward: the new course matches no mapped course of last year; it gets a shell and a DSP task as usual"
        case (_, 0):
            return "carry-forward: none of the \(total) new courses matches a mapped course of last year; they get shells and DSP "
                + "tasks as usual"
        case (1, _):
            return "carry-forward: the new course matches a mapped course of last year\(evidence)" + listed
        case _ where matched == total:
            return "carry-forward: all \(total) new courses match a mapped course of last year\(evidence)" + listed
        default:
            return "carry-forward: \(matched) of the \(total) new courses \(matched == 1 ? "matches" : "match") a mapped course of "
                + "last year\(evidence); "
                + (total - matched == 1 ? "the other one gets a shell and a DSP task" : "the other \(total - matched) get shells and DSP tasks")
                + usual
        }
    }

    /// The proposals of a run approved with `--carry-forward`; refuses a run that is not a school-year rollover.
    static func requireCarryForward(runID: String, tx: StoreTransaction) throws -> [CarryForwardRecord] {
        let proposals = try tx.carryForwards(runID: runID)
        guard let run = try tx.syncRun(id: runID), !proposals.isEmpty || reasons(of: run).contains(where: { $0.hasPrefix("school-year rollover") }) else {
            throw RosterFlowError(
                .invalidInput, "sync run \(runID) is not a school-year rollover, so there is nothing to carry forward; approve it without --carry-forward")
        }
        return proposals
    }

    /// Starts each matched new course in `mapped` with last year's catalog course and base id (a `map` event in its
    /// history, awaiting the school's verification; never `locked`). Runs after the changes are applied, in the same
    /// transaction, so the new courses' shells exist.
    static func carryForward(
        _ proposals: [CarryForwardRecord], integrationID: String, runID: String, tx: StoreTransaction, runtime: WorkflowRuntime,
        actor: String, now: Double
    ) throws -> [AppliedStep] {
        var steps: [AppliedStep] = []
        for p in proposals {
            guard let course = try tx.course(integrationID: integrationID, sourcedID: p.newSourcedID),
                  let instance = try tx.instance(id: course.id), course.catalogTitle == nil else { continue }
            steps.append(try runtime.apply(
                tx, instanceID: course.id, event: "map", sender: Sender(actor: actor, role: .dsp),
                reason: "carried forward by sync \(runID) from last year's \(p.oldTitle) (\(p.oldSourcedID)): \(p.evidence); "
                    + "mapped to \(p.catalogTitle) [\(p.baseID)]",
                payload: ["catalog": p.catalogTitle, "base_id": p.baseID], now: now, loaded: instance))
        }
        return steps
    }
}
