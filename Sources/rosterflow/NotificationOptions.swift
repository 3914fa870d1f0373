import ArgumentParser
import Foundation
import Notifications
import RosterFlowCore

/// Options of the commands that render or send notifications.
struct NotificationOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Notification configuration, JSON (env ROSTERFLOW_CONFIG; default ./rosterflow.json when present). The environment overrides it.",
        valueName: "PATH"))
    var config: String?

    @Option(help: ArgumentHelp("Folder of e-mail templates (default: from the configuration, else ./Templates).", valueName: "PATH"))
    var templates: String?

    var configPath: String? {
        if let config { return config }
        if let env = ProcessInfo.processInfo.environment["ROSTERFLOW_CONFIG"], !env.isEmpty { return env }
        return FileManager.default.fileExists(atPath: "rosterflow.json") ? "rosterflow.json" : nil
    }

    func load() throws -> NotificationConfig {
        var loaded = try NotificationConfig.load(file: configPath)
        if let templates { loaded.templatesPath = templates }
        return loaded
    }

    func catalog(_ config: NotificationConfig) throws -> TemplateCatalog {
        try TemplateCatalog(folder: config.templatesPath ?? "Templates")
    }

    /// `outbox-spool` in the database's folder.
    static func defaultSpool(database: String) -> String {
        let folder = (database as NSString).deletingLastPathComponent
        return (folder.isEmpty ? "." : folder) + "/outbox-spool"
    }
}

extension NotificationError {
    /// The same error as the CLI reports every other: a stable code and its exit code.
    var asRosterFlowError: RosterFlowError {
        switch code {
        case .notFound: RosterFlowError(.notFound, message)
        case .configuration, .template: RosterFlowError(.invalidInput, message)
        case .transport, .storage: RosterFlowError(.storage, message)
        }
    }
}

/// Runs a command body, reporting notification errors like domain errors.
func runNotifying(json: Bool, _ body: () async throws -> Void) async throws {
    try await Output.run(json: json) {
        do {
            try await body()
        } catch let error as NotificationError {
            throw error.asRosterFlowError
        }
    }
}
