import ArgumentParser
import Foundation
import RosterFlowCore
import StorageCore
import WorkflowEngine

extension ProvisioningMode: ExpressibleByArgument {}

extension RosterFlowCommand.Integrations {
    struct Mode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set how an integration provisions the platform: pre-provisioned (course shells) or on-demand (teachers import classes).",
            discussion: """
                Refused once the other mode has created something: course shells for pre-provisioned, imported classes for \
                on-demand. An on-demand integration's nightly sync keeps the held roster but creates no course shells.
                """)
        @OptionGroup var options: StoreOptions
        @Argument(help: "Integration id.") var id: String
        @Argument(help: "on-demand or pre-provisioned.") var mode: ProvisioningMode

        func run() async throws {
            try await Output.run(json: options.json) {
                let set = try await options.open().setProvisioningMode(integrationID: id, mode: mode, actor: options.actor)
                try Output.emit(["integrationID": id, "provisioningMode": set.rawValue], json: options.json) { _ in
                    "\(id): \(set.rawValue)"
                }
            }
        }
    }
}

extension RosterFlowCommand {
    struct Identities: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign-in identities linked to OneRoster users, and the queue of those that could not be linked.",
            subcommands: [SignIn.self, Unlinked.self, Link.self])

        struct SignIn: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "sign-in",
                abstract: "Record a verified sign-in: link it to its OneRoster user and place a student in their imported classes.",
                discussion: """
                    The district is the integration whose tenant id is --tenant; the user is the one with --sourced-id, else \
                    --username, else --email, accepted only when exactly one user of that district matches. A sign-in that \
                    cannot be linked gets a support code and waits in `identities unlinked`.
                    """)
            @OptionGroup var options: StoreOptions
            @Option(help: "The sign-in provider.") var provider: String = "classlink"
            @Option(help: "The district's tenant id in the sign-in.") var tenant: String
            @Option(name: .customLong("user-id"), help: "The provider's user id.") var userID: String
            @Option(name: .customLong("sourced-id"), help: "The OneRoster sourcedId the provider gave, if any.") var sourcedID: String?
            @Option(help: "The login name the provider gave, if any.") var username: String?
            @Option(help: "The e-mail the provider gave, if any.") var email: String?

            struct Outcome: Encodable {
                var link: IdentityLinkView
                var placements: [PlacementView]?
            }

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let link = try await service.linkIdentity(IdentityClaims(
                        provider: provider, tenantID: tenant, providerUserID: userID, sourcedID: sourcedID, username: username,
                        email: email), actor: options.actor)
                    var placements: [PlacementView]?
                    if link.linked, let user = link.sourcedID, link.roles.contains("student") {
                        placements = try await service.placeStudent(user, integrationID: link.integrationID)
                    }
                    try Output.emit(Outcome(link: link, placements: placements), json: options.json) { outcome in
                        guard outcome.link.linked else {
                            return "not linked: \(outcome.link.reason ?? "?")\nsupport code \(outcome.link.supportCode ?? "?") "
                                + "(`rosterflow identities link \(outcome.link.supportCode ?? "CODE") --user SOURCEDID`)"
                        }
                        var lines = ["linked to \(outcome.link.name ?? "?") (\(outcome.link.sourcedID ?? "?")) in \(outcome.link.integrationID ?? "?") "
                            + "by \(outcome.link.matchedOn ?? "?"); roles: \(outcome.link.roles.isEmpty ? "none" : outcome.link.roles.joined(separator: ", "))"]
                        lines += (outcome.placements ?? []).map(Self.placement)
                        return lines.joined(separator: "\n")
                    }
                }
            }

            static func placement(_ p: PlacementView) -> String {
                "  \(p.classSourcedID)\t\(p.status)\t\(p.message)"
            }
        }

        struct Unlinked: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Sign-ins that could not be linked, oldest first, with their support codes.")
            @OptionGroup var options: StoreOptions
            @Flag(help: "Also those already linked by hand.") var all = false

            func run() async throws {
                try await Output.run(json: options.json) {
                    let queue = try options.open().unlinkedIdentities(includeResolved: all)
                    try Output.emit(queue, json: options.json) { queue in
                        queue.isEmpty ? "no unlinked sign-ins" : queue.map { entry in
                            "\(entry.supportCode)\t\(entry.provider) user \(entry.providerUserID), tenant \(entry.tenantID)\t\(entry.reason)"
                                + (entry.resolvedSourcedID.map { "\tlinked to \($0) by \(entry.resolvedBy ?? "?")" } ?? "")
                        }.joined(separator: "\n")
                    }
                }
            }
        }

        struct Link: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Link a queued sign-in (by its support code) to a OneRoster user of its district, by hand.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The support code, e.g. RF-K3M9X2PQ.") var code: String
            @Option(help: "The OneRoster user's sourcedId.") var user: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let link = try await options.open().resolveUnlinked(supportCode: code, sourcedID: user, actor: options.actor)
                    try Output.emit(link, json: options.json) { link in
                        "\(code.uppercased()) linked to \(link.name ?? "?") (\(link.sourcedID ?? "?")) in \(link.integrationID ?? "?") (manual)"
                    }
                }
            }
        }
    }

    struct Classes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On-demand rostering: the classes a teacher teaches, and importing them.",
            subcommands: [Available.self, Import.self, Rollover.self, Restore.self, AddStudent.self, RemoveStudent.self])

        struct Available: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "The classes the held roster says a teacher teaches, by term, with course, periods, students and co-teachers.")
            @OptionGroup var options: StoreOptions
            @Option(help: "The teacher's OneRoster sourcedId.") var teacher: String
            @Option(help: "The integration, when several districts have this sourcedId.") var integration: String?

            static func line(_ c: AvailableClassView) -> String {
                let period = c.periods.isEmpty ? "-" : c.periods.joined(separator: ",")
                let coTeachers = c.coTeachers.isEmpty ? "none" : c.coTeachers.joined(separator: ", ")
                let state = c.state + (c.importedBy.map { " by \($0)" } ?? "")
                let course = c.course ?? "-"
                return "  \(c.classSourcedID)\t\(c.title)\t\(course)\tperiod \(period)\t\(c.studentCount) students\tco-teachers: \(coTeachers)\t\(state)"
            }

            static func term(_ term: TermClassesView) -> String {
                let dates = term.startDate.flatMap { start in term.endDate.map { "\(start) to \($0)" } }
                let heading = term.term + ([dates, term.schoolYear.map { "school year \($0)" }].compactMap { $0 }.map { " (\($0))" }.joined())
                    + (term.current ? "\tcurrent term" : "")
                return ([heading] + term.classes.map(line)).joined(separator: "\n")
            }

            func run() async throws {
                try await Output.run(json: options.json) {
                    let terms = try options.open().availableClasses(teacher: teacher, integrationID: integration)
                    try Output.emit(terms, json: options.json) { terms in
                        terms.isEmpty ? "the roster lists no classes taught by \(teacher)" : terms.map(Self.term).joined(separator: "\n")
                    }
                }
            }
        }

        struct Rollover: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "A teacher's offers of next term's classes; --accept imports the newest open offer's classes in one go.",
                discussion: """
                    When a teacher's imported classes end (their term's end date passes; class-import version 2 checks once a \
                    day) and they teach classes of the same courses next term, they are told once by e-mail and offered these \
                    classes. --accept imports them all for the teacher (a class a co-teacher imported already is joined); \
                    --decline dismisses the offer.
                    """)
            @OptionGroup var options: StoreOptions
            @Option(help: "The teacher's OneRoster sourcedId.") var teacher: String
            @Option(help: "The integration, when several districts have this sourcedId.") var integration: String?
            @Flag(help: "Import the offered classes.") var accept = false
            @Flag(help: "Dismiss the offer.") var decline = false

            func validate() throws {
                if accept && decline { throw ValidationError("give --accept or --decline, not both") }
            }

            static func offer(_ o: NextTermOfferRecord) -> String {
                (["\(o.endedTerm) ended: \(o.classes.count) class\(o.classes.count == 1 ? "" : "es") next term\t\(o.status)"
                    + (o.decidedBy.map { " by \($0)" } ?? "")]
                    + o.classes.map { "  \($0.classSourcedID)\t\($0.title)\tafter \($0.endedClassSourcedID)" }).joined(separator: "\n")
            }

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    guard accept || decline else {
                        let offers = try service.nextTermOffers(teacher: teacher, integrationID: integration)
                        try Output.emit(offers, json: options.json) { offers in
                            offers.isEmpty ? "no offer of next term's classes for \(teacher)" : offers.map(Self.offer).joined(separator: "\n")
                        }
                        return
                    }
                    let answer = try await service.answerNextTermOffer(teacher: teacher, accept: accept, integrationID: integration, actor: options.actor)
                    try Output.emit(answer, json: options.json) { answer in
                        ([Self.offer(answer.offer)] + answer.imports.map { r in
                            "\(r.classSourcedID)\t\(r.outcome)" + (r.reason.map { "\t\($0)" } ?? "")
                                + (r.placed > 0 ? "\t\(r.placed) waiting student\(r.placed == 1 ? "" : "s") placed" : "")
                        }).joined(separator: "\n")
                    }
                    if answer.imports.contains(where: { $0.outcome == "refused" }) { throw ExitCode(3) }
                }
            }
        }

        struct Restore: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Restore an archived imported class: its students' archived memberships become active again.",
                discussion: """
                    The class goes back to imported while its term runs, else to restored (open, without end-of-term timers). \
                    Sent as the vendor admin unless --as says otherwise; the workflow decides who may.
                    """)
            @OptionGroup var options: StoreOptions
            @Argument(help: "The class's sourcedId.") var classID: String
            @Option(help: "The integration.") var integration: String
            @Option(name: .customLong("as"), help: "The role sending the event (default: vendor-admin).") var role: Role?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let result = try await options.open().restoreClass(
                        classID: classID, integrationID: integration, actor: options.actor, role: role ?? .vendorAdmin)
                    try Output.emit(result, json: options.json) { r in
                        "\(r.classSourcedID): \(r.state); \(r.restoredStudents) student\(r.restoredStudents == 1 ? "" : "s") restored"
                    }
                }
            }
        }

        struct AddStudent: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "add-student", abstract: "Refused for an imported class: its roster comes from the SIS (make the change there).")
            @OptionGroup var change: HandRosterChange
            func run() async throws { try await change.run() }
        }

        struct RemoveStudent: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "remove-student", abstract: "Refused for an imported class: its roster comes from the SIS (make the change there).")
            @OptionGroup var change: HandRosterChange
            func run() async throws { try await change.run() }
        }

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Import classes for a teacher: only classes they teach; a class a co-teacher imported is joined, never duplicated.")
            @OptionGroup var options: StoreOptions
            @Option(help: "The teacher's OneRoster sourcedId.") var teacher: String
            @Option(help: "The integration, when several districts have this sourcedId.") var integration: String?
            @Argument(help: "Class sourcedIds.") var classes: [String]

            func run() async throws {
                try await Output.run(json: options.json) {
                    let results = try await options.open().importClasses(
                        teacher: teacher, classes: classes, integrationID: integration, actor: options.actor)
                    try Output.emit(results, json: options.json) { results in
                        results.map { r in
                            "\(r.classSourcedID)\t\(r.outcome)" + (r.reason.map { "\t\($0)" } ?? "")
                                + (r.placed > 0 ? "\t\(r.placed) waiting student\(r.placed == 1 ? "" : "s") placed" : "")
                        }.joined(separator: "\n")
                    }
                    if results.contains(where: { $0.outcome == "refused" }) { throw ExitCode(3) }
                }
            }
        }
    }

    /// Hand changes to an imported roster: refused, the SIS owns it.
    struct HandRosterChange: ParsableArguments {
        @OptionGroup var options: StoreOptions
        @Argument(help: "The class's sourcedId.") var classID: String
        @Option(help: "The student's sourcedId.") var student: String
        @Option(help: "The integration.") var integration: String

        func run() async throws {
            try await Output.run(json: options.json) {
                try await options.open().changeImportedRoster(classID: classID, integrationID: integration, user: student)
            }
        }
    }

    struct Students: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "On-demand rostering: where students are placed.",
                                                        subcommands: [Placements.self])

        struct Placements: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Every class a student is enrolled in: placed, pending (which teacher it waits for), archived or not signed in.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "The student's OneRoster sourcedId.") var student: String
            @Option(help: "The integration, when several districts have this sourcedId.") var integration: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let placements = try options.open().placements(student: student, integrationID: integration)
                    try Output.emit(placements, json: options.json) { list in
                        list.isEmpty ? "the roster enrolls \(student) in no class" : list.map(Identities.SignIn.placement).joined(separator: "\n")
                    }
                }
            }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Explain RosterFlow's decisions in plain words.",
                                                        subcommands: [Placement.self])

        struct Placement: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Why a student is, or is not, in a class: sign-in link, enrollment, import, last sync.")
            @OptionGroup var options: StoreOptions
            @Option(help: "The student's OneRoster sourcedId.") var student: String
            @Option(name: .customLong("class"), help: "The class's OneRoster sourcedId.") var classID: String
            @Option(help: "The integration, when several districts have this sourcedId.") var integration: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let explanation = try options.open().explainPlacement(student: student, classID: classID, integrationID: integration)
                    try Output.emit(explanation, json: options.json) { e in
                        (["\(e.studentSourcedID) in \(e.classSourcedID): \(e.status)"] + e.steps.enumerated().map { "  \($0.offset + 1). \($0.element)" })
                            .joined(separator: "\n")
                    }
                }
            }
        }
    }
}
