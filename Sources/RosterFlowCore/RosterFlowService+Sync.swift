import Foundation
import Logging
import OneRoster
import StorageCore
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
    /// A school-year rollover's course-map carry-forward: new courses matched to last year's mapped ones.
    public var carryForward: [CarryForwardRecord] = []
}

extension RosterFlowService {
    /// Integration states in which a sync may run.
    static let statesAcceptingSyncs = [
        DomainVocabulary.Integration.State.scheduled, DomainVocabulary.Integration.State.shellsCreated,
        DomainVocabulary.Integration.State.contentMapped, DomainVocabulary.Integration.State.live,
    ]

    /// Reads, validates and diffs a OneRoster bundle against the integration's roster, then applies it in one
    /// transaction, or holds it for review when a safeguard trips (the integration goes on hold), or records it as
    /// rejected when the bundle cannot be read. `dryRun` computes and records the run without changing anything.
    ///
    /// A bundle byte-for-byte identical (SHA-256) to the one the last applied run applied in full, under the same
    /// policy, with nothing held back since, cannot change anything: it is recorded as `unchanged` with that run's
    /// validation report, without reading it again. `revalidate` reads and checks it anyway.
    ///
    /// One sync (or approval) of an integration runs at a time, across processes: a second one is refused with
    /// ``RosterFlowError/Code/busy`` naming the first. A ``cancellation`` request before the run commits rolls it back
    /// (``RosterFlowError/Code/cancelled``).
    ///
    /// - Parameter byHand: the operator named the source: a source that cannot be read at all is a command error that
    ///   records no run, and the district is sent nothing about the run. Otherwise (the nightly source) an unreadable
    ///   source is recorded as a rejected run and the district's OneRoster admin is told.
    /// - Parameter holdForReview: hold the run for review with this reason whatever the safeguards say (the first sync
    ///   after a pause), unless it changes nothing.
    public func runSync(
        integrationID: String, source: any RosterSource, dryRun: Bool = false, policy: SyncPolicy? = nil,
        revalidate: Bool = false, byHand: Bool = false, holdForReview: String? = nil, actor: String
    ) async throws -> SyncRunView {
        try cancellation.check()
        var request = SyncRequest(
            integrationID: integrationID, source: source, dryRun: dryRun, policy: policy, revalidate: revalidate,
            byHand: byHand, actor: actor)
        request.holdForReview = holdForReview
        // A dry run changes no roster: it needs no lock.
        if dryRun { return try await plannedSync(request, lock: nil) }
        // Nothing follows the sync under the lock: it goes with the run's own transaction.
        request.releasesLock = true
        return try await withSyncLock(integrationID: integrationID, purpose: "`sync run` of \(source.description)") { lock in
            try await plannedSync(request, lock: lock)
        }
    }

    /// ``runSync(integrationID:source:dryRun:policy:revalidate:byHand:actor:)`` of the CSV bundle at `bundlePath` (a
    /// folder or a .zip file).
    ///
    /// - Parameter byHand: the operator typed `bundlePath`: a missing, unreadable or unreadable-as-a-bundle path is a
    ///   command error that records no run, and the district is sent nothing about the run. Otherwise (the nightly
    ///   source) an unreadable bundle is recorded as a rejected run and the district's OneRoster admin is told.
    public func runSync(
        integrationID: String, bundlePath: String, dryRun: Bool = false, policy: SyncPolicy? = nil, revalidate: Bool = false,
        byHand: Bool = false, holdForReview: String? = nil, actor: String
    ) async throws -> SyncRunView {
        if byHand { try Self.checkBundlePath(bundlePath) }
        return try await runSync(
            integrationID: integrationID, source: CSVBundleSource(path: bundlePath), dryRun: dryRun, policy: policy,
            revalidate: revalidate, byHand: byHand, holdForReview: holdForReview, actor: actor)
    }

    /// What a sync was asked to do.
    struct SyncRequest: Sendable {
        var integrationID: String
        /// Where the roster is read from; its description is stored as the run's `bundle`.
        var source: any RosterSource
        var dryRun = false
        var policy: SyncPolicy?
        var revalidate = false
        /// The operator named the bundle: a bad path is the operator's error (nothing recorded, nobody told), and the
        /// district hears nothing of the run.
        var byHand = false
        var actor: String
        /// The held run this one re-plans against today's roster (`sync approve --replan`).
        var replanning: SyncRunRecord?
        /// Hold the run for review with this reason whatever the safeguards say (the first sync after a pause).
        var holdForReview: String?
        /// Nothing else is done under the sync lock after this sync: the transaction that records the run lets it go.
        var releasesLock = false
    }

