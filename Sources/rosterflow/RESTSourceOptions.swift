import ArgumentParser
import Foundation
import OneRosterREST
import RosterFlowCore

/// The options that describe a OneRoster REST provider (`integrations source --rest`, `validate --rest`).
struct RESTSourceOptions: ParsableArguments {
    @Option(help: "The OneRoster REST server URL the district sent (with or without /ims/oneroster/...).")
    var rest: String?
    @Option(name: .customLong("version"), help: "The provider's OneRoster version: 1.1 (OAuth 1.0a, ClassLink) or 1.2 (OAuth 2).")
    var oneRosterVersion: String?
    @Option(help: "The client id (OAuth consumer key or OAuth 2 client id).") var clientId: String?
    @Option(help: "The environment variable that holds the secret (the secret itself is never stored).") var secretEnv: String?
    @Option(help: "A file (readable only by the worker's user) that holds the secret.") var secretFile: String?
    @Option(help: "The OAuth 2 token URL (1.2, or a 1.1 provider using OAuth 2); without it 1.1 signs with OAuth 1.0a.")
    var tokenUrl: String?
    @Option(help: "OAuth 2 scopes, space-separated (e.g. https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly).")
    var scope: String?
    @Option(help: "Records per page (limit), 1–10000.") var pageSize = 1_000
    @Flag(help: "Pull only records changed since the last successful pull (with an overlap).") var delta = false
    @Option(help: "Seconds a delta pull re-reads before the last successful pull's start.") var overlap = 3_600
    @Flag(help: "Also pull demographics (needs the provider's demographics permission).") var demographics = false

    /// Whether any REST option was given.
    var isGiven: Bool {
        rest != nil || oneRosterVersion != nil || clientId != nil || secretEnv != nil || secretFile != nil || tokenUrl != nil
            || scope != nil || delta || demographics
    }

    /// The configuration these options describe.
    func config() throws -> RESTSourceConfig {
        guard let rest else { throw RosterFlowError(.invalidInput, "give the provider's URL with --rest URL") }
        guard let raw = oneRosterVersion, let version = RESTSourceConfig.Version(rawValue: raw) else {
            throw RosterFlowError(.invalidInput, "--version is 1.1 or 1.2" + (oneRosterVersion.map { ", not \($0)" } ?? " (required with --rest)"))
        }
        guard let clientId else { throw RosterFlowError(.invalidInput, "give the client id with --client-id") }
        let config = RESTSourceConfig(
            url: rest, version: version, clientID: clientId, secretEnv: secretEnv,
            secretFile: secretFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }, tokenURL: tokenUrl, scope: scope,
            pageSize: pageSize, delta: delta, overlapSeconds: overlap, demographics: demographics)
        do { try config.validate() } catch { throw RosterFlowError.wrap(error) }
        return config
    }
}

/// Prints a REST pull's progress on stderr when it is a terminal (and not with --json).
func pullProgress(json: Bool) -> (@Sendable (String) -> Void)? {
    guard !json, isatty(STDERR_FILENO) == 1 else { return nil }
    return { line in FileHandle.standardError.write(Data("\r\u{1B}[K  pulling \(line)".utf8)) }
}
