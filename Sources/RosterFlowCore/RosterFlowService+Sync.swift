import Foundation
import OneRoster
import Storage
import WorkflowEngine

/// A sync run as shown by `rosterflow sync run|show|list`.
public struct SyncRunView: Sendable, Codable {
    public var id: String
    public var integrationID: String
    public var bundle: String
    /// `applied`, `unchanged`, `held`, `rejected`, `dry-run`, `approved`, `approved-without-deletes`, `dropped`.
    public var decision: String
    /// Why the run was held or rejected, in plain words.
    public var reasons: [String]
    public var counts: [String: EntityCounts]
    public var errorCount: Int
    public var warningCount: Int
    public var startedAt: String
    public var finishedAt: String?
    /// The validation report (in `sync run` and `sync show`; omitted from lists).
    public var report: ValidationReport?
    /// Lifecycle steps the sync caused (course shells, the integration moving, holds).
    public var lifecycle: [AppliedStep]
    /// Records the SIS probably re-keyed, proposed as merges (in `sync run` and `sync show`), with how each was decided.
    public var merges: [SourcedIDMerge] = []
}

extension RosterFlowService {
    /// Integration states in which a sync may run.
    static let statesAcceptingSyncs = ["scheduled", "shells_created", "content_mapped", "live"]

    /// Reads, validates and diffs a OneRoster bundle against the integration's roster, then applies it in one
    /// transaction, or holds it for review when a safeguard trips (the integration goes on hold), or records it as
    /// rejected when the bundle cannot be read. `dryRun` computes and records the run without changing anything.
    ///
    /// A bundle byte-for-byte identical (SHA-256) to the one the last applied run applied in full, under the same
    /// policy, with nothing held back since, cannot change anything: it is recorded as `unchanged` with that run's
    /// validation report, without reading it again. `revalidate` reads and checks it anyway.
    public func runSync(
        integrationID: String, bundlePath: String, dryRun: Bool = false, policy: SyncPolicy? = nil, revalidate: Bool = false,
        actor: String
    ) async throws -> SyncRunView {
        let policy = try policy ?? syncPolicy(integrationID: integrationID)
        try policy.validate()
        let policyJSON = Self.json(policy)
        var phase = SyncPhaseTrace()
        let (integration, instance, heldClassCourse, locked, basedOn) = try read { tx in
            guard let integration = try tx.integration(id: integrationID), let instance = try tx.instance(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID)")
            }
            return (integration, instance,
                    try tx.rosterRecords(integrationID: integrationID, entity: RosterEntity.classes.rawValue)
                        .reduce(into: [String: String]()) { $0[$1.sourcedID] = $1.ref1 },
                    try tx.lockedCourseSourcedIDs(integrationID: integrationID), try tx.lastAppliedRun(integrationID: integrationID))
        }
        guard Self.statesAcceptingSyncs.contains(instance.state) else {
            let held = instance.state == "on_hold"
                ? try read { try $0.syncRuns(integrationID: integrationID).first { $0.decision == "held" } } : nil
            throw RosterFlowError(
                .refused,
                "\(integration.district) (\(integrationID)) is '\(instance.state)'; "
                    + (held.map { "a sync is held for review: `rosterflow sync approve \($0.id)` or `sync reject \($0.id)` first" }
                        ?? "syncs run once the integration is scheduled"))
        }
        phase.mark("load held")
        let runID = Identifier.make(prefix: "run")
        let started = clock()
        // Unreadable here means unreadable for the reader too: it says why.
        let fingerprint = try? BundleFingerprint.sha256(atPath: bundlePath)
        phase.mark("fingerprint")
        let report: ValidationReport
        let plan: SyncPlan
        var reasons: [String] = []
        var note: String?
        if !revalidate, let fingerprint,
           let prior = try reusableRun(integrationID: integrationID, basedOn: basedOn, fingerprint: fingerprint, policy: policy) {
            report = prior.report
            plan = SyncPlan(changeGroups: [], counts: prior.counts, holdReasons: [])
            note = "the bundle is byte-for-byte the one run \(prior.runID) applied (SHA-256 \(fingerprint.prefix(12))…): "
                + "nothing can change, so its validation report is reused (`sync run --revalidate` reads it again)"
            phase.mark("identical to \(prior.runID)")
        } else {
            let bundle: OneRosterBundle
            var diff: SyncDiff
            // Read and validated here while another thread diffs each valid record against the held digests, read in
            // step with the records (see HeldDigestMerge); only changes are kept, not the records.
            let store = self.store
            let pipeline = SyncDiffPipeline { next in
                try store.read { tx in
                    var diff = SyncDiff(heldCounts: try tx.rosterCounts(integrationID: integrationID))
                    let merge = HeldDigestMerge(tx: tx, integrationID: integrationID)
                    while let records = next() {
                        for record in records { try diff.observe(record, held: merge.held) }
                    }
                    try merge.finish(&diff)
                    return diff
                }
            }
            do {
                bundle = try read { tx in
                    // Records the bundle refers to without carrying them (delta and absent files): held before this sync?
                    let held = HeldSourcedIdsClosure { id, entity in
                        guard let entity = Self.rosterEntity(entity) else { return false }
                        return (try? tx.holdsRosterRecord(integrationID: integrationID, entity: entity.rawValue, sourcedID: id)) ?? false
                    }
                    return try OneRosterBundleReader(options: .init(retainRecords: false)).read(
                        at: URL(fileURLWithPath: bundlePath), held: held) { pipeline.put($0) }
                }
            } catch {
                _ = try? pipeline.finish()
                // Nothing readable: record the run as rejected, with why.
                let reason = "the bundle could not be read: \(error)"
                let run = SyncRunRecord(
                    id: runID, integrationID: integrationID, bundle: bundlePath, startedAt: started, finishedAt: clock(),
                    decision: "rejected", reasons: Self.json([reason]), counts: "{}", report: Self.json(ValidationReport()),
                    basedOnRun: basedOn, bundleSHA256: fingerprint, policy: policyJSON)
                let rules = self.runtime.rules
                try await write { tx, now in
                    try tx.insertSyncRun(run)
                    try Self.tellDistrict(rules, tx: tx, integrationID: integrationID, template: "sync-failed",
                                          reason: "sync \(runID): \(reason)", report: nil, now: now)
                }
                return try syncRun(id: runID)
            }
            diff = try pipeline.finish()
            phase.mark("read + validate + diff")
            if !bundle.manifest.isPresent {
                reasons.append("the bundle has no manifest.csv, so it cannot say which files are bulk or delta; add one")
            }
            report = bundle.report
            plan = try read { tx in
                try SyncPlanner(policy: policy).plan(
                    diff: &diff, bundle: bundle, heldClassCourse: heldClassCourse, lockedCourses: locked
                ) { entity, ids in
                    try tx.rosterRecords(integrationID: integrationID, entity: entity.rawValue, sourcedIDs: ids)
                }
            }
            diff = SyncDiff(heldDigests: [:])
            phase.mark("plan")
        }
        let decision: String
        if !reasons.isEmpty {
            decision = "rejected"
        } else if dryRun {
            decision = "dry-run"
            reasons = plan.holdReasons
        } else if !plan.holdReasons.isEmpty {
            decision = "held"
            reasons = plan.holdReasons
        } else {
            decision = plan.isEmpty ? "unchanged" : "applied"
        }
        if let note { reasons.append(note) }
        let run = SyncRunRecord(
            id: runID, integrationID: integrationID, bundle: bundlePath, startedAt: started, finishedAt: nil,
            decision: decision, reasons: Self.json(reasons), counts: Self.json(plan.counts), report: Self.json(report),
            basedOnRun: basedOn, bundleSHA256: fingerprint, policy: policyJSON)
        let runtime = self.runtime
        let firstSync = basedOn == nil
        let holdReasons = reasons
        let errorCount = report.errorCount
        let renderedReport = errorCount > 0 || decision == "rejected" ? report.rendered(maxPerFile: 20) : ""
        let lifecycle = try await write { tx, now in
            var finished = run
            finished.finishedAt = now
            try tx.insertSyncRun(finished)
            if decision == "held" || decision == "dry-run" { try tx.storeProposedMerges(plan.merges, runID: runID) }
            // Kept for review (`sync show RUN --changes`); a dry run's is never applied.
            if decision == "dry-run" { try tx.storeChangeSet(plan.changeGroups.joined(), runID: runID) }
            // The district's OneRoster admin hears of a rejected bundle, and of rows skipped for errors.
            if decision == "rejected" {
                try Self.tellDistrict(runtime.rules, tx: tx, integrationID: integrationID, template: "sync-failed",
                                      reason: "sync \(runID): " + holdReasons.joined(separator: "; "), report: renderedReport, now: now)
            } else if decision != "dry-run", errorCount > 0 {
                try Self.tellDistrict(runtime.rules, tx: tx, integrationID: integrationID, template: "sync-problems",
                                      reason: "sync \(runID) quarantined \(errorCount) row\(errorCount == 1 ? "" : "s")",
                                      report: renderedReport, now: now)
            }
            switch decision {
            case "applied":
                return try Self.apply(
                    plan.changeGroups, tx: tx, runtime: runtime, integration: integration, runID: runID, locked: locked,
                    afterStartup: !firstSync, now: now)
            case "held":
                try tx.storeChangeSet(plan.changeGroups.joined(), runID: runID)
                return [try runtime.apply(
                    tx, instanceID: integrationID, event: "hold", sender: .system,
                    reason: "sync \(runID) held: " + holdReasons.joined(separator: "; "),
                    payload: ["report": holdReasons.joined(separator: "\n"), "sync_run": runID], now: now)]
            default:
                return []
            }
        }
        phase.mark("write (\(decision))")
        var view = try syncRun(id: runID)
        view.lifecycle = lifecycle
        return view
    }

    /// The last applied run, when a bundle with `fingerprint` under `policy` cannot change what it left: it applied a
    /// byte-identical bundle in full (`applied` or `approved`, not without deletes) under the same policy, every
    /// entity holds exactly what that run's plan left (nothing kept back, such as a started course the SIS deleted),
    /// and every bulk file that deletes by omission left exactly its own rows. Returns that run's report and the
    /// counts of an unchanged run; nil when the bundle must be read.
    func reusableRun(
        integrationID: String, basedOn: String?, fingerprint: String, policy: SyncPolicy
    ) throws -> (runID: String, report: ValidationReport, counts: [String: EntityCounts])? {
        guard let basedOn else { return nil }
        return try read { tx in
            guard let prior = try tx.syncRun(id: basedOn), ["applied", "approved"].contains(prior.decision),
                  prior.bundleSHA256 == fingerprint,
                  let priorPolicy = prior.policy.flatMap({ try? JSONDecoder().decode(SyncPolicy.self, from: Data($0.utf8)) }),
                  priorPolicy == policy,
                  let report = try? JSONDecoder().decode(ValidationReport.self, from: Data(prior.report.utf8)),
                  let counts = try? JSONDecoder().decode([String: EntityCounts].self, from: Data(prior.counts.utf8))
            else { return nil }
            let held = try tx.rosterCounts(integrationID: integrationID)
            var unchanged: [String: EntityCounts] = [:]
            for (entity, before) in counts {
                let heldNow = held[entity] ?? 0
                guard heldNow == before.held + before.adds - before.deletes else { return nil }
                let file = (RosterEntity(rawValue: entity)?.file.rawValue ?? entity) + ".csv"
                let mode = report.files.first { $0.file == file }?.mode
                if mode == .bulk, policy.implicitDeletes.contains(entity), heldNow != before.incoming { return nil }
                var count = EntityCounts()
                count.held = heldNow
                count.incoming = before.incoming
                count.unchanged = before.incoming
                unchanged[entity] = count
            }
            return (prior.id, report, unchanged)
        }
    }

    /// The integration's sync policy: what its bulk files delete by omission and when a run is held.
    public func syncPolicy(integrationID: String) throws -> SyncPolicy {
        guard let json = try read({ try $0.syncPolicyJSON(integrationID: integrationID) }) else { return SyncPolicy() }
        do {
            return try JSONDecoder().decode(SyncPolicy.self, from: Data(json.utf8))
        } catch {
            throw RosterFlowError(.storage, "the stored sync policy of \(integrationID) cannot be read: \(error)")
        }
    }

    /// Stores the integration's sync policy, used by every later sync (nightly ones included).
    public func setSyncPolicy(integrationID: String, policy: SyncPolicy) async throws {
        try policy.validate()
        try await requireIntegration(integrationID)
        let json = Self.json(policy)
        _ = try await write { tx, _ in try tx.setSyncPolicyJSON(integrationID: integrationID, json: json) }
    }

    /// Applies a held run's change set (optionally without its deletes, which stay parked) and resumes the integration.
    ///
    /// - Parameter merge: for a run that proposes merges of re-keyed records, `true` applies them as merges (each old
    ///   sourcedId becomes an alias of the new one, and the DSP and subscribers are told), `false` declines them (the old
    ///   record is deleted and the new one added). Required when the run proposes merges; ignored otherwise.
    public func approveSync(runID: String, withoutDeletes: Bool = false, merge: Bool? = nil, actor: String) async throws -> SyncRunView {
        let runtime = self.runtime
        let lifecycle = try await write { tx, now in
            guard let run = try tx.syncRun(id: runID) else { throw RosterFlowError(.notFound, "there is no sync run \(runID)") }
            guard run.decision == "held" else {
                throw RosterFlowError(.refused, "sync run \(runID) is '\(run.decision)', not held; only a held run can be approved")
            }
            let current = try tx.lastAppliedRun(integrationID: run.integrationID)
            guard current == run.basedOnRun else {
                throw RosterFlowError(
                    .conflict, "the roster changed since run \(runID) was computed (run \(current ?? "-") was applied); "
                        + "reject this one and run the sync again")
            }
            guard let integration = try tx.integration(id: run.integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(run.integrationID)")
            }
            let merges = try tx.proposedMerges(runID: runID)
            if !merges.isEmpty, merge == nil {
                let users = merges.filter { $0.entity == RosterEntity.users.rawValue }
                throw RosterFlowError(
                    .refused, "sync run \(runID) proposes \(users.count) merge\(users.count == 1 ? "" : "s") of re-keyed users "
                        + "(e.g. \(users.first.map { "\($0.oldID) → \($0.newID)" } ?? "-")): approve with --merge to keep each as "
                        + "one user, or with --no-merge to delete the old record and add the new one")
            }
            if withoutDeletes { try tx.parkDeletes(runID: runID) }
            let merging = merge == true && !merges.isEmpty
            if merging, withoutDeletes {
                for entity in Set(merges.map(\.entity)) {
                    try tx.unparkDeletes(runID: runID, entity: entity, sourcedIDs: merges.filter { $0.entity == entity }.map(\.oldID))
                }
            }
            let changes = try tx.changeSet(runID: runID)
            let locked = try tx.lockedCourseSourcedIDs(integrationID: run.integrationID)
            var steps = try Self.apply(
                [changes], tx: tx, runtime: runtime, integration: integration, runID: runID, locked: locked,
                afterStartup: run.basedOnRun != nil, now: now)
            if !merges.isEmpty {
                try tx.decideProposedMerges(runID: runID, status: merging ? "merged" : "declined")
            }
            if merging {
                try tx.insertAliases(merges, integrationID: run.integrationID, runID: runID, actor: actor, now: now)
                if let instance = try tx.instance(id: run.integrationID) {
                    try runtime.rules.enqueue(
                        template: "sourced-ids-merged", recipient: "dsp", tx: tx, instance: instance,
                        reason: "sync \(runID) merged \(merges.count) re-keyed record\(merges.count == 1 ? "" : "s")",
                        payload: ["report": Self.mergeReport(merges)], now: now)
                }
            }
            try tx.updateSyncRunDecision(id: runID, decision: withoutDeletes ? "approved-without-deletes" : "approved", finishedAt: now)
            if try tx.instance(id: run.integrationID)?.state == "on_hold" {
                steps.append(try runtime.apply(
                    tx, instanceID: run.integrationID, event: "resume", sender: Sender(actor: actor, role: .vendorAdmin),
                    reason: "sync \(runID) approved" + (withoutDeletes ? " without its deletes" : ""), now: now))
            }
            return steps
        }
        var view = try syncRun(id: runID)
        view.lifecycle = lifecycle
        return view
    }

    /// Rejects a held run (nothing of it is applied; its change set stays for review) and resumes the integration.
    public func rejectSync(runID: String, actor: String) async throws -> SyncRunView {
        let runtime = self.runtime
        let lifecycle = try await write { tx, now in
            guard let run = try tx.syncRun(id: runID) else { throw RosterFlowError(.notFound, "there is no sync run \(runID)") }
            guard run.decision == "held" else {
                throw RosterFlowError(.refused, "sync run \(runID) is '\(run.decision)', not held; only a held run can be rejected")
            }
            try tx.decideProposedMerges(runID: runID, status: "dropped")
            try tx.updateSyncRunDecision(id: runID, decision: "dropped", finishedAt: now)
            guard try tx.instance(id: run.integrationID)?.state == "on_hold" else { return [AppliedStep]() }
            return [try runtime.apply(
                tx, instanceID: run.integrationID, event: "resume", sender: Sender(actor: actor, role: .vendorAdmin),
                reason: "sync \(runID) rejected; nothing was applied", now: now)]
        }
        var view = try syncRun(id: runID)
        view.lifecycle = lifecycle
        return view
    }

    /// A sync run with its validation report and the merges it proposed.
    ///
    /// - Throws: ``RosterFlowError/Code/notFound`` when there is no run with that id.
    public func syncRun(id: String) throws -> SyncRunView {
        guard let (run, merges) = try read({ tx in try tx.syncRun(id: id).map { ($0, try tx.proposedMerges(runID: id)) } }) else {
            throw RosterFlowError(.notFound, "there is no sync run \(id); `rosterflow sync list` shows them")
        }
        var view = Self.view(run, withReport: true)
        view.merges = merges
        return view
    }

    /// An e-mail (and webhook) to the district's OneRoster admin about a sync, in the caller's transaction.
    static func tellDistrict(
        _ rules: DomainRules, tx: StoreTransaction, integrationID: String, template: String, reason: String, report: String?,
        now: Double
    ) throws {
        guard let instance = try tx.instance(id: integrationID) else { return }
        try rules.enqueue(template: template, recipient: "district_admin", tx: tx, instance: instance, reason: reason,
                          payload: report.map { ["report": $0] } ?? [:], now: now)
    }

    /// One line per merge, users first: what a DSP or a learning platform needs to relink accounts and work.
    static func mergeReport(_ merges: [SourcedIDMerge]) -> String {
        merges.map { merge in
            let noun = merge.entity == RosterEntity.users.rawValue ? "user" : "enrollment"
            return "\(noun) \(merge.oldID) is now \(merge.newID) (same \(merge.matchedOn): \(merge.value))"
        }.joined(separator: "\n")
    }

    /// Sync runs, newest first, of one integration or (nil) of all, without their validation reports.
    public func syncRuns(integrationID: String? = nil) throws -> [SyncRunView] {
        try read { try $0.syncRuns(integrationID: integrationID) }.map { Self.view($0, withReport: false) }
    }

    /// Every applied change of a record, with its sync run, and the merges it took part in (when the SIS re-keyed it).
    public func rosterHistory(sourcedID: String) throws -> [RosterHistoryEntry] {
        try read { tx in
            let changes = try tx.rosterHistory(sourcedID: sourcedID, entities: RosterEntity.allCases.map(\.rawValue))
            let merges = try tx.aliases(involving: sourcedID).map { alias in
                let wasOld = alias.oldID == sourcedID
                return RosterHistoryEntry(
                    integrationID: alias.integrationID, entity: alias.entity, sourcedID: sourcedID, runID: alias.runID,
                    operation: wasOld ? "merged-into" : "merged-from", title: nil, at: alias.at,
                    mergedWith: wasOld ? alias.newID : alias.oldID)
            }
            // Stable: a merge sorts after the changes its run applied at the same instant.
            return (changes + merges).enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        }
    }

    // MARK: Applying

    /// Phase timings of one sync on stderr when `ROSTERFLOW_SYNC_TRACE` is set (benchmarks, profiling).
    struct SyncPhaseTrace {
        let enabled = ProcessInfo.processInfo.environment["ROSTERFLOW_SYNC_TRACE"] != nil
        var last = Date()

        mutating func mark(_ phase: String) {
            guard enabled else { return }
            let now = Date()
            FileHandle.standardError.write(Data("sync: \(phase) \(String(format: "%.2f", now.timeIntervalSince(last))) s\n".utf8))
            last = now
        }
    }

    /// Applies a change set (in groups, applied in order) and its lifecycle effects inside the caller's transaction.
    static func apply(
        _ groups: [[RosterChange]], tx: StoreTransaction, runtime: WorkflowRuntime, integration: IntegrationRecord,
        runID: String, locked: Set<String>, afterStartup: Bool, now: Double
    ) throws -> [AppliedStep] {
        var steps: [AppliedStep] = []
        let courses = RosterEntity.courses.rawValue
        // A course the SIS deleted whose mapping is locked is kept, and the DSP is told.
        func keptLocked(_ change: RosterChange) -> Bool {
            change.operation == .delete && !change.parked && change.record.entity == courses
                && locked.contains(change.record.sourcedID)
        }
        var courseAdds: [RosterChange] = []
        for group in groups {
            guard group.contains(where: keptLocked) else {
                try tx.applyRosterChanges(group, integrationID: integration.id, runID: runID, now: now)
                courseAdds += group.lazy.filter { $0.record.entity == courses && $0.operation == .add && !$0.parked }
                continue
            }
            var toApply: [RosterChange] = []
            for change in group {
                guard keptLocked(change) else {
                    toApply.append(change)
                    continue
                }
                if let course = try tx.course(integrationID: integration.id, sourcedID: change.record.sourcedID),
                   let instance = try tx.instance(id: course.id) {
                    try runtime.rules.enqueue(
                        template: "locked-course-removed-by-sis", recipient: "dsp", tx: tx, instance: instance,
                        reason: "sync \(runID) deleted course \(course.sourcedID), but students have started it: it was kept",
                        now: now)
                }
            }
            try tx.applyRosterChanges(toApply, integrationID: integration.id, runID: runID, now: now)
            courseAdds += toApply.lazy.filter { $0.record.entity == courses && $0.operation == .add && !$0.parked }
        }
        for change in courseAdds {
            guard try tx.course(integrationID: integration.id, sourcedID: change.record.sourcedID) == nil else { continue }
            let id = Identifier.make(prefix: "crs")
            let title = change.record.title ?? change.record.sourcedID
            steps.append(try runtime.start(
                tx, workflow: "course-mapping", id: id, subjectTitle: "\(title) (\(integration.district))",
                sender: .system, reason: "course shell created by sync \(runID)",
                payload: afterStartup ? ["after_startup": "true"] : [:], now: now
            ) { tx in
                try tx.insertCourse(CourseRecord(
                    id: id, integrationID: integration.id, sourcedID: change.record.sourcedID, title: title, createdAt: now))
            })
        }
        return steps
    }

    static func rosterEntity(_ entity: OneRosterEntity) -> RosterEntity? {
        switch entity {
        case .org: .orgs
        case .academicSession: .academicSessions
        case .course: .courses
        case .rosterClass: .classes
        case .user: .users
        case .enrollment: .enrollments
        case .demographics: .demographics
        default: nil
        }
    }

    static func view(_ run: SyncRunRecord, withReport: Bool) -> SyncRunView {
        let decoder = JSONDecoder()
        let report = try? decoder.decode(ValidationReport.self, from: Data(run.report.utf8))
        return SyncRunView(
            id: run.id, integrationID: run.integrationID, bundle: run.bundle, decision: run.decision,
            reasons: (try? decoder.decode([String].self, from: Data(run.reasons.utf8))) ?? [],
            counts: (try? decoder.decode([String: EntityCounts].self, from: Data(run.counts.utf8))) ?? [:],
            errorCount: report?.errorCount ?? 0, warningCount: report?.warningCount ?? 0,
            startedAt: Timestamp.iso(run.startedAt), finishedAt: run.finishedAt.map(Timestamp.iso),
            report: withReport ? report : nil, lifecycle: [])
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "null"
    }
}
