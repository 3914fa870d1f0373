import CodedErrors
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RosterFlowCore

/// An RFC 9457 problem document (`application/problem+json`): every error the API answers with, carrying the stable
/// codes the CLI reports too.
public struct ProblemDocument: Codable, Sendable, Equatable {
    /// `urn:rosterflow:problem:<code>`, or `about:blank` for plain HTTP errors (an unknown route, a wrong method).
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// The request's path.
    public var instance: String?
    /// The stable code (`not-found`, `refused`, `unauthenticated`, …), as in the CLI's `--json` errors.
    public var code: String
    /// The more specific code of the module that refused (`role-not-allowed`, `stale-instance`, `revoked-token`, …).
    public var cause: String?
    /// For a refused workflow event: the events the workflow allows instead.
    public var allowedEvents: [String]?
    /// For 405: the methods the path accepts.
    public var allow: [String]?

    /// The media type of problem documents.
    public static let mediaType = "application/problem+json"
}

/// Refusals of the access layer: no or a bad credential (401), or a caller whose role may not do this (403).
public struct AccessError: CodedError {
    /// Stable codes of the access layer.
    public enum Code: String, Sendable {
        /// No credential, or one that does not (or no longer) work: 401.
        case unauthenticated
        /// A valid caller who may not do this: 403.
        case forbidden
    }

    public var code: Code
    public var message: String
    /// `missing-credentials`, `unknown-token`, `revoked-token`, `expired-token`, `account-disabled`, `role-not-allowed`.
    public var cause: String
    public var site: ThrowSite

    /// An access refusal with a plain message.
    public init(_ code: Code, _ message: String, cause: String, fileID: String = #fileID, fileLine: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        site = ThrowSite(fileID: fileID, line: fileLine)
    }
}

/// A request the API cannot read: malformed JSON, a missing field, a bad query parameter or header (400), or a body of
/// the wrong media type (415).
public struct BadRequest: CodedError {
    /// Stable codes of request reading.
    public enum Code: String, Sendable {
        case badRequest = "bad-request"
        case unsupportedMediaType = "unsupported-media-type"
    }

    public var code: Code
    public var message: String
    public var cause: String
    public var site: ThrowSite

    /// A request refused before anything was done.
    public init(_ message: String, cause: String, code: Code = .badRequest, fileID: String = #fileID, fileLine: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        site = ThrowSite(fileID: fileID, line: fileLine)
    }
}

/// A problem answer for a request that broke an API rule (an idempotency key reused for another request, …).
public struct APIProblem: Error, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var cause: String
    public var message: String
    public var headers: HTTPFields = [:]

    /// A problem with its status, stable code, cause and message.
    public init(_ status: HTTPResponse.Status, code: String, cause: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.cause = cause
        self.message = message
        self.headers = headers
    }
}

enum Problems {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func typeURI(_ code: String) -> String { "urn:rosterflow:problem:\(code)" }

    /// The problem document and extra headers for any error thrown while answering `request`. Errors that are our
    /// defects or the machine's (storage, unexpected) are logged in full and answered with a generic detail.
    static func problem(
        for error: any Error, request: Request, allowedMethods: (String) -> [HTTPRequest.Method], logger: Logger
    ) -> (ProblemDocument, HTTPFields) {
        let path = request.uri.path
        var headers: HTTPFields = [:]
        func document(_ status: HTTPResponse.Status, code: String, cause: String?, _ detail: String, type: String? = nil) -> ProblemDocument {
            ProblemDocument(
                type: type ?? Self.typeURI(code), title: status.reasonPhrase, status: status.code, detail: detail, instance: path,
                code: code, cause: cause)
        }
        switch error {
        case let error as APIProblem:
            for field in error.headers { headers.append(field) }
            return (document(error.status, code: error.code, cause: error.cause, error.message), headers)
        case let error as AccessError:
            let status: HTTPResponse.Status = error.code == .unauthenticated ? .unauthorized : .forbidden
            if error.code == .unauthenticated {
                headers[.wwwAuthenticate] = error.cause == "missing-credentials"
                    ? "Bearer realm=\"rosterflow\"" : "Bearer realm=\"rosterflow\", error=\"invalid_token\""
            }
            logger.notice("access refused: \(request.method) \(path): \(status.code) \(error.cause)")
            return (document(status, code: error.code.rawValue, cause: error.cause, error.message), headers)
        case let error as BadRequest:
            let status: HTTPResponse.Status = error.code == .badRequest ? .badRequest : .unsupportedMediaType
            return (document(status, code: error.code.rawValue, cause: error.cause, error.message), headers)
        case let error as HTTPError where error.status == .notFound:
            // The router's own "no such route": a known path with another method is 405 with the methods it takes.
            let allowed = allowedMethods(path)
            if !allowed.isEmpty {
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                var problem = document(
                    .methodNotAllowed, code: "method-not-allowed", cause: nil,
                    "\(path) does not take \(request.method.rawValue); it takes \(allowed.map(\.rawValue).joined(separator: ", "))",
                    type: "about:blank")
                problem.allow = allowed.map(\.rawValue)
                return (problem, headers)
            }
            return (document(.notFound, code: "not-found", cause: "no-route",
                             "there is no \(path); the API's routes are listed in /api/v1/openapi.yaml", type: "about:blank"), headers)
        case let error as any HTTPResponseError where error.status == .contentTooLarge:
            return (document(.contentTooLarge, code: "too-large", cause: "body-too-large",
                             "the request body is larger than the API accepts (64 KiB)"), headers)
        case let error as HTTPError:
            return (document(error.status, code: "http-\(error.status.code)", cause: nil, error.body ?? error.status.reasonPhrase,
                             type: "about:blank"), headers)
        case let error as any HTTPResponseError:
            return (document(error.status, code: "http-\(error.status.code)", cause: nil, error.status.reasonPhrase,
                             type: "about:blank"), headers)
        default:
            let failure = RosterFlowError.wrap(error)
            let status: HTTPResponse.Status
            var detail = failure.message
            switch failure.code {
            case .invalidInput: status = .unprocessableContent
            case .notFound: status = .notFound
            case .refused: status = failure.cause == "role-not-allowed" ? .forbidden : .conflict
            case .stale:
                // A stale If-Match is a failed precondition; a held sync run planned on an older roster is a conflict.
                status = request.headers[.ifMatch] != nil && failure.cause != "stale-sync-run" ? .preconditionFailed : .conflict
            case .conflict: status = .conflict
            case .busy, .cancelled:
                status = .serviceUnavailable
                headers[.retryAfter] = "5"
            case .unavailable:
                // A roster provider RosterFlow depends on could not be read.
                status = .badGateway
            case .storage, .workflowDefinition, .unexpected:
                status = .internalServerError
                logger.error("\(request.method) \(path) failed: \(failure.code.rawValue) at \(failure.site): \(failure.message)")
                detail = "the server could not answer this request; its log says why (at \(Date().ISO8601Format()))"
            }
            if status == .forbidden {
                logger.notice("access refused: \(request.method) \(path): 403 \(failure.cause ?? "")")
            }
            var problem = document(status, code: failure.code.rawValue, cause: failure.cause, detail)
            if !failure.allowedEvents.isEmpty { problem.allowedEvents = failure.allowedEvents }
            return (problem, headers)
        }
    }

    static func response(_ problem: ProblemDocument, headers extra: HTTPFields) -> Response {
        var headers = extra
        headers[.contentType] = ProblemDocument.mediaType
        let body = (try? encoder.encode(problem)) ?? Data("{\"status\":\(problem.status)}".utf8)
        return Response(
            status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
