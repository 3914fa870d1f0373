import Foundation
import Mustache
import StorageCore

/// The values an outbox message's payload may carry, by workflow: the keys ``NotificationPayload`` (StorageCore) writes
/// for an instance of that workflow. A template may only use variables its events provide.
public enum PayloadKeys {
    /// Written for every message.
    public static let common: Set<String> = NotificationPayload.keys(course: false, sync: false)
    /// Written for messages about a course (course-mapping instances).
    public static let course: Set<String> = NotificationPayload.keys(course: true, sync: false).subtracting(common)
    /// Written when the event that caused the message carried them (a held or failed sync's report, and the held run).
    public static let sync: Set<String> = Set(NotificationPayload.syncKeys)
    /// Written into the daily digests (about an integration).
    public static let digest: Set<String> = Set(NotificationPayload.digestKeys)
    /// Added by the sender at render time, for every message (`public_url` only when the configuration names one).
    public static let rendering: Set<String> = ["message_id", "recipient", "public_url"]
    /// Written into dashboard sign-in e-mails (workflow `access`: not a workflow's event, the sign-in form's).
    public static let signIn: Set<String> = ["sign_in_url", "account_name", "account_email", "expires_minutes"]
    /// Written into a teacher's offer of next term's classes (`next-term-classes`, class-import version 2).
    public static let nextTermOffer: Set<String> = ["teacher_name", "teacher_sourced_id", "ended_term", "class_count", "classes", "import_command"]
    /// Templates whose messages carry a secret (a sign-in link): sent by e-mail only, never to webhook subscribers.
    public static let emailOnlyTemplates: Set<String> = ["sign-in-link"]

    /// Every variable a message of `workflow` can provide.
    public static func provided(byWorkflow workflow: String) -> Set<String> {
        var keys = common.union(sync).union(rendering)
        if workflow == "course-mapping" { keys.formUnion(course) }
        if workflow == "integration" { keys.formUnion(digest) }
        if workflow == "class-import" { keys.formUnion(nextTermOffer) }
        if workflow == "access" { return rendering.union(signIn) }
        return keys
    }

    /// Every variable any message can provide.
    public static var all: Set<String> { common.union(course).union(sync).union(digest).union(rendering).union(nextTermOffer) }
}

/// One e-mail template: three Mustache templates and the variables they may use.
public struct MailTemplate: Sendable {
    public var name: String
    public var description: String
    /// The workflow whose events use it (its payload decides which variables exist).
    public var workflow: String
    /// The variables the template may use; each must be one its workflow provides.
    public var variables: Set<String>
    let subject: MustacheTemplate
    let text: MustacheTemplate
    let html: MustacheTemplate

    /// Renders the three parts. Values are HTML-escaped in the HTML part only; missing optional values render empty.
    public func render(_ values: [String: String]) -> RenderedMail {
        RenderedMail(
            subject: subject.render(values).trimmingCharacters(in: .whitespacesAndNewlines)
                .replacingOccurrences(of: "\n", with: " "),
            text: text.render(values),
            html: html.render(values))
    }
}

/// The e-mail templates in a folder, checked when loaded.
///
/// The folder holds `templates.json` (each template's workflow, description and allowed variables) and, for each
/// template NAME, `NAME.subject.mustache`, `NAME.text.mustache` and `NAME.html.mustache`. Loading fails, naming
/// every problem, when a file is missing or does not parse, when a template uses a variable it does not declare,
/// or when it declares one its workflow's events do not provide.
public struct TemplateCatalog: Sendable {
    public let templates: [String: MailTemplate]
    /// Where the templates came from, for messages: the folder, the folder over the built-in templates, or the
    /// built-in templates.
    public let folder: String

    /// Loads and checks every template in `folder`.
    public init(folder: String) throws {
        try self.init(folder: folder, over: [:])
    }

