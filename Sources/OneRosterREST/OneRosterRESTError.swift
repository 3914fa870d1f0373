import CodedErrors
import Foundation

/// Why a OneRoster REST pull failed. Messages name the provider, the request path and what to check, never a secret.
public struct OneRosterRESTError: CodedError {
    /// Stable codes.
    public enum Code: String, Sendable, Codable {
        /// The provider refused the credentials (HTTP 401/403, or the token request failed): check the client id and
        /// secret (or the token URL and scope).
        case unauthorized
        /// No answer: connection refused, DNS, TLS or timeout.
        case unreachable
        /// The provider answered with an error (an `imsx_codeMajor` failure, a 4xx, or 429/5xx after every retry).
        case provider
        /// The answer was not the OneRoster JSON expected (cut off, not JSON, no collection).
        case badResponse = "bad-response"
        /// The source is configured wrongly (no secret in the named variable or file, a bad URL).
        case configuration
    }

    /// The code.
    public var code: Code
    /// What happened and what to do, in plain words.
    public var message: String
    /// The HTTP status the provider answered, when the error is its answer.
    public var httpStatus: Int?
    /// Where it was thrown.
    public var site: ThrowSite

    /// An error.
    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.site = ThrowSite(fileID: fileID, line: line)
    }
}

/// A OneRoster status payload (`imsx_codeMajor`, `imsx_severity`, `imsx_description`, `imsx_CodeMinor`), bare or
/// wrapped in `statusInfoSet`, turned into one plain sentence; `nil` when the body carries none.
public func oneRosterStatusMessage(_ body: Data) -> String? {
    guard let object = try? JSONSerialization.jsonObject(with: body) else { return nil }
    var infos: [[String: Any]] = []
    func collect(_ value: Any) {
        if let dictionary = value as? [String: Any] {
            if dictionary["imsx_codeMajor"] != nil || dictionary["imsx_CodeMinor"] != nil {
                infos.append(dictionary)
            }
            for key in ["statusInfoSet", "imsx_statusInfo", "statusInfo"] {
                if let nested = dictionary[key] { collect(nested) }
            }
        } else if let array = value as? [Any] {
            array.forEach(collect)
        }
    }
    collect(object)
    guard !infos.isEmpty else { return nil }
    let parts = infos.map { info -> String in
        let major = info["imsx_codeMajor"] as? String ?? "failure"
        var minors: [String] = []
        if let minor = info["imsx_CodeMinor"] as? [String: Any] {
            let fields = minor["imsx_codeMinorField"]
            let list = (fields as? [[String: Any]]) ?? (fields as? [String: Any]).map { [$0] } ?? []
            minors = list.compactMap { $0["imsx_codeMinorFieldValue"] as? String }
        } else if let minor = info["imsx_CodeMinor"] as? String {
            minors = [minor]
        }
        var text = "the provider answered \(major)"
        if !minors.isEmpty { text += " (\(minors.joined(separator: ", "))\(minors.compactMap(minorMeaning).first.map { ": " + $0 } ?? ""))" }
        if let description = info["imsx_description"] as? String, !description.isEmpty {
            text += ": \(String(description.prefix(300)))"
        }
        return text
    }
    return parts.joined(separator: "; ")
}

/// What a OneRoster `imsx_codeMinorFieldValue` means, for an admin.
func minorMeaning(_ minor: String) -> String? {
    switch minor.lowercased() {
    case "invalid_filter_field": "a field in the filter is not one the provider supports"
    case "invalid_selection_field": "a requested field is not one the provider supports"
    case "invaliddata": "the provider rejected the request's data"
    case "unauthorisedrequest", "unauthorizedrequest": "the credentials were not accepted"
    case "forbidden": "these credentials may not read this"
    case "server_busy": "the provider is busy"
    case "unknownobject": "the provider does not know this record or endpoint"
    case "internal_server_error": "the provider failed internally"
    default: nil
    }
}
