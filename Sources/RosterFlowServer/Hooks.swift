import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RosterFlowCore

/// Inbound hooks under `/hooks/v1/`: ClassLink (or the platform) tells RosterFlow that a district enabled or disabled
/// the app, or that a student started a course. Each hook is signed per Standard Webhooks with its sender's secret and
/// names its sender (`?sender=NAME`); it is verified (sender, timestamp window, signature over the raw body) before its
/// JSON is read, applied once per `webhook-id`, and refusals are logged without the body.
struct Hooks: Sendable {
    let service: RosterFlowService
    let logger: Logger

    /// The largest hook body read (a hook is a few hundred bytes).
    static let maxBody = 16 * 1024

    func register(on router: Router<AppContext>) {
        let hooks = router.group("hooks/v1")
        hooks.post("app-enabled") { request, context in
            try await receive(request, context, route: "app-enabled") { body in
                let input = try JSONInput.decode(AppEnabledBody.self, from: body, request: request)
                return .appEnabled(AppEnabledHook(
                    tenantID: input.tenantId, districtSourcedID: input.district.sourcedId, districtName: input.district.name,
                    permission: input.permissionType, contactName: input.contact.name, contactEmail: input.contact.email))
            }
        }
        hooks.post("app-disabled") { request, context in
            try await receive(request, context, route: "app-disabled") { body in
                let input = try JSONInput.decode(AppDisabledBody.self, from: body, request: request)
                return .appDisabled(tenantID: input.tenantId, reason: input.reason)
            }
        }
        hooks.post("student-started") { request, context in
            try await receive(request, context, route: "student-started") { body in
                let input = try JSONInput.decode(StudentStartedBody.self, from: body, request: request)
                return .studentStarted(StudentStartedHook(
                    tenantID: input.tenantId, courseSourcedID: input.courseSourcedId, classSourcedID: input.classSourcedId,
                    userSourcedID: input.userSourcedId))
            }
        }
    }

    // MARK: Bodies

    struct District: Decodable {
        var sourcedId: String?
        var name: String
    }

    struct Contact: Decodable {
        var name: String?
        var email: String
    }

    struct AppEnabledBody: Decodable {
        var tenantId: String
        var district: District
        /// `Rule-Based`, `Full` or `Legacy Custom`.
        var permissionType: String
        var contact: Contact
    }

    struct AppDisabledBody: Decodable {
        var tenantId: String
        var reason: String?
    }

    struct StudentStartedBody: Decodable {
        var tenantId: String
        var courseSourcedId: String?
        var classSourcedId: String?
        var userSourcedId: String?
    }

    // MARK: Receiving

    /// Verifies a hook, reads its action with `read` and applies it once; every refusal is logged (never the body).
    func receive(
        _ request: Request, _ context: AppContext, route: String, read: (ByteBuffer) throws -> HookAction
    ) async throws -> Response {
        let sender = request.uri.queryParameters.get("sender").map { String($0) } ?? ""
        let webhookID = request.headers[.webhookID] ?? ""
        var logger = self.logger
        logger[metadataKey: "hook"] = .string(route)
        logger[metadataKey: "sender"] = .string(Self.loggable(sender))
        logger[metadataKey: "webhook-id"] = .string(Self.loggable(webhookID))
        do {
            var request = request
            let (answer, action) = try await verifyAndApply(&request, context, sender: sender, read: read)
            if answer.replayed {
                logger.info("hook \(route) from \(sender): redelivery of webhook-id \(webhookID), answered as the first time")
            } else {
                logger.info("hook \(route) from \(sender) applied for district \(Self.loggable(action.tenantID))")
            }
            var headers: HTTPFields = [.contentType: JSONBody.mediaType]
            if answer.replayed { headers[.idempotentReplayed] = "true" }
            return Response(status: .init(code: answer.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
        } catch {
            // The outermost responder answers; here the refusal is logged with what identifies it, never the body.
            let reason: String
            switch error {
            case let problem as APIProblem: reason = "\(problem.status.code) \(problem.cause)"
            case let access as AccessError: reason = "\(access.code.rawValue) \(access.cause)"
            case let bad as BadRequest: reason = "\(bad.code.rawValue) \(bad.cause)"
            default:
                let failure = RosterFlowError.wrap(error)
                reason = "\(failure.code.rawValue) \(failure.cause ?? "")"
            }
            logger.notice("hook \(route) from \(Self.loggable(sender)) refused: \(reason)")
            throw error
        }
    }

    /// A header or parameter as it may be logged: visible ASCII only (no line breaks to forge log lines), at most 64.
    static func loggable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.value >= 0x21 && $0.value <= 0x7E }.prefix(64)))
    }

    func verifyAndApply(
        _ request: inout Request, _ context: AppContext, sender: String, read: (ByteBuffer) throws -> HookAction
    ) async throws -> (HookAnswer, HookAction) {
        guard !sender.isEmpty else {
            throw APIProblem(
                .badRequest, code: "bad-request", cause: "missing-sender",
                "name the sender in the URL: /hooks/v1/…?sender=NAME (as `rosterflow hooks senders add NAME` made it)")
        }
        guard let webhookID = request.headers[.webhookID], let timestamp = request.headers[.webhookTimestamp],
              let signature = request.headers[.webhookSignature]
        else {
            throw APIProblem(
                .badRequest, code: "bad-request", cause: "missing-webhook-headers",
                "a hook must carry the Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature")
        }
        guard (1...255).contains(webhookID.utf8.count), webhookID.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw APIProblem(.badRequest, code: "bad-request", cause: "bad-webhook-id", "webhook-id must be 1 to 255 visible ASCII characters")
        }
        let secrets: [String]
        let scope: DistrictScope
        switch try service.checkHookSender(sender) {
        case .unknown:
            throw APIProblem(
                .unauthorized, code: "unauthenticated", cause: "unknown-sender",
                "there is no hook sender '\(Self.loggable(sender))'; `rosterflow hooks senders list` shows them",
                headers: StandardWebhooks.challenge)
        case .disabled:
            throw APIProblem(
                .unauthorized, code: "unauthenticated", cause: "sender-disabled", "hook sender \(sender) is disabled; its hooks are refused",
                headers: StandardWebhooks.challenge)
        case let .active(activeSecrets, senderScope):
            secrets = activeSecrets
            scope = senderScope
        }
        try StandardWebhooks.checkTimestamp(timestamp, now: Date().timeIntervalSince1970)
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxBody)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIProblem(
                .contentTooLarge, code: "too-large", cause: "body-too-large", "a hook body is at most \(Self.maxBody / 1024) KiB")
        }
        let bytes = Data(body.readableBytesView)
        try StandardWebhooks.verify(id: webhookID, timestamp: timestamp, signatures: signature, body: bytes, secrets: secrets)
        let action = try read(body)
        guard scope.allows(action.tenantID) else {
            throw AccessError(
                .forbidden, "hook sender \(sender) may not act on district \(action.tenantID); `rosterflow hooks senders list` shows its districts",
                cause: "district-not-allowed")
        }
        var hasher = SHA256()
        hasher.update(data: Data("\(request.uri.path)\n".utf8))
        hasher.update(data: bytes)
        let fingerprint = Hex.lowercase(hasher.finalize())
        let answer = try await service.receiveHook(sender: sender, webhookID: webhookID, fingerprint: fingerprint, action: action)
        return (answer, action)
    }
}