    /// Loads and checks the templates of `folder` laid over `builtIns` (file name → bytes): a file of the folder
    /// replaces the built-in file of the same name (`templates.json` too), the other built-in files stay. With `folder`
    /// nil, the built-ins alone.
    public init(folder: String?, over builtIns: [String: Data]) throws {
        self.folder = folder.map { builtIns.isEmpty ? $0 : "\($0) (over the built-in templates)" } ?? "the built-in templates"
        func contents(_ name: String) -> Data? {
            if let folder, let data = FileManager.default.contents(atPath: "\(folder)/\(name)") { return data }
            return builtIns[name]
        }
        let manifestPath = (folder ?? "built-in") + "/templates.json"
        guard let data = contents("templates.json") else {
            throw NotificationError(.template, "no template manifest at \(manifestPath) (pass --templates or set ROSTERFLOW_TEMPLATES)")
        }
        let manifest: [String: ManifestEntry]
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data).templates
        } catch {
            throw NotificationError(.template, "\(manifestPath) is not a valid template manifest: \(error)")
        }
        var problems: [String] = []
        var templates: [String: MailTemplate] = [:]
        for (name, entry) in manifest.sorted(by: { $0.key < $1.key }) {
            let declared = Set(entry.variables)
            let provided = PayloadKeys.provided(byWorkflow: entry.workflow)
            for variable in declared.subtracting(provided).sorted() {
                problems.append("\(name): declares '\(variable)', which \(entry.workflow) events do not provide")
            }
            var parts: [MustacheTemplate] = []
            for part in ["subject", "text", "html"] {
                let file = "\(name).\(part).mustache"
                let path = "\(folder ?? "built-in")/\(file)"
                guard let source = contents(file).map({ String(decoding: $0, as: UTF8.self) }) else {
                    problems.append("\(name): \(path) is missing")
                    continue
                }
                do {
                    for used in try Self.variables(in: source).subtracting(declared).sorted() {
                        problems.append("\(path): uses '\(used)', which \(name) does not declare (it may use: \(declared.sorted().joined(separator: ", ")))")
                    }
                    // Subject and text are plain text: nothing is escaped there.
                    let prefix = part == "html" ? "" : "{{% CONTENT_TYPE: TEXT}}"
                    parts.append(try MustacheTemplate(string: prefix + source))
                } catch let error as NotificationError {
                    problems.append("\(path): \(error.message)")
                } catch {
                    problems.append("\(path): does not parse: \(error)")
                }
            }
            if parts.count == 3 {
                templates[name] = MailTemplate(
                    name: name, description: entry.description ?? "", workflow: entry.workflow, variables: declared,
                    subject: parts[0], text: parts[1], html: parts[2])
            }
        }
        if !problems.isEmpty {
            throw NotificationError(
                .template, "\(problems.count) problem\(problems.count == 1 ? "" : "s") in templates:\n" + problems.joined(separator: "\n"))
        }
        self.templates = templates
    }

    public subscript(name: String) -> MailTemplate? { templates[name] }

    /// Checks that every template the workflows name exists and was written for that workflow.
    ///
    /// - Parameter uses: (workflow, template) pairs, e.g. from the `notify` effects of the loaded definitions.
    public func check(uses: [(workflow: String, template: String)]) throws {
        var problems: [String] = []
        for use in uses {
            guard let template = templates[use.template] else {
                problems.append("workflow \(use.workflow) notifies with template '\(use.template)', which \(folder) does not define")
                continue
            }
            let missing = template.variables.subtracting(PayloadKeys.provided(byWorkflow: use.workflow))
            if !missing.isEmpty {
                problems.append("template '\(use.template)' uses \(missing.sorted().joined(separator: ", ")), which \(use.workflow) events do not provide")
            }
        }
        if !problems.isEmpty { throw NotificationError(.template, problems.joined(separator: "\n")) }
    }

    /// The variable names a template's tags use (the first component of dotted names).
    static func variables(in source: String) throws -> Set<String> {
        var names = Set<String>()
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            let triple = rest[open.upperBound...].hasPrefix("{")
            let closer = triple ? "}}}" : "}}"
            guard let close = rest[open.upperBound...].range(of: closer) else {
                throw NotificationError(.template, "a tag opened with {{ is never closed")
            }
            var tag = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            rest = rest[close.upperBound...]
            if triple { tag.removeFirst() }
            guard let sigil = tag.first else { continue }
            switch sigil {
            case "!", "%", "/": continue
            case "=": throw NotificationError(.template, "changing delimiters ({{= =}}) is not supported")
            case ">", "<", "$": throw NotificationError(.template, "partials and blocks are not supported")
            case "#", "^", "&": tag.removeFirst()
            default: break
            }
            let name = tag.trimmingCharacters(in: .whitespaces).split(separator: ".").first.map(String.init) ?? ""
            if !name.isEmpty { names.insert(name) }
        }
        return names
    }

    struct Manifest: Decodable {
        var templates: [String: ManifestEntry]
    }

    struct ManifestEntry: Decodable {
        var workflow: String
        var description: String?
        var variables: [String]
    }
}
