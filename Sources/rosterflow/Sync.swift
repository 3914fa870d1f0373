import ArgumentParser
import Foundation
import OneRoster
import OneRosterREST
import RosterFlowCore

extension RosterFlowCommand {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "OneRoster syncs: validate, diff, guard and apply a bundle; review held runs.",
            subcommands: [Run.self, Due.self, Show.self, List.self, Approve.self, Reject.self, Parked.self, Unpark.self])

        struct Run: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Sync a OneRoster bundle (folder or .zip) into an integration: applied, held or rejected.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Integration id.") var integration: String
            @Option(help: "The bundle: a folder or a .zip with manifest.csv (default: the integration's configured source).")
            var bundle: String?
            @Flag(help: "Compute and record the run, change nothing.") var dryRun = false
            @Flag(help: "Read and validate the bundle even when it is byte-for-byte the one the last run applied.")
            var revalidate = false
            @OptionGroup var policyOptions: PolicyOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    warnAboutInputLimitKnobs()
                    // Ctrl-C and SIGTERM cancel the run (Cancel.onSignals); the reader's own cleanup removes its folder.
                    let service = try options.open()
                    let policy = try policyOptions.isEmpty ? nil : policyOptions.apply(to: service.syncPolicy(integrationID: integration))
                    let view: SyncRunView
                    if let bundle {
                        view = try await Cancel.onSignals(service) {
                            try await service.runSync(
                                integrationID: integration, bundlePath: bundle, dryRun: dryRun, policy: policy, revalidate: revalidate,
                                byHand: true, actor: options.actor)
                        }
                    } else {
                        // The configured source: a bundle path, or a OneRoster REST provider pulled now.
                        let source = try service.configuredRosterSource(integrationID: integration, progress: pullProgress(json: options.json))
                        view = try await Cancel.onSignals(service) {
                            try await service.runSync(
                                integrationID: integration, source: source, dryRun: dryRun, policy: policy, revalidate: revalidate,
                                byHand: false, actor: options.actor)
                        }
                        if source is RESTRosterSource, pullProgress(json: options.json) != nil {
                            FileHandle.standardError.write(Data("\n".utf8))
                        }
                    }
                    try Output.emit(view, json: options.json) { SyncText.run($0, withReport: true) }
                    if view.decision == "rejected" { throw ExitCode(65) }
                }
            }
        }

        struct Due: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Run every nightly sync that is due now (the worker does this on its own), and alert on missed ones.")
            @OptionGroup var options: StoreOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    warnAboutInputLimitKnobs()
                    let service = try options.open()
                    let outcomes = try await Cancel.onSignals(service) { try await service.runDueSyncs() }
                    try Output.emit(outcomes, json: options.json) { list in
                        list.isEmpty ? "no sync is due" : list.map {
                            "\($0.integrationID): due \($0.dueAt) → \($0.decision)" + ($0.runID.map { " (\($0))" } ?? "")
                                + ($0.alert.map { "; ALERT: \($0)" } ?? "") + "; next \($0.nextSyncAt)"
                        }.joined(separator: "\n")
                    }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "A sync run with its counts, reasons and report; with --changes, the changes it would make or made.",
                discussion: """
                    --changes lists a held or dry-run run's change set (or an approved or rejected one's), a page at a time, in \
                    apply order: each record with its identifying fields (a user's name, username and e-mail; a class's or \
                    course's title; an enrollment's user and class) and, for an update, the fields it changes. --op merge lists \
                    the run's proposed merges of re-keyed records. --entity, --op, --csv, --limit, --offset and --page imply \
                    --changes.
                    """)
            @OptionGroup var options: StoreOptions
            @Argument(help: "Sync run id.") var id: String
            @Flag(help: "List the run's changes instead of its summary.") var changes = false
            @Option(help: "Only this entity: orgs, academicSessions, courses, classes, users, enrollments or demographics.")
            var entity: String?
            @Option(name: .customLong("op"), help: "Only this kind of change: add, update, delete, or merge (proposed merges).")
            var operation: String?
            @Flag(help: "Print the page as CSV (RFC 4180, with a header row); the paging line goes to stderr.") var csv = false
            @Option(help: "Changes per page (default \(RosterFlowService.defaultChangePageSize), at most \(RosterFlowService.maxChangePageSize)).")
            var limit: Int?
            @Option(help: "Changes to skip (default 0).") var offset: Int?
            @Option(help: "Page number, from 1 (instead of --offset).") var page: Int?

            var listsChanges: Bool {
                changes || entity != nil || operation != nil || csv || limit != nil || offset != nil || page != nil
            }

            func run() async throws {
                try await Output.run(json: options.json) {
                    guard listsChanges else {
                        try Output.emit(try options.open().syncRun(id: id), json: options.json) { SyncText.run($0, withReport: true) }
                        return
                    }
                    if csv, options.json { throw RosterFlowError(.invalidInput, "pass --csv or --json, not both") }
                    if page != nil, offset != nil { throw RosterFlowError(.invalidInput, "pass --page or --offset, not both") }
                    if let page, page < 1 { throw RosterFlowError(.invalidInput, "--page counts from 1, not \(page)") }
                    let limit = self.limit ?? RosterFlowService.defaultChangePageSize
                    let (pageStart, overflow) = ((page ?? 1) - 1).multipliedReportingOverflow(by: max(limit, 1))
                    if overflow { throw RosterFlowError(.invalidInput, "--page \(page ?? 0) is past any run's last change") }
                    let start = page == nil ? offset ?? 0 : pageStart
                    var result = try options.open().syncChanges(
                        runID: id, entity: entity, operation: operation, limit: limit, offset: start)
                    result.next = result.nextOffset.map { nextCommand(offset: $0, limit: limit) }
                    if csv {
                        print(ReviewText.csv(result.items), terminator: "")
                        FileHandle.standardError.write(Data((ReviewText.paging(result) + "\n").utf8))
                    } else {
                        try Output.emit(result, json: options.json) { ReviewText.page($0) }
                    }
                }
            }

            /// The same command for the page at `offset`.
            func nextCommand(offset: Int, limit: Int) -> String {
                var words = ["rosterflow", "sync", "show", id, "--changes"]
                if let entity { words += ["--entity", entity] }
                if let operation { words += ["--op", operation] }
                if let limit = self.limit { words += ["--limit", String(limit)] }
                words += ["--offset", String(offset)]
                if csv { words.append("--csv") }
                if options.json { words.append("--json") }
                return words.joined(separator: " ")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Sync runs, newest first.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Only this integration's runs.") var integration: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let runs = try options.open().syncRuns(integrationID: integration)
                    try Output.emit(runs, json: options.json) { list in
                        list.isEmpty ? "no sync runs" : list.map {
                            "\($0.id)\t\($0.startedAt)\t\($0.integrationID)\t\($0.decision)\t\(SyncText.totals($0))"
                        }.joined(separator: "\n")
                    }
                }
            }
        }

        struct Approve: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Apply a held run; with --without-deletes apply its adds and updates and park its deletes.",
                discussion: """
                    A held run was planned on the roster as it was then: once a newer sync applied (or found the roster \
                    unchanged), approving it is refused as stale (exit 4); --replan plans the same bundle against today's \
                    roster as a new held run to review. A run that proposes merges of re-keyed users (the SIS changed a sourcedId) needs --merge or --no-merge: \
                    --merge keeps each pair as one user (the old sourcedId becomes an alias of the new one, its enrollments \
                    follow, and the DSP and webhook subscribers are told); --no-merge deletes the old record and adds the new one.
                    """)
            @OptionGroup var options: StoreOptions
            @Argument(help: "Sync run id.") var id: String
            @Flag(help: "Apply adds and updates only; keep the deletes parked.") var withoutDeletes = false
            @Flag(inversion: .prefixedNo, help: "Apply the run's proposed merges of re-keyed users (or decline them).")
            var merge: Bool?
            @Flag(help: "Apply nothing: plan the same bundle against today's roster as a new held run to review (for a stale run).")
            var replan = false
            @Flag(help: "A school-year rollover: start each new course that matches a mapped course of last year in `mapped`, with that course's catalog course and base id.")
            var carryForward = false

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let view = try await Cancel.onSignals(service) {
                        try await service.approveSync(
                            runID: id, withoutDeletes: withoutDeletes, merge: merge, replan: replan, carryForward: carryForward,
                            actor: options.actor)
                    }
                    try Output.emit(view, json: options.json) { SyncText.run($0, withReport: replan) }
                }
            }
        }

        struct Reject: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Drop a held run: nothing of it is applied.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Sync run id.") var id: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().rejectSync(runID: id, actor: options.actor)
                    try Output.emit(view, json: options.json) { SyncText.run($0, withReport: false) }
                }
            }
        }
    }

    struct Roster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The roster RosterFlow holds.", subcommands: [History.self])

        struct History: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every applied change of a record, with its sync run.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The record's sourcedId.") var sourcedId: String
            @Option(help: "The integration whose record it is (needed when several integrations have this sourcedId).")
            var integration: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let entries = try options.open().rosterHistory(sourcedID: sourcedId, integrationID: integration)
                    try Output.emit(entries, json: options.json) { list in
                        list.isEmpty ? "no change of \(sourcedId) was ever applied" : list.map {
                            "\(Date(timeIntervalSince1970: $0.at).ISO8601Format())  \($0.operation)\t\($0.entity) \($0.sourcedID)"
                                + ($0.mergedWith.map { " ⇄ \($0)" } ?? "")
                                + ($0.title.map { " (\($0))" } ?? "") + "  run \($0.runID), integration \($0.integrationID)"
                        }.joined(separator: "\n")
                    }
                }
            }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a OneRoster bundle (folder or .zip), or pull a OneRoster REST provider (--rest), with no integration and no database.")
        @Argument(help: "The bundle.") var path: String?
        @OptionGroup var rest: RESTSourceOptions
        @Flag(help: "Print the report as JSON.") var json = false
        @Flag(help: "Also list each row not loaded only because of a root cause (JSON always lists them).") var all = false
        @Option(parsing: .upToNextOption, help: "Reading tolerances to treat as errors, as an integration's policy can.")
        var strict: [String] = []

        func run() async throws {
            try await Output.run(json: json) {
                warnAboutInputLimitKnobs()
                removeExtractedBundlesOnSignals()
                var policy = SyncPolicy()
                policy.strict = Set(strict.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) })
                try policy.validate()
                let bundle: OneRosterBundle
                if rest.isGiven {
                    guard path == nil else { throw RosterFlowError(.invalidInput, "give either a bundle path or --rest, not both") }
                    // A full pull, read and validated; nothing is stored anywhere.
                    let source = RESTRosterSource(config: try rest.config(), progress: pullProgress(json: json))
                    do {
                        bundle = try source.read(options: .init(retainRecords: false, tolerance: policy.readingTolerance), held: NoHeldSourcedIds(), visitor: nil)
                    } catch {
                        throw RosterFlowError.wrap(error)
                    }
                    if pullProgress(json: json) != nil { FileHandle.standardError.write(Data("\n".utf8)) }
                } else {
                    guard let path else { throw RosterFlowError(.invalidInput, "give the bundle's path, or --rest URL for a REST provider") }
                    do {
                        bundle = try OneRosterBundleReader(options: .init(retainRecords: false, tolerance: policy.readingTolerance))
                            .read(at: URL(fileURLWithPath: path))
                    } catch {
                        throw RosterFlowError(.invalidInput, "cannot read the bundle at \(path): \(error)")
                    }
                }
                if json {
                    print(String(decoding: try bundle.report.jsonData(), as: UTF8.self))
                } else {
                    Output.text(bundle.report.rendered(maxPerFile: 50, all: all))
                }
                if bundle.report.hasErrors { throw ExitCode(65) }
            }
        }
    }

    struct SampleBundleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sample-bundle", abstract: "Write a realistic district OneRoster bundle (folder, or .zip by extension).")
        @Argument(help: "Output folder, or a path ending in .zip.") var out: String
        @Option(help: "Users (teachers and students).") var users = 1_000
        @Option(help: "Classes.") var classes = 40
        @Option(help: "Enrollments.") var enrollments = 4_000
        @Option(help: "OneRoster version: 1.1 or 1.2.") var version = "1.2"
        @Option(help: "Random seed (the same seed writes the same bundle).") var seed: UInt64 = 1
        @Option(help: "The school year (the year it ends; default \(SampleBundle.baseSchoolYear)): a later year writes the same district then (students a grade up, seniors gone, new course and class sourcedIds, some course codes kept, some renamed), to try a rollover.")
        var schoolYear: Int = SampleBundle.baseSchoolYear
        @Option(help: "Tolerated faults to write, one row each (comma list of \(SampleBundle.defectNames.joined(separator: ", ")); 'all' for all).")
        var defects: String?

        func run() async throws {
            try await Output.run(json: false) {
                guard version == "1.1" || version == "1.2" else {
                    throw RosterFlowError(.invalidInput, "--version is 1.1 or 1.2, not \(version)")
                }
                do {
                    let summary = try SampleBundle.write(
                        to: URL(fileURLWithPath: out), users: users, classes: classes, enrollments: enrollments, version: version,
                        seed: seed, schoolYear: schoolYear,
                        defects: defects == "all" ? SampleBundle.defectNames
                            : (defects ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                    Output.text("wrote \(out): \(summary.orgs) orgs, \(summary.academicSessions) sessions, \(summary.courses) courses, "
                          + "\(summary.classes) classes, \(summary.users) users, \(summary.enrollments) enrollments (OneRoster \(version), "
                          + "school year \(schoolYear - 1)–\(schoolYear % 100))" + (defects.map { "; defects: \($0)" } ?? ""))
                } catch {
                    throw RosterFlowError(.invalidInput, "cannot write the bundle: \(error)")
                }
            }
        }
    }
}

