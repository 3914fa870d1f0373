import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowEngine

extension RosterFlowCommand {
    struct Courses: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Course shells and their mapping to catalog courses.",
            subcommands: [
                Add.self, Map.self, Suggest.self, Verify.self, ContentAdded.self, StudentStarted.self, Show.self, List.self,
                Export.self, Import.self,
            ])

        /// The arguments of the single-course steps.
        struct CourseStep: ParsableArguments {
            @OptionGroup var options: StoreOptions
            @Argument(help: "Course id (crs_…) or the school's course sourcedId.") var reference: String
            @Option(help: "The integration whose course sourcedId this is (needed when several districts have it).")
            var integration: String?
            @Option(name: .customLong("as"), help: "Act as this role (default: the role the step needs).") var role: Role?

            /// The course id the reference names.
            func id(_ service: RosterFlowService) throws -> String {
                try service.courseID(for: reference, integrationID: integration)
            }
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create a course shell and its mapping workflow.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Integration id.") var integration: String
            @Option(help: "The course's OneRoster sourcedId.") var sourcedId: String
            @Option(help: "The course title.") var title: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().addCourse(
                        integrationID: integration, sourcedID: sourcedId, title: title, sender: Sender(actor: options.actor, role: .system))
                    try Output.emit(view, json: options.json, text: Text.course)
                }
            }
        }

        struct Map: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Map the course to a catalog course (allowed until a student starts it).")
            @OptionGroup var step: CourseStep
            @Option(help: "The catalog course's base id (`rosterflow courses suggest` proposes some).") var baseId: String
            @Option(help: "The catalog course's title (taken from the vendor catalog when one is imported).") var catalog: String?
            @Flag(help: "Map it although another course of the district is already mapped to this base id.")
            var confirmShared = false
            @Flag(help: "Map it although the SIS gives the course other grades than the catalog course's.")
            var confirmGrades = false
            @Option(help: "Why (needed to re-map a course whose content is in place: its content goes).") var reason: String?

            func run() async throws {
                try await Output.run(json: step.options.json) {
                    let service = try step.options.open()
                    let result = try await service.mapCourse(
                        id: try step.id(service), catalogTitle: catalog, baseID: baseId, role: step.role, actor: step.options.actor,
                        confirmShared: confirmShared, confirmGrades: confirmGrades, reason: reason)
                    try Output.emit(result, json: step.options.json, text: Text.step)
                }
            }
        }

        struct Suggest: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Catalog courses that match a school course, best first, with the evidence for each.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Course id (crs_…) or the school's course sourcedId.") var reference: String
            @Option(help: "The integration whose course sourcedId this is.") var integration: String?
            @Option(help: "At most this many.") var limit = 5

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let id = try service.courseID(for: reference, integrationID: integration)
                    let suggestions = try service.catalogSuggestions(courseID: id, limit: max(1, limit))
                    try Output.emit(suggestions, json: options.json) { list in
                        list.isEmpty ? "no catalog course shares a title word with \(reference) (`rosterflow catalog list` shows the catalog)"
                            : list.map { "\($0.baseID)\t\($0.title)\tscore \($0.score)\n    " + $0.evidence.joined(separator: "; ") }
                                .joined(separator: "\n")
                    }
                }
            }
        }

        /// The arguments of the steps that take several courses.
        struct CourseItems: ParsableArguments {
            @OptionGroup var options: StoreOptions
            @Argument(help: "Course ids (crs_…) or the school's course sourcedIds.") var references: [String] = []
            @Option(help: "The integration whose course sourcedIds these are.") var integration: String?
            @Option(name: .customLong("as"), help: "Act as this role (default: the role the step needs).") var role: Role?

            /// Applies `event` to each course: one course prints its step as before; several print one line each, and
            /// the command fails (exit 3) when any was refused, after the others were applied.
            /// With `all`, the courses come from it (read from the service this run opens) instead of the arguments.
            func run(_ event: String, all: ((RosterFlowService) throws -> [String])? = nil) async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let references = try all.map { try $0(service) } ?? self.references
                    if all == nil, references.count == 1 {
                        let id = try service.courseID(for: references[0], integrationID: integration)
                        let result = try await service.send(event, to: id, role: role, actor: options.actor)
                        try Output.emit(result, json: options.json, text: Text.step)
                        return
                    }
                    guard !references.isEmpty else {
                        throw RosterFlowError(.invalidInput, all == nil ? "name at least one course" : "no course is waiting for this step")
                    }
                    let result = await service.bulkCourseStep(
                        event, references: references, integrationID: integration, role: role, actor: options.actor)
                    try Output.emit(result, json: options.json, text: Text.items)
                    if result.refused > 0 {
                        throw RosterFlowError(.refused, "\(result.refused) of \(result.items.count) were refused (listed above); the others were applied")
                    }
                }
            }
        }

        struct Verify: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The school confirms courses' catalog matches (one, several, or --all awaiting verification).")
            @OptionGroup var items: CourseItems
            @Flag(help: "Every course of --integration that awaits verification.") var all = false

            func run() async throws {
                guard all else { return try await items.run("verify") }
                guard let integration = items.integration else { throw ValidationError("--all needs --integration") }
                try await items.run("verify") { service in try service.courseIDs(integrationID: integration, state: "mapped") }
            }
        }

        struct ContentAdded: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The DSP has added the content of one or more courses.")
            @OptionGroup var items: CourseItems

            func run() async throws {
                try await items.run("add_content")
            }
        }

        struct Export: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write an integration's course map as CSV to fill in a spreadsheet (base_id, verified) and import again.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Integration id.") var integration: String
            @Option(help: "Write to this file (default: standard output).") var out: String?

            func run() async throws {
                try await Output.run(json: false) {
                    let csv = try options.open().exportCourseMap(integrationID: integration)
                    if let out {
                        guard FileManager.default.createFile(atPath: out, contents: Data(csv.utf8)) else {
                            throw RosterFlowError(.storage, "cannot write \(out)")
                        }
                        Output.text("wrote the course map of \(integration) to \(out)")
                    } else {
                        FileHandle.standardOutput.write(Data(csv.utf8))
                    }
                }
            }
        }

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Read a filled course map back: every row checked first, then each applied as map and/or verify.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The CSV file (from `courses export`).") var file: String
            @Option(help: "Integration id.") var integration: String
            @Flag(help: "Apply the good rows even when some are wrong (each wrong row is listed).") var partial = false
            @Flag(help: "Allow two courses of the district on one base id.") var confirmShared = false
            @Option(name: .customLong("as"), help: "Act as this role (default: the role each step needs).") var role: Role?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let text = try TextFile.read(file)
                    let result = try await options.open().importCourseMap(
                        csv: text, file: file, integrationID: integration, role: role, actor: options.actor, partial: partial,
                        confirmShared: confirmShared)
                    try Output.emit(result, json: options.json, text: Text.items)
                    if result.refused > 0 {
                        throw RosterFlowError(.refused, "\(result.refused) row(s) were not applied (listed above); the others were")
                    }
                }
            }
        }

        struct StudentStarted: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "A student started the course: its mapping locks and its base id can no longer change.")
            @OptionGroup var step: CourseStep

            func run() async throws {
                try await Output.run(json: step.options.json) {
                    let service = try step.options.open()
                    let id = try step.id(service)
                    if let result = try await service.studentStarted(id: id, role: step.role, actor: step.options.actor) {
                        try Output.emit(result, json: step.options.json, text: Text.step)
                    } else {
                        let view = try service.course(id: id)
                        try Output.emit(view, json: step.options.json) { "\($0.id) was already locked since \($0.lockedAt ?? "?")" }
                    }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "A course with its mapping, history and allowed events.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Course id (crs_…) or the school's course sourcedId.") var reference: String
            @Option(help: "The integration whose course sourcedId this is.") var integration: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let id = try service.courseID(for: reference, integrationID: integration)
                    try Output.emit(try service.course(id: id), json: options.json, text: Text.course)
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The courses of an integration.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Integration id.") var integration: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let views = try options.open().courses(integrationID: integration)
                    try Output.emit(views, json: options.json) { list in
                        list.isEmpty ? "no courses" : list.map {
                            "\($0.id)\t\($0.state)\t\($0.sourcedID)\t\($0.title)\t\($0.catalogTitle ?? "-")"
                        }.joined(separator: "\n")
                    }
                }
            }
        }
    }

    struct Tasks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What must happen next, oldest first, each naming who owns the next step.")
        @OptionGroup var options: StoreOptions
        @Option(help: "Only this integration and its courses.") var integration: String?

        func run() async throws {
            try await Output.run(json: options.json) {
                let tasks = try options.open().tasks(integrationID: integration)
                try Output.emit(tasks, json: options.json) { list in
                    list.isEmpty ? "nothing is waiting" : list.map {
                        "\($0.waitingSince)  \($0.ownerLabel.padding(toLength: 12, withPad: " ", startingAt: 0)) \($0.todo)  [\($0.instanceID), \($0.state)]"
                            + ($0.registryCheck.map { "\n" + $0.sideBySide.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n") } ?? "")
                    }.joined(separator: "\n")
                }
            }
        }
    }

    struct Timers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Durable timers (reminders) and daily digests. `rosterflow timers fire` sends every event and digest that is due.",
            subcommands: [Fire.self])

        struct Fire: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send every timer event that is due now, and write the daily digests that are due.")
            @OptionGroup var options: StoreOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let fired = try await service.fireDueTimers()
                    let digests = try await service.sendDueDigests()
                    struct Fired: Encodable { var timers: [FiredTimer]; var digests: [DigestSent] }
                    // JSON keeps its earlier shape (the list of timers) when no digest was written.
                    if options.json, digests.isEmpty {
                        try Output.emit(fired, json: true) { _ in "" }
                        return
                    }
                    try Output.emit(Fired(timers: fired, digests: digests), json: options.json) { result in
                        let timers = result.timers.isEmpty ? ["no timer is due"] : result.timers.map {
                            "\($0.instanceID): \($0.event) (due \($0.dueAt))" + ($0.refusal.map { " — not applied: \($0)" } ?? " — applied")
                        }
                        let digests = result.digests.map {
                            "\($0.integrationID): \($0.template) to \($0.recipient) for \($0.localDate) (\($0.courses) course(s))"
                        }
                        return (timers + digests).joined(separator: "\n")
                    }
                }
            }
        }
    }
}

extension Text {
    static func items(_ result: CourseItemsResult) -> String {
        let lines = result.items.map { item -> String in
            let what = item.action == "-" ? "nothing to do" : item.action
            switch item.result {
            case .applied: return "\(item.line): \(item.course) — \(what): applied"
            case .unchanged: return "\(item.line): \(item.course) — unchanged"
            case .refused: return "\(item.line): \(item.course) — \(what): refused: \(item.message ?? "")"
            }
        }
        let unchanged = result.items.count - result.applied - result.refused
        return (lines + ["\(result.applied) applied, \(result.refused) refused, \(unchanged) unchanged"]).joined(separator: "\n")
    }
}
