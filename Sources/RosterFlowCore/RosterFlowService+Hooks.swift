import Crypto
import Foundation
import StorageCore
import WorkflowEngine

/// An inbound hook sender as listed: never its secret.
public struct HookSenderView: Sendable, Codable, Equatable {
    public var name: String
    /// Tenant ids the sender may act on; empty for every district.
    public var districts: [String]
    /// `active` or `disabled`.
    public var status: String
    /// ISO 8601, UTC.
    public var createdAt: String
    public var rotatedAt: String?
    /// Until when the secret before the last rotation is still accepted (absent when none is).
    public var previousSecretValidUntil: String?
    public var disabledAt: String?

    init(_ record: HookSenderRecord, now: Double) {
        name = record.name
        districts = record.districts
        status = record.status
        createdAt = Timestamp.iso(record.createdAt)
        rotatedAt = record.rotatedAt.map(Timestamp.iso)
        previousSecretValidUntil = record.previousSecret == nil ? nil
            : record.previousValidUntil.flatMap { $0 > now ? Timestamp.iso($0) : nil }
        disabledAt = record.disabledAt.map(Timestamp.iso)
    }
}

/// A hook secret just made (by `hooks senders add` or `rotate`): the only time it is shown.
public struct IssuedHookSecret: Sendable, Codable, Equatable {
    /// `whsec_` and the base64 of 32 random bytes: give it to the sender, which signs its hooks with it.
    public var secret: String
    public var sender: HookSenderView
}

/// What the server needs to verify a hook from a named sender.
public enum HookSenderCheck: Sendable, Equatable {
    /// No sender has this name.
    case unknown
    case disabled
    /// The secrets a signature may be made with (the current one, and the one before the last rotation during its
    /// grace period), and the districts the sender may act on.
    case active(secrets: [String], scope: DistrictScope)
}

/// The `app-enabled` hook: a district admin enabled the app in ClassLink.
public struct AppEnabledHook: Sendable, Equatable {
    public var tenantID: String
    /// The district's OneRoster sourcedId, when the sender gives it (kept in the history's reason).
    public var districtSourcedID: String?
    public var districtName: String
    /// ClassLink's permission type: `Rule-Based`, `Full` or `Legacy Custom` (or the CLI's spelling).
    public var permission: String
    public var contactName: String?
    public var contactEmail: String

    /// A request with every field given.
    public init(
        tenantID: String, districtSourcedID: String?, districtName: String, permission: String, contactName: String?,
        contactEmail: String
    ) {
        self.tenantID = tenantID
        self.districtSourcedID = districtSourcedID
        self.districtName = districtName
        self.permission = permission
        self.contactName = contactName
        self.contactEmail = contactEmail
    }
}

/// The `student-started` hook: the platform saw the first student start a course, named by the school's course or
/// class sourcedId.
public struct StudentStartedHook: Sendable, Equatable {
    public var tenantID: String
    public var courseSourcedID: String?
    /// A class of the course (held from the district's syncs); used when no course sourcedId is given.
    public var classSourcedID: String?
    /// The student, kept in the history's reason.
    public var userSourcedID: String?

    /// A report naming the course, or a class of it.
    public init(tenantID: String, courseSourcedID: String?, classSourcedID: String?, userSourcedID: String?) {
        self.tenantID = tenantID
        self.courseSourcedID = courseSourcedID
        self.classSourcedID = classSourcedID
        self.userSourcedID = userSourcedID
    }
}

/// What an inbound hook asks for.
public enum HookAction: Sendable, Equatable {
    /// Request an integration for the district (as `integrations request` does).
    case appEnabled(AppEnabledHook)
    /// Disable the district's open integrations (the workflow's `disable` event).
    case appDisabled(tenantID: String, reason: String?)
    /// Lock the course's mapping (the workflow's `student_started` event).
    case studentStarted(StudentStartedHook)

    /// The hook's route name: `app-enabled`, `app-disabled`, `student-started`.
    public var name: String {
        switch self {
        case .appEnabled: "app-enabled"
        case .appDisabled: "app-disabled"
        case .studentStarted: "student-started"
        }
    }

    /// The district the hook acts on.
    public var tenantID: String {
        switch self {
        case let .appEnabled(hook): hook.tenantID
        case let .appDisabled(tenantID, _): tenantID
        case let .studentStarted(hook): hook.tenantID
        }
    }
}

/// One instance a hook changed (or found already where the hook would put it).
public struct HookChange: Sendable, Codable, Equatable {
    public var instanceId: String
    public var workflow: String
    public var event: String
    /// Absent for a new instance.
    public var from: String?
    public var to: String
    /// Set when nothing was applied to this instance, e.g. `already locked`.
    public var note: String?
}