/// Verifying Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` is a space-separated
/// list of `v1,<base64 HMAC-SHA256>` over `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the bytes of the
/// sender's `whsec_<base64>` secret; one matching signature made with any accepted secret is enough (several allow a
/// secret to be rotated).
public enum StandardWebhooks {
    /// How far `webhook-timestamp` may be from now, either way: five minutes, as the reference libraries allow.
    public static let tolerance: Double = 5 * 60

    /// What a 401 answer to a hook asks for (RFC 9110 requires a challenge): a Standard Webhooks signature.
    static let challenge: HTTPFields = [.wwwAuthenticate: "StandardWebhooks realm=\"rosterflow-hooks\""]

    /// Refuses a timestamp that is not whole Unix seconds (400 `bad-timestamp`) or lies outside ``tolerance``
    /// (400 `stale-timestamp` or `future-timestamp`).
    public static func checkTimestamp(_ text: String, now: Double) throws {
        guard text.utf8.count <= 12, let seconds = Int(text) else {
            throw APIProblem(.badRequest, code: "bad-request", cause: "bad-timestamp", "webhook-timestamp must be Unix seconds")
        }
        if Double(seconds) < now - tolerance {
            throw APIProblem(
                .badRequest, code: "bad-request", cause: "stale-timestamp",
                "webhook-timestamp is more than 5 minutes old: the hook is refused as a possible replay (check the sender's clock)")
        }
        if Double(seconds) > now + tolerance {
            throw APIProblem(
                .badRequest, code: "bad-request", cause: "future-timestamp",
                "webhook-timestamp is more than 5 minutes ahead of this server's clock (check the sender's clock)")
        }
    }

    /// Checks that one of the `v1` signatures in `signatures` was made over this id, timestamp and body with one of
    /// `secrets` (compared in constant time); 401 `bad-signature` otherwise.
    public static func verify(id: String, timestamp: String, signatures: String, body: Data, secrets: [String]) throws {
        let presented = signatures.split(separator: " ").prefix(16).compactMap { entry -> Data? in
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1" else { return nil }
            return Data(base64Encoded: String(parts[1]))
        }
        var matched = false
        for secret in secrets {
            guard let key = keyBytes(secret) else { continue }
            var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
            mac.update(data: Data("\(id).\(timestamp).".utf8))
            mac.update(data: body)
            let expected = Data(mac.finalize())
            for candidate in presented where constantTimeEqual(candidate, expected) { matched = true }
        }
        guard matched else {
            throw APIProblem(
                .unauthorized, code: "unauthenticated", cause: "bad-signature",
                "webhook-signature does not match this hook: sign '<webhook-id>.<webhook-timestamp>.<body>' with the sender's current secret",
                headers: challenge)
        }
    }

    /// The key bytes of a `whsec_<base64>` secret.
    static func keyBytes(_ secret: String) -> Data? {
        var text = Substring(secret)
        if text.hasPrefix("whsec_") { text = text.dropFirst(6) }
        guard let bytes = Data(base64Encoded: String(text)), !bytes.isEmpty else { return nil }
        return bytes
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEqual(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}

extension HTTPField.Name {
    static let webhookID = Self("webhook-id")!
    static let webhookTimestamp = Self("webhook-timestamp")!
    static let webhookSignature = Self("webhook-signature")!
}
