import Foundation
import StorageCore
import WorkflowEngine

/// An outbox message as the API shows it: its deliveries, never a secret (payloads hold workflow values only).
public struct OutboxMessageView: Sendable, Codable, Equatable {
    public var id: String
    public var instanceID: String
    public var template: String
    public var recipient: String
    public var status: String
    public var attempts: Int
    public var createdAt: String
    public var lastError: String?
    /// The values the message carries for its template; in `show` only.
    public var payload: [String: String]?
    /// In `show` only.
    public var deliveries: [DeliveryRecord]?
}

/// What claiming an idempotency key found.
public enum IdempotencyClaim: Sendable, Equatable {
    /// The key was free and is now held for this request: answer it, then ``RosterFlowService/completeIdempotencyKey``.
    case claimed
    /// The key was used before: the stored record (its answer, or none yet while the first request is in flight).
    case existing(IdempotencyRecord)
}

extension RosterFlowService {
    /// Outbox messages, newest first, optionally only those with `status`.
    public func outboxMessages(status: OutboxStatus? = nil, limit: Int = 200) async throws -> [OutboxMessageView] {
        do {
            return try await store.read { try $0.outboxMessages(status: status, limit: limit) }.map { Self.view($0, deliveries: nil) }
        } catch {
            throw RosterFlowError.wrap(error)
        }
    }

    /// One outbox message with its deliveries.
    /// - Throws: ``RosterFlowError/Code/notFound``.
    public func outboxMessage(id: String) async throws -> OutboxMessageView {
        let found: (OutboxRecord, [DeliveryRecord])?
        do {
            found = try await store.read { tx in
                guard let record = try tx.outboxMessage(id: id) else { return nil }
                return (record, try tx.deliveries(outboxID: id))
            }
        } catch {
            throw RosterFlowError.wrap(error)
        }
        guard let found else {
            throw RosterFlowError(.notFound, "there is no outbox message \(id); `rosterflow outbox list` shows them")
        }
        return Self.view(found.0, deliveries: found.1)
    }

    /// The workflow roles that may decide a held sync run: those the integration workflow lets resume an integration
    /// on hold (approving or rejecting a run resumes it). The workflow definition is the authority.
    public func rolesDecidingHeldRuns() -> [Role] {
        let state = runtime.current[DomainVocabulary.Integration.workflow]?.states[DomainVocabulary.Integration.State.onHold]
        var roles: [Role] = []
        for transition in state?.events[DomainVocabulary.Integration.Event.resume] ?? [] {
            for role in transition.roles where !roles.contains(role) { roles.append(role) }
        }
        return roles
    }

    /// How long a claimed key may go unanswered before another request takes it over (its first request died).
    public static let idempotencyClaimLease: Double = 60

    /// Claims an idempotency key for an account's request with this fingerprint (a hash of the request). A claim left
    /// unanswered for ``idempotencyClaimLease`` seconds is taken over.
    public func claimIdempotencyKey(accountID: String, key: String, fingerprint: String) async throws -> IdempotencyClaim {
        try await write { tx, now in
            let record = IdempotencyRecord(accountID: accountID, key: key, fingerprint: fingerprint, createdAt: now)
            return try tx.claimIdempotencyKey(record, abandonedBefore: now - Self.idempotencyClaimLease)
                .map(IdempotencyClaim.existing) ?? .claimed
        }
    }

    /// Stores the answer to a request under its claimed key, so the same request gets it again.
    public func completeIdempotencyKey(accountID: String, key: String, status: Int, contentType: String?, body: Data) async throws {
        try await write { tx, _ in
            try tx.completeIdempotencyKey(accountID: accountID, key: key, status: status, contentType: contentType, body: body)
        }
    }

    /// Frees a claimed key whose request failed in a way worth trying again (a server error).
    public func releaseIdempotencyKey(accountID: String, key: String) async throws {
        try await write { tx, _ in try tx.releaseIdempotencyKey(accountID: accountID, key: key) }
    }

    /// A payload as shown to operators: a sign-in link is the account's secret, never shown to anyone else.
    static func redacted(_ payload: [String: String]?) -> [String: String]? {
        guard var payload, payload["sign_in_url"] != nil else { return payload }
        payload["sign_in_url"] = "(a one-time sign-in link: sent to the account only)"
        return payload
    }

    static func view(_ record: OutboxRecord, deliveries: [DeliveryRecord]?) -> OutboxMessageView {
        OutboxMessageView(
            id: record.id, instanceID: record.instanceID, template: record.template, recipient: record.recipient,
            status: record.status.rawValue, attempts: record.attempts, createdAt: Timestamp.iso(record.createdAt),
            lastError: record.lastError, payload: deliveries == nil ? nil : redacted(JSONText.flatStrings(record.payload)),
            deliveries: deliveries)
    }
}
