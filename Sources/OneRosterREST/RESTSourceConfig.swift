import Foundation

/// How to reach a district's OneRoster REST provider. Holds where the secret is (an environment variable or a file),
/// never the secret itself, so it can be stored with the integration and shown.
public struct RESTSourceConfig: Sendable, Codable, Equatable {
    /// OneRoster 1.1 (OAuth 1.0a HMAC-SHA256, ClassLink style, unless a token URL is given) or 1.2 (OAuth 2 client
    /// credentials).
    public enum Version: String, Sendable, Codable, CaseIterable {
        case v1_1 = "1.1"
        case v1_2 = "1.2"
    }

    /// The provider's server URL, with or without the `/ims/oneroster/...` base path.
    public var url: String
    /// The OneRoster version the provider speaks.
    public var version: Version
    /// The client id (OAuth 1.0a consumer key, OAuth 2 client id).
    public var clientID: String
    /// The environment variable holding the secret.
    public var secretEnv: String?
    /// A file whose content (trimmed) is the secret.
    public var secretFile: String?
    /// The OAuth 2 token URL: set for 1.2 (and for 1.1 providers that use OAuth 2); unset means OAuth 1.0a.
    public var tokenURL: String?
    /// OAuth 2 scopes, space-separated as sent.
    public var scope: String?
    /// Records per page (`limit`).
    public var pageSize: Int
    /// Pull only what changed since the last successful pull (`filter=dateLastModified>'…'`), re-reading an overlap.
    public var delta: Bool
    /// Seconds re-read before the last successful pull's start in a delta pull.
    public var overlapSeconds: Int
    /// Pull demographics (needs the provider's demographics scope or permission).
    public var demographics: Bool

    /// A configuration.
    public init(url: String, version: Version, clientID: String, secretEnv: String? = nil, secretFile: String? = nil,
                tokenURL: String? = nil, scope: String? = nil, pageSize: Int = 1_000, delta: Bool = false,
                overlapSeconds: Int = 3_600, demographics: Bool = false) {
        self.url = url
        self.version = version
        self.clientID = clientID
        self.secretEnv = secretEnv
        self.secretFile = secretFile
        self.tokenURL = tokenURL
        self.scope = scope
        self.pageSize = pageSize
        self.delta = delta
        self.overlapSeconds = overlapSeconds
        self.demographics = demographics
    }

    /// The prefix of a REST source stored as an integration's sync source (the rest is this configuration as JSON).
    public static let storedPrefix = "oneroster-rest:"

    /// This configuration as stored in an integration's sync source: ``storedPrefix`` and compact JSON.
    public var stored: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Self.storedPrefix + String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The configuration stored in `source`, or `nil` when `source` is a bundle path.
    public init?(stored source: String) {
        guard source.hasPrefix(Self.storedPrefix),
              let decoded = try? JSONDecoder().decode(Self.self, from: Data(source.dropFirst(Self.storedPrefix.count).utf8))
        else { return nil }
        self = decoded
    }

    /// Whether requests are signed with OAuth 1.0a (no token URL).
    public var usesOAuth1: Bool { tokenURL == nil }

    /// The API root: the URL as given when it already holds `/ims/oneroster`, else the version's standard base path.
    public var baseURL: String {
        var url = self.url
        while url.hasSuffix("/") { url.removeLast() }
        if url.contains("/ims/oneroster") { return url }
        return url + (version == .v1_1 ? "/ims/oneroster/v1p1" : "/ims/oneroster/rostering/v1p2")
    }

    /// What an operator recognises the source by (stored with each run): version, URL and client id, no secret.
    public var summary: String {
        "OneRoster \(version.rawValue) REST \(baseURL) (client \(clientID), \(usesOAuth1 ? "OAuth 1.0a" : "OAuth 2"))"
    }

    /// Checks the settings that can be checked without the network.
    public func validate() throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), scheme == "https" || scheme == "http",
              parsed.host != nil else {
            throw OneRosterRESTError(.configuration, "\(url) is not an http(s) URL; give the OneRoster server URL the district sent")
        }
        if let tokenURL, URL(string: tokenURL)?.host == nil {
            throw OneRosterRESTError(.configuration, "the token URL \(tokenURL) is not an http(s) URL")
        }
        if version == .v1_2 && tokenURL == nil {
            throw OneRosterRESTError(.configuration, "OneRoster 1.2 providers use OAuth 2: give the provider's token URL with --token-url")
        }
        guard !clientID.isEmpty else { throw OneRosterRESTError(.configuration, "the client id is empty") }
        guard (secretEnv == nil) != (secretFile == nil) else {
            throw OneRosterRESTError(.configuration, "say where the secret is: --secret-env VARIABLE or --secret-file PATH (one of them)")
        }
        guard (1...10_000).contains(pageSize) else {
            throw OneRosterRESTError(.configuration, "the page size must be between 1 and 10000")
        }
    }

    /// The secret, from the environment variable or the file. Never part of an error message.
    public func secret(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let secretEnv {
            guard let value = environment[secretEnv], !value.isEmpty else {
                throw OneRosterRESTError(
                    .configuration, "the environment variable \(secretEnv) that should hold the OneRoster secret for client "
                        + "\(clientID) is not set; set it where rosterflow (and its worker) runs")
            }
            return value
        }
        if let secretFile {
            guard let data = FileManager.default.contents(atPath: secretFile) else {
                throw OneRosterRESTError(
                    .configuration, "the secret file \(secretFile) for client \(clientID) cannot be read by this user")
            }
            let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                throw OneRosterRESTError(.configuration, "the secret file \(secretFile) for client \(clientID) is empty")
            }
            return value
        }
        throw OneRosterRESTError(.configuration, "no secret is configured for client \(clientID)")
    }
}
