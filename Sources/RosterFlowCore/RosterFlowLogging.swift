import Foundation
import Logging

/// How RosterFlow's executables log: swift-log to stderr, at the level `ROSTERFLOW_LOG_LEVEL` names (default `info`).
///
/// Modules log under their own labels: `rosterflow.worker` (the worker's services), `rosterflow.sync` (each sync's
/// phases with their timings, at `debug`). A library user bootstraps swift-log its own way; without a bootstrap,
/// swift-log's default handler shows `info` and above.
public enum RosterFlowLogging {
    /// The environment variable that sets the level.
    public static let levelVariable = "ROSTERFLOW_LOG_LEVEL"

    /// The level `environment` asks for: `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`, in any
    /// case; `info` when unset or empty.
    /// - Throws: ``RosterFlowError`` (`invalid-input`) for any other value.
    public static func level(from environment: [String: String]) throws -> Logger.Level {
        guard let text = environment[levelVariable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw RosterFlowError(
                .invalidInput, "\(levelVariable) is '\(text)': use one of "
                    + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return level
    }

    /// Sends every logger of the process to stderr at the level `environment` asks for. Call it once, first.
    /// - Throws: ``RosterFlowError`` (`invalid-input`) when `ROSTERFLOW_LOG_LEVEL` is not a level; nothing is set up then.
    public static func bootstrap(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let level = try level(from: environment)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
