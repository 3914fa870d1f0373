import ArgumentParser
import Foundation
import Notifications
import RosterFlowApp
import RosterFlowCore

/// Options of the commands that render or send notifications.
struct NotificationOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Notification configuration, JSON (env ROSTERFLOW_CONFIG; default ./rosterflow.json when present). The environment overrides it.",
        valueName: "PATH"))
    var config: String?

    @Option(help: ArgumentHelp("Folder of e-mail templates over the built-in ones (default: from the configuration, else ./Templates when present, else the built-in ones).", valueName: "PATH"))
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
        try BuiltIns.templateCatalog(folder: config.templatesPath)
    }

    /// `outbox-spool` in the database's folder.
    static func defaultSpool(database: String) -> String {
        if StoreLocation.isServer(database) { return "./outbox-spool" }
        let folder = (database as NSString).deletingLastPathComponent
        return (folder.isEmpty ? "." : folder) + "/outbox-spool"
    }
}

extension NotificationError {
    /// The same error as the CLI reports every other: a stable code and its exit code.
    var asRosterFlowError: RosterFlowError {
        let code: RosterFlowError.Code = switch code {
        case .configuration, .template: .invalidInput
        case .transport: .storage
        }
        return RosterFlowError(code, message, cause: codeName, site: site)
    }
}