/// The answer to an applied hook, stored with its `webhook-id`.
public struct HookResult: Sendable, Codable, Equatable {
    public var hook: String
    public var webhookId: String
    public var sender: String
    public var changes: [HookChange]
}

/// The HTTP answer to a hook: the first one again when the hook is a redelivery.
public struct HookAnswer: Sendable, Equatable {
    public var status: Int
    /// JSON (a ``HookResult``).
    public var body: Data
    /// True when this is the stored answer of an earlier delivery with the same `webhook-id` (nothing was applied).
    public var replayed: Bool
}

extension RosterFlowService {
    /// How long an applied hook's `webhook-id` is remembered: a redelivery within it gets the first answer; senders
    /// retry for hours to a few days.
    public static let hookRetention: Double = 7 * 86_400

    /// How long the secret before a rotation is accepted when none is given.
    public static let defaultHookGrace: Double = 86_400

    /// The actor history and audit record for a hook sender.
    public static func hookActor(_ name: String) -> String { "hook:\(name)" }

    /// Adds a hook sender and makes its secret, returned this once. With `districts`, the sender may act only on
    /// those tenants; without, on every district. Audited (without the secret).
    ///
    /// - Throws: ``RosterFlowError/Code/invalidInput`` for a name that is not 1–64 lower-case letters, digits, `.`,
    ///   `_` or `-`; ``RosterFlowError/Code/conflict`` when the name is taken.
    public func addHookSender(name: String, districts: [String], actor: String) async throws -> IssuedHookSecret {
        let name = try Self.checkHookSenderName(name)
        let districts = Array(Set(districts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })).sorted()
        let secret = Self.newHookSecret()
        return try await write { tx, now in
            if try tx.hookSender(name: name) != nil {
                throw RosterFlowError(.conflict, "there is a hook sender \(name) already; `rosterflow hooks senders rotate \(name)` gives it a new secret")
            }
            let record = HookSenderRecord(name: name, secret: secret, districts: districts, status: "active", createdAt: now)
            try tx.insertHookSender(record)
            let view = HookSenderView(record, now: now)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "hook-sender-add", integrationID: nil, subject: Self.hookActor(name), before: nil,
                after: Self.json(view)))
            return IssuedHookSecret(secret: secret, sender: view)
        }
    }

    /// Every hook sender, oldest first, never their secrets.
    public func hookSenders() throws -> [HookSenderView] {
        let now = clock()
        return try read { try $0.hookSenders() }.map { HookSenderView($0, now: now) }
    }

    /// Gives an active sender a new secret, returned this once; the old one is still accepted for `grace` seconds
    /// (signatures made with either verify), so the sender can switch without losing hooks. Audited.
    public func rotateHookSender(name: String, grace: Double = defaultHookGrace, actor: String) async throws -> IssuedHookSecret {
        guard grace >= 0, grace <= 30 * 86_400 else {
            throw RosterFlowError(.invalidInput, "the grace period must be from 0 to 30 days")
        }
        let secret = Self.newHookSecret()
        return try await write { tx, now in
            var record = try Self.requireHookSender(name, tx)
            guard record.status == "active" else {
                throw RosterFlowError(.refused, "hook sender \(name) is disabled; add a new sender instead of rotating this one")
            }
            let before = Self.json(HookSenderView(record, now: now))
            record.previousSecret = grace > 0 ? record.secret : nil
            record.previousValidUntil = grace > 0 ? now + grace : nil
            record.secret = secret
            record.rotatedAt = now
            try tx.updateHookSender(record)
            let view = HookSenderView(record, now: now)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "hook-sender-rotate", integrationID: nil, subject: Self.hookActor(name), before: before,
                after: Self.json(view)))
            return IssuedHookSecret(secret: secret, sender: view)
        }
    }

    /// Disables a sender: its hooks are refused from now on (401). Audited.
    public func disableHookSender(name: String, actor: String) async throws -> HookSenderView {
        try await write { tx, now in
            var record = try Self.requireHookSender(name, tx)
            guard record.status != "disabled" else { return HookSenderView(record, now: now) }
            let before = Self.json(HookSenderView(record, now: now))
            record.status = "disabled"
            record.disabledAt = now
            try tx.updateHookSender(record)
            let view = HookSenderView(record, now: now)
            try tx.insertAudit(AuditRecord(
                at: now, actor: actor, action: "hook-sender-disable", integrationID: nil, subject: Self.hookActor(name), before: before,
                after: Self.json(view)))
            return view
        }
    }

    /// The secrets a hook from `name` may be signed with now, and the districts it may act on.
    public func checkHookSender(_ name: String) throws -> HookSenderCheck {
        let now = clock()
        return try read { tx in
            guard let record = try tx.hookSender(name: name) else { return .unknown }
            guard record.status == "active" else { return .disabled }
            var secrets = [record.secret]
            if let previous = record.previousSecret, let until = record.previousValidUntil, until > now { secrets.append(previous) }
            return .active(secrets: secrets, scope: record.districts.isEmpty ? .all : .only(Set(record.districts)))
        }
    }

    /// Applies a verified hook once. In one transaction: a delivery already applied under the same sender and
    /// `webhook-id` is answered with its stored answer (nothing applied again), or refused when it carried another
    /// body; otherwise the action is applied as the sender (`hook:NAME`, in the system role) and its answer stored.
    /// A refused action stores nothing, so the sender's retry is decided afresh.
    ///
    /// - Parameter fingerprint: a digest of the route and the raw body, compared with a redelivery's.
    /// - Throws: ``RosterFlowError/Code/conflict`` (`webhook-id-reused`) for a known id with another body; the
    ///   domain's errors for the action (not found, refused by the workflow, invalid input).
    public func receiveHook(sender: String, webhookID: String, fingerprint: String, action: HookAction) async throws -> HookAnswer {
        let runtime = self.runtime
        let actor = Self.hookActor(sender)
        return try await write { tx, now in
            try tx.deleteHookDeliveries(receivedBefore: now - Self.hookRetention)
            if let existing = try tx.hookDelivery(sender: sender, webhookID: webhookID) {
                guard existing.fingerprint == fingerprint else {
                    throw RosterFlowError(
                        .conflict, "webhook-id \(webhookID) was already used by \(sender) for another hook; send a new id for a new hook",
                        cause: "webhook-id-reused")
                }
                return HookAnswer(status: existing.status, body: existing.body, replayed: true)
            }
            let changes = try Self.apply(action, sender: sender, actor: actor, runtime: runtime, tx: tx, now: now)
            let result = HookResult(hook: action.name, webhookId: webhookID, sender: sender, changes: changes)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let body = try encoder.encode(result)
            try tx.insertHookDelivery(HookDeliveryRecord(
                sender: sender, webhookID: webhookID, fingerprint: fingerprint, status: 200, body: body, receivedAt: now))
            return HookAnswer(status: 200, body: body, replayed: false)
        }
    }

    /// ClassLink's permission types (`Rule-Based`, `Full`, `Legacy Custom`) in RosterFlow's spelling; the CLI's own
    /// spellings are accepted as they are.
    public static func classLinkPermission(_ text: String) -> String? {
        let key = text.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "_", with: "-")
            .replacingOccurrences(of: " ", with: "-")
        return permissions.contains(key) ? key : nil
    }

    // MARK: Applying hooks

    static func apply(
        _ action: HookAction, sender name: String, actor: String, runtime: WorkflowRuntime, tx: any StoreTransaction, now: Double
    ) throws -> [HookChange] {
        let sender = Sender(actor: actor, role: .system)
        func change(_ step: AppliedStep) -> HookChange {
            HookChange(instanceId: step.instanceID, workflow: step.workflow, event: step.event, from: step.from.isEmpty ? nil : step.from, to: step.to)
        }
        switch action {
        case let .appEnabled(hook):
            guard let permission = classLinkPermission(hook.permission) else {
                throw RosterFlowError(
                    .invalidInput, "permission '\(hook.permission)' is not a ClassLink permission type; use Rule-Based, Full or Legacy Custom")
            }
            let request = try checkRequest(
                tenantID: hook.tenantID, district: hook.districtName, permission: permission, contactEmail: hook.contactEmail)
            var details = ["hook app-enabled from \(name)"]
            if let id = hook.districtSourcedID, !id.isEmpty { details.append("district sourcedId \(id)") }
            if let contact = hook.contactName, !contact.isEmpty { details.append("contact \(contact)") }
            let step = try insertRequest(
                request, reason: "district enabled the app in ClassLink (\(permission)); " + details.joined(separator: ", "),
                sender: sender, runtime: runtime, tx: tx, now: now)
            return [HookChange(instanceId: step.instanceID, workflow: step.workflow, event: "request", from: nil, to: step.to)]

        case let .appDisabled(tenantID, reason):
            let closed: Set<String> = [DomainVocabulary.Integration.State.rejected, DomainVocabulary.Integration.State.disabled]
            let open = try tx.integrations(tenantID: tenantID).filter { !closed.contains($0.state) }
            guard !open.isEmpty else {
                throw RosterFlowError(.notFound, "district \(tenantID) has no open integration to disable")
            }
            let reason = "district disabled the app in ClassLink (hook app-disabled from \(name))"
                + (reason.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : ": \($0)" } ?? "")
            return try open.map { entry in
                change(try runtime.apply(
                    tx, instanceID: entry.integration.id, event: DomainVocabulary.Integration.Event.disable, sender: sender,
                    reason: reason, now: now))
            }

        case let .studentStarted(hook):
            let courses = try startedCourses(hook, tx: tx)
            var details = ["hook student-started from \(name)"]
            if let id = hook.classSourcedID, !id.isEmpty { details.append("class \(id)") }
            if let id = hook.userSourcedID, !id.isEmpty { details.append("student \(id)") }
            let reason = "first student started the course (" + details.joined(separator: ", ") + ")"
            return try courses.map { course in
                guard let instance = try tx.instance(id: course.id) else {
                    throw RosterFlowError(.notFound, "there is no course \(course.id)")
                }
                if instance.state == DomainVocabulary.CourseMapping.State.locked {
                    return HookChange(
                        instanceId: course.id, workflow: instance.workflow, event: DomainVocabulary.CourseMapping.Event.studentStarted,
                        from: instance.state, to: instance.state, note: "already locked")
                }
                return change(try runtime.apply(
                    tx, instanceID: course.id, event: DomainVocabulary.CourseMapping.Event.studentStarted, sender: sender, reason: reason,
                    now: now, loaded: instance))
            }
        }
    }

    /// The district's courses a student-started hook names: by course sourcedId, or by the course of a held class;
    /// in the district's open integrations when any holds it.
    static func startedCourses(_ hook: StudentStartedHook, tx: any StoreTransaction) throws -> [CourseRecord] {
        let courseID = hook.courseSourcedID?.trimmingCharacters(in: .whitespaces).nilIfBlank
        let classID = hook.classSourcedID?.trimmingCharacters(in: .whitespaces).nilIfBlank
        guard courseID != nil || classID != nil else {
            throw RosterFlowError(.invalidInput, "name the course: give courseSourcedId, or classSourcedId of one of its classes")
        }
        let integrations = try tx.integrations(tenantID: hook.tenantID)
        guard !integrations.isEmpty else {
            throw RosterFlowError(.notFound, "there is no integration of district \(hook.tenantID)")
        }
        var found: [(course: CourseRecord, open: Bool)] = []
        for entry in integrations {
            let open = entry.state != DomainVocabulary.Integration.State.rejected && entry.state != DomainVocabulary.Integration.State.disabled
            var sourcedID = courseID
            if sourcedID == nil, let classID {
                sourcedID = try tx.rosterRecords(integrationID: entry.integration.id, entity: "classes", sourcedIDs: [classID]).first?.ref1
            }
            if let sourcedID, let course = try tx.course(integrationID: entry.integration.id, sourcedID: sourcedID) {
                found.append((course, open))
            }
        }
        guard !found.isEmpty else {
            throw RosterFlowError(
                .notFound, courseID.map { "district \(hook.tenantID) has no course with sourcedId \($0)" }
                    ?? "district \(hook.tenantID) holds no class \(classID ?? "") with a course RosterFlow knows (from its syncs)")
        }
        let open = found.filter(\.open)
        return (open.isEmpty ? found : open).map(\.course)
    }

    // MARK: Senders and secrets

    static func checkHookSenderName(_ name: String) throws -> String {
        let name = name.trimmingCharacters(in: .whitespaces)
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
        guard (1...64).contains(name.utf8.count), allowed else {
            throw RosterFlowError(
                .invalidInput, "'\(name)' is not a sender name: use 1 to 64 lower-case letters, digits, '.', '_' or '-' (e.g. classlink)")
        }
        return name
    }

    static func requireHookSender(_ name: String, _ tx: any StoreTransaction) throws -> HookSenderRecord {
        guard let record = try tx.hookSender(name: name) else {
            throw RosterFlowError(.notFound, "there is no hook sender \(name); `rosterflow hooks senders list` shows them")
        }
        return record
    }

    /// `whsec_` and the base64 of 32 bytes from the system's CSPRNG, the Standard Webhooks form.
    static func newHookSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }
}

extension String {
    fileprivate var nilIfBlank: String? { isEmpty ? nil : self }
}
