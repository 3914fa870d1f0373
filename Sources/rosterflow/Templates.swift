import ArgumentParser
import Foundation
import Notifications
import RosterFlowCore

extension RosterFlowCommand {
    struct Templates: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "E-mail templates: check them against the workflows, preview one for an integration.",
            subcommands: [Check.self, Preview.self])

        struct Check: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Load every template (a variable its event does not provide is an error) and check that each template the workflows send exists.")
            @OptionGroup var options: StoreOptions
            @OptionGroup var notify: NotificationOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    let catalog = try notify.catalog(try notify.load())
                    let uses = try options.open().notificationUses()
                    try catalog.check(uses: uses.map { (workflow: $0.workflow, template: $0.template) })
                    try Output.emit(uses, json: options.json) { list in
                        "ok: \(catalog.templates.count) templates; the workflows send:\n"
                            + list.map { "  \($0.workflow): \($0.template) → \($0.recipient)" }.joined(separator: "\n")
                    }
                }
            }
        }

        struct Preview: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Render a template (subject, text and HTML) with an integration's (or a course's) current values.")
            @OptionGroup var options: StoreOptions
            @OptionGroup var notify: NotificationOptions
            @Argument(help: "Template name, e.g. sync-time-needed.") var name: String
            @Option(help: "Integration id.") var integration: String?
            @Option(help: "Course id (for course templates).") var course: String?
            @Option(help: "A held sync's report text (sync-held).") var report: String?
            @Option(help: "A held sync run's id (sync-held).") var syncRun: String?

            func validate() throws {
                guard (integration == nil) != (course == nil) else {
                    throw ValidationError("pass --integration ID or --course ID")
                }
            }

            struct Rendered: Encodable {
                var template: String
                var subject: String
                var text: String
                var html: String
            }

            func run() async throws {
                try await Output.run(json: options.json) {
                    let catalog = try notify.catalog(try notify.load())
                    guard let template = catalog[name] else {
                        throw RosterFlowError(
                            .notFound, "no template '\(name)'; templates: \(catalog.templates.keys.sorted().joined(separator: ", "))")
                    }
                    var extra: [String: String] = ["message_id": "preview@rosterflow.local", "recipient": "preview"]
                    if let report { extra["report"] = report }
                    if let syncRun { extra["sync_run"] = syncRun }
                    let values = try options.open().notificationValues(instanceID: integration ?? course ?? "", extra: extra)
                    let mail = template.render(values)
                    let rendered = Rendered(template: name, subject: mail.subject, text: mail.text, html: mail.html)
                    try Output.emit(rendered, json: options.json) { r in
                        "Subject: \(r.subject)\n\n--- text/plain ---\n\(r.text)\n--- text/html ---\n\(r.html)"
                    }
                }
            }
        }
    }
}
