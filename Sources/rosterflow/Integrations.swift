import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowEngine

extension RosterFlowCommand {
    struct Integrations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "District integrations: request, authenticate, schedule, inspect and advance.",
            subcommands: [Request.self, Authenticate.self, Schedule.self, Source.self, Policy.self, Pause.self, Resume.self, Show.self, List.self, Advance.self, Mode.self, SignIn.self])

        struct Request: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Record that a district enabled the app in ClassLink (a new integration in 'requested').")
            @OptionGroup var options: StoreOptions
            @Option(help: "ClassLink tenant id.") var tenant: String
            @Option(help: "District name.") var district: String
            @Option(help: "ClassLink permission type: rule-based, full or legacy-custom.") var permission: String
            @Option(help: "The district contact's e-mail.") var contact: String
            @Option(name: .customLong("as"), help: "Act as this role.") var role: Role = .system

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().requestIntegration(
                        tenantID: tenant, district: district, permission: permission, contactEmail: contact,
                        sender: Sender(actor: options.actor, role: role))
                    try Output.emit(view, json: options.json, text: Text.integration)
                }
            }
        }

        struct Authenticate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check the request against the customer registry: authenticated, held for review, or rejected.",
                discussion: """
                    The tenant must be a customer, the district name and the contact's e-mail domain must match its registry \
                    record, and the tenant must have no other open integration. A customer's request that differs is held for \
                    review (needs_review) with both records side by side; after comparing them, confirm it with \
                    --confirm-mismatch --reason "…", or reject it with `integrations advance ID reject --as vendor-admin`.
                    """)
            @OptionGroup var options: StoreOptions
            @Argument(help: "Integration id.") var id: String
            @Option(name: .customLong("as"), help: "Act as this role (default: the role the step needs).") var role: Role?
            @Flag(help: "Authenticate a request held for review although it differs from the registry (needs --reason).")
            var confirmMismatch = false
            @Option(help: "Why the held request is the customer; stored in history.") var reason: String?

            func validate() throws {
                if confirmMismatch, reason?.trimmingCharacters(in: .whitespaces).isEmpty ?? true {
                    throw ValidationError("--confirm-mismatch needs --reason \"…\": say why this request is the customer")
                }
                if reason != nil, !confirmMismatch {
                    throw ValidationError("--reason goes with --confirm-mismatch")
                }
            }

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let step = try await service.authenticate(
                        integrationID: id, role: role, actor: options.actor, confirmMismatch: confirmMismatch, reason: reason)
                    try Output.emit(step, json: options.json, text: Text.step)
                    if step.to == "needs_review", !options.json, let check = try service.integration(id: id).registryCheck {
                        print(check.sideBySide)
                        print("held for review: compare both records, then `rosterflow integrations authenticate \(id) --confirm-mismatch "
                              + "--reason \"…\"` or `rosterflow integrations advance \(id) reject --as vendor-admin --reason \"…\"`")
                    }
                    if step.to == "rejected", !options.json {
                        Output.text("hint: if this district is a customer, add it with `rosterflow customers import FILE.csv`, "
                              + "then `rosterflow integrations advance \(id) reconsider --as vendor-admin` and authenticate again")
                    }
                }
            }
        }

        struct Schedule: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Store the school's preferred daily sync time (local HH:MM in an IANA time zone).")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Integration id.") var id: String
            @Option(help: "Local time of day, HH:MM (24-hour).") var time: String
            @Option(help: "IANA time zone, e.g. America/Chicago.") var timezone: String
            @Option(name: .customLong("as"), help: "Act as this role (default: the role the step needs).") var role: Role?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let step = try await service.schedule(
                        integrationID: id, time: time, timezone: timezone, role: role, actor: options.actor)
                    if options.json { try Output.json(step) } else {
                        Output.text(Text.step(step))
                        let view = try service.integration(id: id)
                        Output.text("next sync: \(view.nextSyncAt ?? "?") (UTC) = \(view.syncTime ?? "?") \(view.timezone ?? "")")
                    }
                }
            }
        }

        struct Source: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set what the nightly sync reads: a bundle folder or .zip, or a OneRoster REST provider.",
                discussion: """
                    --bundle PATH reads a CSV bundle. --rest URL --version 1.1|1.2 --client-id ID --secret-env VAR \
                    [--token-url URL] [--scope S] pulls from the district's OneRoster REST server: 1.1 without a token URL \
                    signs each request with OAuth 1.0a HMAC-SHA256 (ClassLink), otherwise an OAuth 2 client-credentials \
                    token is used. Only the variable (or --secret-file) is stored, never the secret.
                    """)
            @OptionGroup var options: StoreOptions
            @Argument(help: "Integration id.") var id: String
            @Option(help: "The bundle folder or .zip.") var bundle: String?
            @OptionGroup var rest: RESTSourceOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let described: String
                    if let bundle {
                        guard !rest.isGiven else {
                            throw RosterFlowError(.invalidInput, "give either --bundle or --rest, not both")
                        }
                        let path = URL(fileURLWithPath: bundle).standardizedFileURL.path
                        try await service.setSyncSource(integrationID: id, source: path, actor: options.actor)
                        described = path
                    } else if rest.isGiven {
                        let config = try rest.config()
                        try await service.setRESTSyncSource(integrationID: id, config: config, actor: options.actor)
                        described = config.summary + (config.delta ? ", delta pulls" : "")
                    } else {
                        throw RosterFlowError(.invalidInput, "give --bundle PATH or --rest URL (with --version, --client-id and --secret-env)")
                    }
                    try Output.emit(try service.integration(id: id), json: options.json) { view in
                        "\(view.id) syncs nightly from \(described)" + (view.nextSyncAt.map { "; next run \($0) (UTC)" } ?? "; not scheduled yet")
                    }
                }
            }
        }

        struct Policy: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Show or set what the integration's bulk files delete by omission and when a sync is held.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Integration id.") var id: String
            @OptionGroup var policyOptions: PolicyOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    var policy = try service.syncPolicy(integrationID: id)
                    if !policyOptions.isEmpty {
                        policy = try policyOptions.apply(to: policy)
                        try await service.setSyncPolicy(integrationID: id, policy: policy, actor: options.actor)
                    }
                    try Output.emit(policy, json: options.json) { p in
                        "\(id): bulk files delete by omission: "
                            + (p.implicitDeletes.isEmpty ? "nothing" : p.implicitDeletes.sorted().joined(separator: ", "))
                            + "; hold when deleting more than \(Int(p.maxDeleteShare * 100))% of users, classes or enrollments"
                            + " or updating more than \(Int(p.maxUpdateShare * 100))% of an entity"
                            + "; reading tolerances treated as errors: "
                            + (p.strict.isEmpty ? "none" : p.strict.sorted().joined(separator: ", "))
                    }
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "An integration with its history and allowed events.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Integration id.") var id: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    try Output.emit(try options.open().integration(id: id), json: options.json, text: Text.integration)
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List integrations, oldest first.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Only integrations in this state.") var state: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let views = try options.open().integrations(state: state)
                    try Output.emit(views, json: options.json) { list in
                        list.isEmpty ? "no integrations" + (state.map { " in state '\($0)'" } ?? "")
                            : list.map { "\($0.id)\t\($0.state)\t\($0.district)\t\($0.tenantID)\tcourses: \($0.courseCount)" }
                                .joined(separator: "\n")
                    }
                }
            }
        }

        struct Advance: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Send any workflow event to an integration (or a course) as a given role.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Integration (or course) id.") var id: String
            @Argument(help: "The event, e.g. go_live, hold, resume, disable.") var event: String
            @Option(name: .customLong("as"), help: "The role sending the event.") var role: Role
            @Option(help: "Why; stored in history.") var reason: String?
            @Option(help: "Refuse unless the instance is still at this row version (from `show --json`).")
            var expectVersion: Int?
            @Flag(help: "With resume: keep the integration's held sync run held (give --reason; it is recorded on the run).")
            var keepHeld = false

            func run() async throws {
                try await Output.run(json: options.json) {
                    let step = try await options.open().send(
                        event, to: id, role: role, actor: options.actor, reason: reason, expectedRowVersion: expectVersion,
                        keepHeldRun: keepHeld)
                    try Output.emit(step, json: options.json, text: Text.step)
                }
            }
        }
    }
}