/// Sync policy options: for one run (`sync run`) or stored for an integration (`integrations policy`).
struct PolicyOptions: ParsableArguments {
    @Option(help: "Hold the run when a bulk file would delete more than this share (0–1) of users, classes or enrollments.")
    var maxDeleteShare: Double?
    @Option(help: "Hold the run when it would update more than this share (0–1) of an entity's records.")
    var maxUpdateShare: Double?
    @Option(help: "Entities a bulk file deletes by omission (comma list of orgs, academicSessions, courses, classes, users, enrollments, demographics; 'none' for none).")
    var implicitDeletes: String?
    @Option(parsing: .upToNextOption,
            help: "Reading tolerances to treat as errors, quarantining the row (\(IssueCode.tolerances.map(\.rawValue).joined(separator: ", ")); 'none' for none). Replaces the list.")
    var strict: [String] = []

    var isEmpty: Bool { maxDeleteShare == nil && maxUpdateShare == nil && implicitDeletes == nil && strict.isEmpty }

    func apply(to base: SyncPolicy) throws -> SyncPolicy {
        var policy = base
        if let maxDeleteShare { policy.maxDeleteShare = maxDeleteShare }
        if let maxUpdateShare { policy.maxUpdateShare = maxUpdateShare }
        if let implicitDeletes {
            policy.implicitDeletes = implicitDeletes == "none" ? []
                : Set(implicitDeletes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if !strict.isEmpty {
            let codes = strict.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            policy.strict = codes == ["none"] ? [] : Set(codes)
        }
        return policy
    }
}

enum SyncText {
    static func totals(_ run: SyncRunView) -> String {
        let adds = run.counts.values.map(\.adds).reduce(0, +)
        let updates = run.counts.values.map(\.updates).reduce(0, +)
        let deletes = run.counts.values.map(\.deletes).reduce(0, +)
        let parked = run.counts.values.map(\.parked).reduce(0, +)
        return "+\(adds) ~\(updates) -\(deletes)" + (parked > 0 ? " (\(parked) deletes parked)" : "")
    }

    static func run(_ run: SyncRunView, withReport: Bool) -> String {
        var lines = ["sync \(run.id) of \(run.integrationID): \(run.decision.uppercased())  (\(run.bundle))"]
        lines.append("  entity            held  incoming   adds  updates  deletes")
        for entity in RosterEntity.allCases {
            // An entity the district neither sends nor has is left out.
            guard let c = run.counts[entity.rawValue], c.held + c.incoming + c.deletes > 0 else { continue }
            lines.append("  " + entity.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0)
                + [c.held, c.incoming, c.adds, c.updates, c.deletes].map { String($0).leftPadded(to: 8) }.joined(separator: " "))
        }
        let parked = RosterEntity.allCases.compactMap { e in run.counts[e.rawValue].flatMap { $0.parked > 0 ? "\(e.rawValue) \($0.parked)" : nil } }
        if !parked.isEmpty { lines.append("  parked deletes (records kept, not deleted): " + parked.joined(separator: ", ")) }
        for reason in run.reasons { lines.append("  ! \(reason)") }
        if !run.merges.isEmpty {
            lines.append("  merges (\(run.merges.first?.status ?? "proposed")):")
            for merge in run.merges {
                lines.append("    \(merge.entity) \(merge.oldID) → \(merge.newID)  (same \(merge.matchedOn): \(merge.value))")
            }
        }
        if !run.carryForward.isEmpty {
            lines.append("  carry-forward (`sync approve \(run.id) --carry-forward`), new course ← last year's mapped course:")
            for p in run.carryForward {
                lines.append("    " + p.summary)
            }
        }
        lines.append("  issues: \(run.errorCount) errors, \(run.warningCount) warnings")
        if withReport, let report = run.report, !report.issues.isEmpty {
            lines.append(report.rendered(maxPerFile: 20).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        }
        for step in run.lifecycle { lines.append("  " + Text.step(step)) }
        switch run.decision {
        case "held":
            let merging = run.merges.isEmpty ? "" : " --merge|--no-merge"
            let review = "  held for review: `rosterflow sync show \(run.id) --changes` lists its changes; then "
            if !run.carryForward.isEmpty {
                // A plain approval maps every new course anew: say so where the choice is made.
                let count = run.carryForward.count
                lines.append(review + "`rosterflow sync approve \(run.id) --carry-forward\(merging)` to start the \(count) matching new "
                    + "course\(count == 1 ? "" : "s") from last year's mappings, or `rosterflow sync approve \(run.id)\(merging)` "
                    + "to map every new course anew (either with [--without-deletes]), or `rosterflow sync reject \(run.id)`")
            } else {
                lines.append(review + "`rosterflow sync approve \(run.id)\(merging)` [--without-deletes] or `rosterflow sync reject \(run.id)`")
            }
        case "dry-run":
            lines.append("  nothing was applied: `rosterflow sync show \(run.id) --changes` lists what it would change")
        case "rejected":
            lines.append("  nothing was applied")
        default:
            break
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