    /// Refuses a bundle path given by hand that cannot be a bundle, before anything is recorded.
    static func checkBundlePath(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw RosterFlowError(
                .notFound, "there is no file or folder at \(path); check the path (nothing was recorded and nobody was told)")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RosterFlowError(
                .notFound, "\(path) cannot be read by this user (permission denied); nothing was recorded and nobody was told")
        }
        if !isDirectory.boolValue, !ZipBundle.looksLikeZip(URL(fileURLWithPath: path)) {
            throw RosterFlowError(
                .invalidInput,
                "\(path) is neither a folder nor a .zip file: give the OneRoster bundle (a folder with manifest.csv, or its .zip); "
                    + "nothing was recorded and nobody was told")
        }
    }

    /// Reads, validates, diffs and plans a bundle on a snapshot of the held roster, then records the run and applies or
    /// holds it in one transaction, which checks that `lock` is still held and the roster is the one planned on.
    func plannedSync(_ request: SyncRequest, lock: SyncLockHandle?) async throws -> SyncRunView {
        let integrationID = request.integrationID
        let source = request.source
        let sourceName = source.description
        let replanning = request.replanning
        let policy: SyncPolicy
        if let stored = replanning?.policy, let decoded = try? JSONDecoder().decode(SyncPolicy.self, from: Data(stored.utf8)) {
            policy = decoded
        } else {
            policy = try request.policy ?? syncPolicy(integrationID: integrationID)
        }
        try policy.validate()
        let policyJSON = Self.json(policy)
        let cancellation = self.cancellation
        var phase = SyncPhaseTrace()
        // Adds staged by the reads of this run (the last read's is applied); whatever the outcome, none is kept.
        var stages: [any RosterAddStage] = []
        defer { for stage in stages { stage.discard() } }
        let (integration, instance, heldClassCourse, locked, basedOn, baseVersion) = try read { tx in
            guard let integration = try tx.integration(id: integrationID), let instance = try tx.instance(id: integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(integrationID)")
            }
            return (integration, instance,
                    try tx.rosterRecords(integrationID: integrationID, entity: RosterEntity.classes.rawValue)
                        .reduce(into: [String: String]()) { $0[$1.sourcedID] = $1.ref1 },
                    try tx.lockedCourseSourcedIDs(integrationID: integrationID), try tx.lastAppliedRun(integrationID: integrationID),
                    try tx.rosterVersion(integrationID: integrationID))
        }
        let accepting = Self.statesAcceptingSyncs.contains(instance.state) || (replanning != nil && instance.state == DomainVocabulary.Integration.State.onHold)
        guard accepting else {
            let held = instance.state == DomainVocabulary.Integration.State.onHold ? try read { try $0.heldSyncRuns(integrationID: integrationID).last } : nil
            throw RosterFlowError(
                .refused,
                "\(integration.district) (\(integrationID)) is '\(instance.state)'; "
                    + (held.map { "a sync is held for review: `rosterflow sync show \($0.id) --changes`, then "
                        + "`rosterflow sync approve \($0.id)` or `sync reject \($0.id)` first" }
                        ?? "syncs run once the integration is scheduled"))
        }
        phase.mark("load held")
        let runID = Identifier.make(prefix: "run")
        let started = clock()
        // Unreadable here means unreadable for the reader too: it says why.
        let fingerprint = (try? source.fingerprint()) ?? nil
        phase.mark("fingerprint")
        if let replanning, fingerprint == nil || fingerprint != replanning.bundleSHA256 {
            throw RosterFlowError(
                .conflict,
                "the bundle at \(sourceName) is no longer the one run \(replanning.id) read (it changed or is gone); "
                    + "nothing was re-planned: run `rosterflow sync run` on the current export instead")
        }
        try cancellation.check()
        let report: ValidationReport
        let plan: SyncPlan
        var reasons: [String] = []
        var note: String?
        if !request.revalidate, replanning == nil, let fingerprint,
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
            /// A sync that may be applied at once, from a source whose reading mostly waits (a REST pull), stages its
            /// adds while it reads, when its integration holds nothing yet (a first sync: every record is an add) and
            /// the store stages (see `RosterAddStage`). A bundle on disk keeps the cores busy while it is read: there
            /// the stage would only add CPU (measured: docs/performance.md).
            let mayStage = source.readingWaits && !request.dryRun && replanning == nil && request.holdForReview == nil
            /// A thread diffing the records a read of the source hands over (a new one for each read).
            func diffPipeline() -> SyncDiffPipeline {
                let stage = mayStage ? store.makeRosterAddStage() : nil
                if let stage { stages.append(stage) }
                let bulkFiles = BulkFiles()
                let implicitDeletes = policy.implicitDeletes
                return SyncDiffPipeline(bulkFiles: bulkFiles) { next, passingOver in
                    try store.readNow { tx in
                        let held = try tx.rosterCounts(integrationID: integrationID)
                        var diff = SyncDiff(heldCounts: held)
                        // The held records a bulk file omits are kept as their deletes as the merge passes them.
                        let merge = HeldDigestMerge(
                            tx: tx, integrationID: integrationID, passingOver: passingOver
                        ) { entity in
                            bulkFiles.isBulk(entity) && implicitDeletes.contains(entity.rawValue)
                        }
                        // Only when nothing is held is every record an add.
                        let staging = held.values.allSatisfy({ $0 == 0 }) ? stage : nil
                        if staging == nil { stage?.discard() }
                        defer { staging?.finish() }
                        while let records = next() {
                            for record in records {
                                if let added = try diff.observe(record, held: merge.held) { staging?.stage(added) }
                            }
                        }
                        try merge.finish(&diff)
                        return diff
                    }
                }
            }
            /// Reads the source, handing each valid record to `pipeline`.
            func readSource(into pipeline: SyncDiffPipeline) async throws -> OneRosterBundle {
                // Reading a bundle takes seconds to minutes of blocking I/O and CPU: off the cooperative pool.
                // A source that must be read again says so past `read`, which would wrap what it throws.
                let outcome: Result<OneRosterBundle, RosterSourceReadAgain> = try await Self.offThePool { [self] in try read { tx in
                    // Records the bundle refers to without carrying them (delta and absent files): held before this sync?
                    let held = HeldSourcedIdsClosure { id, entity in
                        guard let entity = RosterEntity(entity) else { return false }
                        if (try? tx.holdsRosterRecord(integrationID: integrationID, entity: entity.rawValue, sourcedID: id)) == true { return true }
                        // An old sourcedId merged into a new one resolves to it (roster_aliases).
                        guard let current = try? tx.currentSourcedID(integrationID: integrationID, entity: entity.rawValue, sourcedID: id),
                              current != id else { return false }
                        return (try? tx.holdsRosterRecord(integrationID: integrationID, entity: entity.rawValue, sourcedID: current)) ?? false
                    }
                    var visited = 0
                    var options = OneRosterBundleReader.Options(retainRecords: false, tolerance: policy.readingTolerance)
                    let bulkFiles = pipeline.bulkFiles
                    options.manifestRead = { bulkFiles.read($0) }
                    do {
                        return .success(try source.read(options: options, held: held) { record in
                            pipeline.put(record)
                            visited &+= 1
                            if visited & 4095 == 0 { try cancellation.check() }
                        })
                    } catch let again as RosterSourceReadAgain {
                        return .failure(again)
                    }
                } }
                return try outcome.get()
            }
            /// Reads the source into a new diff; once more into another when the source says what it handed over was
            /// superseded (a REST pull whose later page repeated an enrollment it had handed over, newer).
            func readAndDiff() async throws -> (OneRosterBundle, SyncDiffPipeline) {
                let pipeline = diffPipeline()
                do {
                    return (try await readSource(into: pipeline), pipeline)
                } catch let again as RosterSourceReadAgain {
                    _ = try? pipeline.finish()
                    // What the first read staged is superseded too.
                    stages.last?.discard()
                    phase.mark("read again: \(again.reason)")
                    let second = diffPipeline()
                    do {
                        return (try await readSource(into: second), second)
                    } catch {
                        _ = try? second.finish()
                        throw error
                    }
                } catch {
                    _ = try? pipeline.finish()
                    throw error
                }
            }
            let pipeline: SyncDiffPipeline
            do {
                let outcome = try await readAndDiff()
                bundle = outcome.0
                pipeline = outcome.1
            } catch {
                try cancellation.check()
                if let coded = error as? RosterFlowError, coded.code == .cancelled { throw coded }
                if request.byHand {
                    let why = "\(error)".trimmingCharacters(in: CharacterSet(charactersIn: ". \n"))
                    throw RosterFlowError(
                        .invalidInput, "cannot read the bundle at \(sourceName): \(why); nothing was recorded and nobody was told")
                }
                // Nothing readable: record the run as rejected, with why.
                let reason = "the \(source is CSVBundleSource ? "bundle" : "source") could not be read: \(error)"
                let run = SyncRunRecord(
                    id: runID, integrationID: integrationID, bundle: sourceName, startedAt: started, finishedAt: clock(),
                    decision: .rejected, reasons: Self.json([reason]), counts: "{}", report: Self.json(ValidationReport()),
                    basedOnRun: basedOn, bundleSHA256: fingerprint, policy: policyJSON, baseRosterVersion: baseVersion)
                let rules = self.runtime.rules
                try await write { tx, now in
                    try tx.insertSyncRun(run)
                    try Self.tellDistrict(rules, tx: tx, integrationID: integrationID, template: "sync-failed",
                                          reason: "sync \(runID): \(reason)", report: nil, now: now)
                }
                return try syncRun(id: runID)
            }
            diff = try await Self.offThePool { try pipeline.finish() }
            phase.mark("read + validate + diff")
            try cancellation.check()
            if !bundle.manifest.isPresent {
                reasons.append("the bundle has no manifest.csv, so it cannot say which files are bulk or delta; add one")
            }
            report = bundle.report
            // Handed over whole (the box holds the only reference), so planning sorts the changes in place, uncopied.
            let diffed = Handover(diff)
            diff = SyncDiff(heldDigests: [:])
            plan = try await Self.offThePool { [self] in
                try read { tx in
                    try SyncPlanner(policy: policy, parked: try tx.parkedDeleteKeys(integrationID: integrationID)).plan(
                        diff: &diffed.value, bundle: bundle, heldClassCourse: heldClassCourse, lockedCourses: locked
                    ) { entity, ids in
                        try tx.rosterRecords(integrationID: integrationID, entity: entity.rawValue, sourcedIDs: ids)
                    } heldDeletes: { entity, ids in
                        try tx.heldDeletes(integrationID: integrationID, entity: entity.rawValue, sourcedIDs: ids)
                    }
                }
            }
            phase.mark("plan")
            try cancellation.check()
        }
        // An imported class of an on-demand integration losing a large share of its students is held like other safeguards.
        let onDemandHolds = try read { tx in try OnDemand.holdReasons(tx, integrationID: integrationID, changes: plan.changeGroups) }
        let decision: SyncDecision
        if !reasons.isEmpty {
            decision = .rejected
        } else if request.dryRun {
            decision = .dryRun
            reasons = plan.holdReasons
        } else if let replanning {
            // A re-plan is always held: the operator asked to review it against today's roster.
            decision = .held
            reasons = ["re-planned from held run \(replanning.id) against today's roster: review it with "
                + "`rosterflow sync show \(runID) --changes`, then approve or reject it"] + plan.holdReasons
        } else if let review = request.holdForReview, !plan.isEmpty {
            decision = .held
            reasons = [review] + plan.holdReasons
        } else if !plan.holdReasons.isEmpty || !onDemandHolds.isEmpty {
            decision = .held
            reasons = plan.holdReasons + onDemandHolds
        } else {
            decision = plan.isEmpty ? .unchanged : .applied
        }
        if let note { reasons.append(note) }
        if let parked = ParkedDeletes.note(plan.counts, integrationID: integrationID) { reasons.append(parked) }
        let carryForward = try plan.rollover.map { rollover in try read { tx in try Self.carryForwardProposals(rollover, tx: tx, integrationID: integrationID) } } ?? []
        if let rollover = plan.rollover, decision == .held || decision == .dryRun { reasons.append(Self.carryForwardNote(carryForward, rollover)) }
        let run = SyncRunRecord(
            id: runID, integrationID: integrationID, bundle: sourceName, startedAt: started, finishedAt: nil,
            decision: decision, reasons: Self.json(reasons), counts: Self.json(plan.counts), report: Self.json(report),
            basedOnRun: basedOn, bundleSHA256: fingerprint, policy: policyJSON, baseRosterVersion: baseVersion)
        let runtime = self.runtime
        let stage = decision == .applied ? stages.last : nil
        let firstSync = basedOn == nil
        let holdReasons = reasons
        let errorCount = report.errorCount
        let tellsDistrict = !request.byHand
        // Capped for the e-mail and webhook; the full report stays with the run.
        let renderedReport = errorCount > 0 || decision == .rejected
            ? report.rendered(maxPerFile: 20, maxBytes: 16_000, more: "`rosterflow sync show \(runID)`") : ""
        let actor = request.actor
        let releasesLock = request.releasesLock
        let lifecycle = try await write { tx, now in
            try lock?.verify(tx)
            if decision == .applied || decision == .held {
                let current = try tx.rosterVersion(integrationID: integrationID)
                guard current == baseVersion else {
                    throw RosterFlowError(
                        .conflict, "the roster of \(integrationID) changed while this sync was planned; nothing was applied: run it again",
                        cause: "roster-changed")
                }
            }
            var finished = run
            finished.finishedAt = now
            try tx.insertSyncRun(finished)
            if decision == .held || decision == .dryRun {
                try tx.storeProposedMerges(plan.merges, runID: runID)
                try tx.storeCarryForwards(carryForward, runID: runID)
            }
            if decision == .applied || decision == .unchanged {
                try tx.forgetParkedDeletes(integrationID: integrationID, keys: plan.parkingsEnded)
            }
            // Kept for review (`sync show RUN --changes`); a dry run's is never applied.
            if decision == .dryRun { try tx.storeChangeSet(groups: plan.changeGroups, runID: runID) }
            // The district's OneRoster admin hears of a rejected bundle, and of rows skipped for errors, when the bundle
            // came from the source the integration is configured with (not a path an operator typed).
            if tellsDistrict, decision == .rejected {
                try Self.tellDistrict(runtime.rules, tx: tx, integrationID: integrationID, template: "sync-failed",
                                      reason: "sync \(runID): " + holdReasons.joined(separator: "; "), report: renderedReport, now: now)
            } else if tellsDistrict, decision != .dryRun, errorCount > 0 {
                try Self.tellDistrict(runtime.rules, tx: tx, integrationID: integrationID, template: "sync-problems",
                                      reason: "sync \(runID) quarantined \(errorCount) row\(errorCount == 1 ? "" : "s")",
                                      report: renderedReport, now: now)
            }
            var steps: [AppliedStep] = []
            switch decision {
            case .applied:
                steps = try Self.apply(
                    plan.changeGroups, tx: tx, runtime: runtime, integration: integration, runID: runID, locked: locked,
                    afterStartup: !firstSync, stage: stage, checkpoint: cancellation.check, now: now)
            case .held:
                var trace = SyncPhaseTrace()
                try tx.storeChangeSet(groups: plan.changeGroups, runID: runID)
                trace.mark("write: change set stored")
                if let replanning {
                    try Self.supersede(replanning, by: runID, actor: actor, tx: tx, now: now)
                }
                if try tx.instance(id: integrationID)?.state != DomainVocabulary.Integration.State.onHold {
                    steps = [try runtime.apply(
                        tx, instanceID: integrationID, event: DomainVocabulary.Integration.Event.hold, sender: .system,
                        reason: "sync \(runID) held: " + holdReasons.joined(separator: "; "),
                        payload: ["report": holdReasons.joined(separator: "\n"), "sync_run": runID], now: now)]
                }
            default:
                break
            }
            // The last moment a signal can still undo the run: after this the transaction commits.
            try cancellation.check()
            if releasesLock { try lock?.release(in: tx) }
            return steps
        }
        if releasesLock { lock?.markReleased() }
        phase.mark("write (\(decision))")
        var view = try syncRun(id: runID)
        view.lifecycle = lifecycle
        return view
    }

    /// A value handed from one thread to another, which then owns it (no copy on write).
    final class Handover<Value>: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Runs blocking work (reading a bundle, planning against the held roster) on a thread of its own, so that the
    /// cooperative threads an async caller (a server, the worker's other services) relies on are never held by it.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = "rosterflow.sync-read"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// A run's stored reasons (a JSON array); none when they cannot be read.
    static func reasons(of run: SyncRunRecord) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(run.reasons.utf8))) ?? []
    }

    /// Marks a held run as replaced by its re-plan: it can no longer be approved, its proposed merges are dropped, and
    /// its change set stays listed (`sync show RUN --changes`) beside the new run's.
    static func supersede(_ run: SyncRunRecord, by newRunID: String, actor: String, tx: any StoreTransaction, now: Double) throws {
        var reasons = Self.reasons(of: run)
        reasons.append("re-planned against today's roster as run \(newRunID) by \(actor) at \(Timestamp.iso(now))")
        try tx.decideProposedMerges(runID: run.id, status: "dropped")
        try tx.updateSyncRun(id: run.id, decision: .superseded, reasons: json(reasons), finishedAt: now)
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
            guard let prior = try tx.syncRun(id: basedOn), [SyncDecision.applied, .approved].contains(prior.decision),
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
        let stored = try read { tx in
            try Self.requireIntegration(integrationID, tx)
            return try tx.syncPolicyJSON(integrationID: integrationID)
        }
        guard let json = stored else { return SyncPolicy() }
        do {
            return try JSONDecoder().decode(SyncPolicy.self, from: Data(json.utf8))
        } catch {
            throw RosterFlowError(.storage, "the stored sync policy of \(integrationID) cannot be read: \(error)")
        }
    }

    /// Stores the integration's sync policy, used by every later sync (nightly ones included), and records in the audit
    /// log who changed it from what.
    public func setSyncPolicy(integrationID: String, policy: SyncPolicy, actor: String = Sender.system.actor) async throws {
        try policy.validate()
        try await requireIntegration(integrationID)
        let json = Self.json(policy)
        _ = try await write { tx, now in try Self.storeSyncPolicy(tx, integrationID: integrationID, json: json, actor: actor, now: now) }
    }

    /// Applies a held run's change set (optionally without its deletes, which stay parked) and resumes the integration.
    ///
    /// A held run is a proposal against the roster it was planned on: once a newer sync was applied (or found the
    /// roster unchanged), or the roster changed in any other way, approving it would apply old deletes on top of newer
    /// data, so it is refused as stale (``RosterFlowError/Code/stale``) unless `replan` is set. Approving holds the
    /// integration's sync lock, like a sync, and a ``cancellation`` request before commit rolls it back.
    ///
    /// - Parameters:
    ///   - merge: for a run that proposes merges of re-keyed records, `true` applies them as merges (each old sourcedId
    ///     becomes an alias of the new one, and the DSP and subscribers are told), `false` declines them (the old
    ///     record is deleted and the new one added). Required when the run proposes merges; ignored otherwise.
    ///   - replan: instead of applying, plan the same bundle (it must be byte-for-byte unchanged) against today's
    ///     roster as a new held run for review; this run is marked `superseded`.
    ///   - carryForward: for a school-year rollover, start each new course that matches one of last year's mapped
    ///     courses in `mapped` with that course's catalog course and base id (awaiting the school's verification).
    public func approveSync(
        runID: String, withoutDeletes: Bool = false, merge: Bool? = nil, replan: Bool = false, carryForward: Bool = false,
        actor: String
    ) async throws -> SyncRunView {
        guard let run = try read({ try $0.syncRun(id: runID) }) else {
            throw RosterFlowError(.notFound, "there is no sync run \(runID); `rosterflow sync list` shows them")
        }
        try Self.requireHeld(run, verb: "approved")
        try cancellation.check()
        let purpose = replan ? "`sync approve \(runID) --replan`" : "`sync approve \(runID)`"
        return try await withSyncLock(integrationID: run.integrationID, purpose: purpose) { lock in
            if replan {
                // Decided meanwhile by someone else?
                guard let current = try read({ try $0.syncRun(id: runID) }) else {
                    throw RosterFlowError(.notFound, "there is no sync run \(runID)")
                }
                try Self.requireHeld(current, verb: "re-planned")
                return try await plannedSync(
                    SyncRequest(integrationID: run.integrationID, source: CSVBundleSource(path: run.bundle), revalidate: true, byHand: true,
                                actor: actor, replanning: current),
                    lock: lock)
            }
            return try await applyHeld(
                runID: runID, withoutDeletes: withoutDeletes, merge: merge, carryForward: carryForward, actor: actor, lock: lock)
        }
    }

    static func requireHeld(_ run: SyncRunRecord, verb: String) throws {
        guard run.decision == .held else {
            throw RosterFlowError(.refused, "sync run \(run.id) is '\(run.decision)', not held; only a held run can be \(verb)")
        }
    }

    /// Why a held run can no longer be applied as planned, or nil while the roster is the one it was planned on.
    static func staleness(of run: SyncRunRecord, tx: any StoreTransaction) throws -> String? {
        if let newer = try tx.acceptedRuns(integrationID: run.integrationID, after: run.id).last,
           let record = try tx.syncRun(id: newer) {
            return "a newer sync, run \(newer) (\(record.decision), \(Timestamp.iso(record.finishedAt ?? record.startedAt))), "
                + "read a later export since"
        }
        if let base = run.baseRosterVersion {
            let current = try tx.rosterVersion(integrationID: run.integrationID)
            if current != base { return "the roster changed since it was planned" }
        } else if let current = try tx.lastAppliedRun(integrationID: run.integrationID), current != run.basedOnRun {
            return "run \(current) was applied since"
        }
        return nil
    }

    private func applyHeld(
        runID: String, withoutDeletes: Bool, merge: Bool?, carryForward: Bool = false, actor: String, lock: SyncLockHandle
    ) async throws -> SyncRunView {
        let runtime = self.runtime
        let cancellation = self.cancellation
        let lifecycle = try await write { tx, now in
            try lock.verify(tx)
            guard let run = try tx.syncRun(id: runID) else { throw RosterFlowError(.notFound, "there is no sync run \(runID)") }
            try Self.requireHeld(run, verb: "approved")
            if let stale = try Self.staleness(of: run, tx: tx) {
                throw RosterFlowError(
                    .stale,
                    "sync run \(runID) is stale: \(stale), so its changes were planned on an older roster; nothing was applied. "
                        + "Re-run the export (`rosterflow sync run --integration \(run.integrationID)`), or "
                        + "`rosterflow sync approve \(runID) --replan` to plan the same bundle against today's roster and review it",
                    cause: "stale-sync-run")
            }
            guard let integration = try tx.integration(id: run.integrationID) else {
                throw RosterFlowError(.notFound, "there is no integration \(run.integrationID)")
            }
            var phase = SyncPhaseTrace()
            phase.mark("approve: applying \(runID)")
            let merges = try tx.proposedMerges(runID: runID)
            if !merges.isEmpty, merge == nil {
                let users = merges.filter { $0.entity == RosterEntity.users.rawValue }
                throw RosterFlowError(
                    .refused, "sync run \(runID) proposes \(users.count) merge\(users.count == 1 ? "" : "s") of re-keyed users "
                        + "(e.g. \(users.first.map { "\($0.oldID) → \($0.newID)" } ?? "-")): approve with --merge to keep each as "
                        + "one user, or with --no-merge to delete the old record and add the new one")
            }
            let carried = carryForward ? try Self.requireCarryForward(runID: runID, tx: tx) : []
            if withoutDeletes { try tx.parkDeletes(runID: runID) }
            let merging = merge == true && !merges.isEmpty
            if merging, withoutDeletes {
                for entity in Set(merges.map(\.entity)) {
                    try tx.unparkDeletes(runID: runID, entity: entity, sourcedIDs: merges.filter { $0.entity == entity }.map(\.oldID))
                }
            }
            // Its blocks as they are: decoded a block at a time as they are applied.
            let changes = try tx.changeSetGroups(runID: runID)
            phase.mark("approve: change set read (\(changes.reduce(0) { $0 + $1.count }) changes)")
            let locked = try tx.lockedCourseSourcedIDs(integrationID: run.integrationID)
            var steps = try Self.apply(
                changes, tx: tx, runtime: runtime, integration: integration, runID: runID, locked: locked,
                afterStartup: run.basedOnRun != nil, checkpoint: cancellation.check, now: now)
            phase.mark("approve: applied (\(steps.count) lifecycle steps)")
            steps += try Self.carryForward(carried, integrationID: run.integrationID, runID: runID, tx: tx, runtime: runtime,
                                           actor: actor, now: now)
            phase.mark("approve: carried forward \(carried.count) course mappings")
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
            try tx.updateSyncRunDecision(id: runID, decision: withoutDeletes ? .approvedWithoutDeletes : .approved, finishedAt: now)
            if withoutDeletes {
                var deletes: [RosterChange] = []
                for group in changes { group.forEach(operation: .delete) { deletes.append($0) } }
                try Self.rememberParkedDeletes(tx: tx, run: run, changes: deletes, actor: actor, now: now)
            }
            try Self.auditSyncDecision(tx, run: run, approved: true, decision: withoutDeletes ? .approvedWithoutDeletes : .approved, merge: merges.isEmpty ? nil : merge, actor: actor, now: now)
            if try tx.instance(id: run.integrationID)?.state == DomainVocabulary.Integration.State.onHold {
                steps.append(try runtime.apply(
                    tx, instanceID: run.integrationID, event: DomainVocabulary.Integration.Event.resume, sender: Sender(actor: actor, role: .vendorAdmin),
                    reason: "sync \(runID) approved" + (withoutDeletes ? " without its deletes" : ""), now: now))
            }
            // The last moment a signal can still undo the approval: after this the transaction commits.
            try cancellation.check()
            try lock.release(in: tx)
            phase.mark("approve: decided")
            return steps
        }
        lock.markReleased()
        var view = try syncRun(id: runID)
        view.lifecycle = lifecycle
        return view
    }

    /// Rejects a held run (nothing of it is applied; its change set stays for review) and resumes the integration.
    public func rejectSync(runID: String, actor: String) async throws -> SyncRunView {
        let runtime = self.runtime
        let lifecycle = try await write { tx, now in
            guard let run = try tx.syncRun(id: runID) else { throw RosterFlowError(.notFound, "there is no sync run \(runID)") }
            guard run.decision == .held else {
                throw RosterFlowError(.refused, "sync run \(runID) is '\(run.decision)', not held; only a held run can be rejected")
            }
            try tx.decideProposedMerges(runID: runID, status: "dropped")
            try tx.updateSyncRunDecision(id: runID, decision: .dropped, finishedAt: now)
            try Self.auditSyncDecision(tx, run: run, approved: false, decision: .dropped, merge: nil, actor: actor, now: now)
            guard try tx.instance(id: run.integrationID)?.state == DomainVocabulary.Integration.State.onHold else { return [AppliedStep]() }
            return [try runtime.apply(
                tx, instanceID: run.integrationID, event: DomainVocabulary.Integration.Event.resume, sender: Sender(actor: actor, role: .vendorAdmin),
                reason: "sync \(runID) rejected; nothing was applied", now: now)]
        }
        var view = try syncRun(id: runID)
        view.lifecycle = lifecycle
        return view
    }

    /// A sync run with the merges and carry-forward it proposed, and its validation report unless `withReport` is
    /// false (a page that only offers the run's decisions need not decode a report of thousands of issues).
    ///
    /// - Throws: ``RosterFlowError/Code/notFound`` when there is no run with that id.
    public func syncRun(id: String, withReport: Bool = true) throws -> SyncRunView {
        guard let (run, merges) = try read({ tx in try tx.syncRun(id: id).map { ($0, try tx.proposedMerges(runID: id)) } }) else {
            throw RosterFlowError(.notFound, "there is no sync run \(id); `rosterflow sync list` shows them")
        }
        var view = Self.view(run, withReport: withReport)
        view.merges = merges
        view.carryForward = try read { try $0.carryForwards(runID: id) }
        return view
    }

    /// An e-mail (and webhook) to the district's OneRoster admin about a sync, in the caller's transaction.
    static func tellDistrict(
        _ rules: DomainRules, tx: any StoreTransaction, integrationID: String, template: String, reason: String, report: String?,
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
    ///
    /// SourcedIds are unique only inside a district, so a record is (integration, sourcedId): `integrationID` names
    /// the integration, and may be left out only when a single integration knows the sourcedId.
    /// - Throws: ``RosterFlowError/Code/notFound`` when no integration (or not the one named) ever held the sourcedId,
    ///   or the named integration does not exist; ``RosterFlowError/Code/invalidInput`` when several integrations know
    ///   it and none is named (the message lists them).
    public func rosterHistory(sourcedID: String, integrationID: String? = nil) throws -> [RosterHistoryEntry] {
        try read { tx in
            let entities = RosterEntity.allCases.map(\.rawValue)
            let knowing = try tx.integrationsKnowing(sourcedID: sourcedID, entities: entities)
            func described(_ ids: [String]) throws -> String {
                try ids.map { id in try tx.integration(id: id).map { "\(id) (\($0.district))" } ?? id }.joined(separator: ", ")
            }
            let integration: String
            if let integrationID {
                guard try tx.integration(id: integrationID) != nil else {
                    throw RosterFlowError(.notFound, "there is no integration \(integrationID); `rosterflow integrations list` shows them")
                }
                guard knowing.contains(integrationID) else {
                    throw RosterFlowError(
                        .notFound, "integration \(integrationID) never held a record \(sourcedID)"
                            + (knowing.isEmpty ? "" : "; it is known in \(try described(knowing))"))
                }
                integration = integrationID
            } else {
                guard let only = knowing.first else {
                    throw RosterFlowError(.notFound, "no integration ever held a record \(sourcedID)")
                }
                guard knowing.count == 1 else {
                    throw RosterFlowError(
                        .invalidInput, "\(sourcedID) is a record of \(knowing.count) integrations: \(try described(knowing)); "
                            + "sourcedIds are unique only inside a district, so say which with --integration")
                }
                integration = only
            }
            let changes = try tx.rosterHistory(sourcedID: sourcedID, integrationID: integration, entities: entities)
            let merges = try tx.aliases(involving: sourcedID, integrationID: integration).map { alias in
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

    /// Phase timings of one sync, logged at `debug` under `rosterflow.sync` as `sync: <phase> <seconds> s` (the CLI
    /// shows them with `ROSTERFLOW_LOG_LEVEL=debug`; benchmarks, profiling).
    struct SyncPhaseTrace {
        let logger = Logger(label: "rosterflow.sync")
        var last = Date()

        mutating func mark(_ phase: @autoclosure () -> String) {
            guard logger.logLevel <= .debug else { return }
            let now = Date()
            logger.debug("sync: \(phase()) \(String(format: "%.2f", now.timeIntervalSince(last))) s")
            last = now
        }
    }

    /// Applies a change set (in groups, applied in order) and its lifecycle effects inside the caller's transaction.
    static func apply(
        _ groups: [ChangeGroup], tx: any StoreTransaction, runtime: WorkflowRuntime, integration: IntegrationRecord,
        runID: String, locked: Set<String>, afterStartup: Bool, stage: (any RosterAddStage)? = nil,
        checkpoint: (() throws -> Void)? = nil, now: Double
    ) throws -> [AppliedStep] {
        var steps: [AppliedStep] = []
        var phase = SyncPhaseTrace()
        let courses = RosterEntity.courses.rawValue
        // A course the SIS deleted whose mapping is locked is kept, and the DSP is told.
        func keptLocked(_ change: RosterChange) -> Bool {
            change.operation == .delete && !change.parked && change.record.entity == courses
                && locked.contains(change.record.sourcedID)
        }
        var courseAdds: [RosterChange] = []
        var toApply: [ChangeGroup] = []
        toApply.reserveCapacity(groups.count)
        for group in groups {
            // Only courses are looked at (encoded blocks of other entities are not decoded here).
            var keepsLocked = false
            group.forEach(entity: courses) { change in
                if keptLocked(change) { keepsLocked = true }
                if change.operation == .add, !change.parked { courseAdds.append(change) }
            }
            guard keepsLocked else {
                toApply.append(group)
                continue
            }
            var kept: [RosterChange] = []
            for change in group.changes {
                guard keptLocked(change) else {
                    kept.append(change)
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
            toApply.append(ChangeGroup(kept))
        }
        // All groups in one call: a store can load a district's first roster as one.
        try tx.applyRosterChanges(changeGroups: toApply, integrationID: integration.id, runID: runID, stage: stage, checkpoint: checkpoint,
                                  now: now)
        phase.mark("apply: roster changes")
        // An on-demand integration creates no course shells; its imported classes follow the changes instead.
        let onDemand = try tx.provisioningMode(integrationID: integration.id) == .onDemand
        if onDemand { steps += try OnDemand.follow(groups, tx: tx, runtime: runtime, integrationID: integration.id, runID: runID, now: now) }
        for change in courseAdds where !onDemand {
            guard try tx.course(integrationID: integration.id, sourcedID: change.record.sourcedID) == nil else { continue }
            let id = Identifier.make(prefix: "crs")
            let title = change.record.title ?? change.record.sourcedID
            steps.append(try runtime.start(
                tx, workflow: DomainVocabulary.CourseMapping.workflow, id: id, subjectTitle: "\(title) (\(integration.district))",
                sender: .system, reason: "course shell created by sync \(runID)",
                payload: afterStartup ? ["after_startup": "true"] : [:], now: now
            ) { tx in
                try tx.insertCourse(CourseRecord(
                    id: id, integrationID: integration.id, sourcedID: change.record.sourcedID, title: title, createdAt: now))
            })
        }
        phase.mark("apply: \(courseAdds.count) new courses, their shells")
        return steps
    }

    static func view(_ run: SyncRunRecord, withReport: Bool) -> SyncRunView {
        let decoder = JSONDecoder()
        let report = try? decoder.decode(ValidationReport.self, from: Data(run.report.utf8))
        return SyncRunView(
            id: run.id, integrationID: run.integrationID, bundle: run.bundle, decision: run.decision.rawValue,
            reasons: reasons(of: run),
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
