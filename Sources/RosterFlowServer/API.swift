import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RosterFlowCore
import StorageCore
import WorkflowDiagram
import WorkflowEngine

/// The `/api/v1/` JSON API over ``RosterFlowService``: every route checks the caller's district scope (others'
/// objects are "not found") and sends workflow events in the caller's own role, so the workflow definitions decide
/// what each role may do.
struct API: Sendable {
    let service: RosterFlowService
    let logger: Logger
    /// Integration pages kept while nothing is committed (clients and dashboards poll the list).
    let pages = CommitCache<Data>()

    static let prefix = "/api/v1"

    func register(on router: Router<AppContext>, authenticators: [any Authenticator]) {
        let api = router.group("api/v1")
        api.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.text.utf8)))
        }
        let authed = api.group().add(middleware: AuthenticationMiddleware(authenticators: authenticators))
        authed.get("me") { _, context in try JSONBody(try context.requirePrincipal().account) }
        authed.get("customers", use: customers)
        authed.get("integrations", use: integrations)
        authed.get("integrations/{id}", use: integration)
        authed.post("integrations/{id}/events", use: integrationEvent)
        authed.get("integrations/{id}/courses", use: courses)
        authed.get("integrations/{id}/roster/{sourcedId}", use: rosterHistory)
        authed.get("courses/{id}", use: course)
        authed.get("courses/{id}/suggestions", use: catalogSuggestions)
        authed.get("catalog", use: catalog)
        authed.post("catalog", use: importCatalog)
        authed.get("catalog/{baseId}", use: catalogCourse)
        authed.post("courses/{id}/events", use: courseEvent)
        authed.get("tasks", use: tasks)
        authed.get("sync-runs", use: syncRuns)
        authed.get("sync-runs/{id}", use: syncRun)
        authed.post("sync-runs/{id}/approve", use: approveSyncRun)
        authed.post("sync-runs/{id}/reject", use: rejectSyncRun)
        authed.get("outbox", use: outbox)
        authed.get("outbox/{id}", use: outboxMessage)
        authed.post("outbox/{id}/retry", use: retryOutbox)
        authed.get("workflows/{name}/diagram.svg", use: workflowDiagram)
        authed.put("integrations/{id}/mode", use: setMode)
        authed.get("teachers/{sourcedId}/classes", use: teacherClasses)
        authed.post("classes/imports", use: importClasses)
        authed.get("teachers/{sourcedId}/next-term-offer", use: nextTermOffers)
        authed.post("teachers/{sourcedId}/next-term-offer", use: answerNextTermOffer)
        authed.post("integrations/{id}/classes/{classId}/restore", use: restoreClass)
        authed.get("workflows", use: workflows)
        authed.post("workflows/migrations", use: migrateWorkflow)
    }

    // MARK: Reading

    @Sendable func customers(_ request: Request, context: AppContext) async throws -> JSONBody {
        let principal = try context.requirePrincipal()
        let visible = try service.customers().filter { principal.scope.allows($0.tenantID) }
        return try JSONBody(try Paging.page(visible, request: request, id: \.tenantID))
    }

    @Sendable func integrations(_ request: Request, context: AppContext) async throws -> JSONBody {
        let principal = try context.requirePrincipal()
        let (limit, after) = try Paging.parameters(request)
        let state = request.uri.queryParameters.get("state")
        let scopeKey = switch principal.scope {
        case .all: "*"
        case let .only(districts): districts.sorted().joined(separator: "\u{1F}")
        }
        let key = "integrations\u{1E}\(state ?? "")\u{1E}\(after ?? "")\u{1E}\(limit)\u{1E}\(scopeKey)"
        let body = try pages.value(for: key, at: service.commitCounter()) {
            guard let page = try service.integrationPage(state: state, after: after, limit: limit, scope: principal.scope) else { return nil }
            return try JSONBody(Paging.Page(items: page.items, nextCursor: page.more ? page.items.last.map { Paging.encode($0.id) } : nil)).data
        }
        guard let body else { throw Paging.badCursor }
        return JSONBody(data: body)
    }

    @Sendable func integration(_ request: Request, context: AppContext) async throws -> JSONBody {
        let id = try context.parameters.require("id")
        try requireIntegrationInScope(id, context)
        let view = try service.integration(id: id)
        return try JSONBody(view, etag: view.rowVersion)
    }

    @Sendable func courses(_ request: Request, context: AppContext) async throws -> JSONBody {
        let id = try context.parameters.require("id")
        try requireIntegrationInScope(id, context)
        return try JSONBody(try Paging.page(try service.courses(integrationID: id), request: request, id: \.id))
    }

    @Sendable func rosterHistory(_ request: Request, context: AppContext) async throws -> JSONBody {
        let id = try context.parameters.require("id")
        try requireIntegrationInScope(id, context)
        let entries = try service.rosterHistory(sourcedID: try context.parameters.require("sourcedId"), integrationID: id)
        return try JSONBody(Paging.Page(items: entries, nextCursor: nil))
    }

    @Sendable func course(_ request: Request, context: AppContext) async throws -> JSONBody {
        let view = try courseInScope(try context.parameters.require("id"), context)
        return try JSONBody(view, etag: view.rowVersion)
    }

    /// Catalog courses that match a course of the caller's district, best first, with the evidence.
    @Sendable func catalogSuggestions(_ request: Request, context: AppContext) async throws -> JSONBody {
        let view = try courseInScope(try context.parameters.require("id"), context)
        return try JSONBody(try service.catalogSuggestions(courseID: view.id))
    }

    /// The vendor catalog (every role may read it: it is the vendor's product list, not district data); `?all=true`
    /// includes retired courses.
    @Sendable func catalog(_ request: Request, context: AppContext) async throws -> JSONBody {
        _ = try context.requirePrincipal()
        let all = request.uri.queryParameters.get("all") == "true"
        return try JSONBody(try Paging.page(try service.catalog(includeRetired: all), request: request, id: \.baseID))
    }

    /// Imports catalog courses from a CSV body (vendor admin): all rows or none, as `catalog import`.
    @Sendable func importCatalog(_ request: Request, context: AppContext) async throws -> Response {
        try await changing(request, context) { body, principal, _ in
            try self.requireOperator(context)
            guard let text = String(bytes: body.readableBytesView, encoding: .utf8), !text.isEmpty else {
                throw BadRequest("send the catalog as a UTF-8 CSV body (base_id,title[,subject,grades,status])", cause: "bad-body")
            }
            return try JSONBody(try await self.service.importCatalog(csv: text, file: "catalog.csv", actor: principal.actor))
        }
    }

    @Sendable func catalogCourse(_ request: Request, context: AppContext) async throws -> JSONBody {
        _ = try context.requirePrincipal()
        return try JSONBody(try service.catalogCourse(baseID: try context.parameters.require("baseId")))
    }

    @Sendable func tasks(_ request: Request, context: AppContext) async throws -> JSONBody {
        let principal = try context.requirePrincipal()
        let integrationID = request.uri.queryParameters.get("integration")
        if let integrationID { try requireIntegrationInScope(integrationID, context) }
        var tenants: [String: String?] = [:]
        let visible = try service.tasks(integrationID: integrationID).filter { task in
            if tenants[task.integrationID] == nil { tenants[task.integrationID] = try service.tenantID(ofIntegration: task.integrationID) }
            return (tenants[task.integrationID] ?? nil).map(principal.scope.allows) ?? false
        }
        return try JSONBody(try Paging.page(visible, request: request, id: \.instanceID))
    }

    @Sendable func syncRuns(_ request: Request, context: AppContext) async throws -> JSONBody {
        let principal = try context.requirePrincipal()
        let integrationID = request.uri.queryParameters.get("integration")
        if let integrationID { try requireIntegrationInScope(integrationID, context) }
        var tenants: [String: String?] = [:]
        let visible = try service.syncRuns(integrationID: integrationID).filter { run in
            if tenants[run.integrationID] == nil { tenants[run.integrationID] = try service.tenantID(ofIntegration: run.integrationID) }
            return (tenants[run.integrationID] ?? nil).map(principal.scope.allows) ?? false
        }
        return try JSONBody(try Paging.page(visible, request: request, id: \.id))
    }

    @Sendable func syncRun(_ request: Request, context: AppContext) async throws -> JSONBody {
        try JSONBody(try syncRunInScope(try context.parameters.require("id"), context))
    }

    @Sendable func outbox(_ request: Request, context: AppContext) async throws -> JSONBody {
        try requireOperator(context)
        let status = try request.uri.queryParameters.get("status").map { text in
            guard let status = OutboxStatus(rawValue: text) else {
                throw BadRequest(
                    "'\(text)' is not an outbox status; use one of \(OutboxStatus.allCases.map(\.rawValue).joined(separator: ", "))",
                    cause: "bad-query")
            }
            return status
        }
        return try JSONBody(try Paging.page(try await service.outboxMessages(status: status, limit: 10_000), request: request, id: \.id))
    }

    @Sendable func outboxMessage(_ request: Request, context: AppContext) async throws -> JSONBody {
        try requireOperator(context)
        return try JSONBody(try await service.outboxMessage(id: try context.parameters.require("id")))
    }

    /// A workflow drawn as SVG (`?version=N` for a version this database holds; default the newest). Every role may
    /// read it: the definitions are the same for every district.
    @Sendable func workflowDiagram(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.requirePrincipal()
        var version: Int?
        if let text = request.uri.queryParameters.get("version") {
            guard let value = Int(text), value > 0 else { throw BadRequest("version must be a whole number from 1", cause: "bad-query") }
            version = value
        }
        let definition = try service.workflowDefinition(name: try context.parameters.require("name"), version: version)
        return Response(
            status: .ok, headers: [.contentType: "image/svg+xml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: WorkflowDiagram.svg(for: definition))))
    }

    // MARK: Changing

    struct IntegrationEvent: Decodable {
        var event: String
        var reason: String?
        /// With `resume`: keep the held sync run held (give a reason).
        var keepHeld: Bool?
        /// With `schedule`: the daily sync time (HH:MM) and IANA time zone.
        var time: String?
        var timezone: String?
    }

    @Sendable func integrationEvent(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        return try await changing(request, context) { body, principal, expected in
            let input = try JSONInput.decode(IntegrationEvent.self, from: body, request: request)
            try requireIntegrationInScope(id, context)
            let step: AppliedStep
            switch input.event {
            case DomainVocabulary.Integration.Event.authenticate, DomainVocabulary.Integration.Event.confirmCustomer:
                step = try await service.authenticate(
                    integrationID: id, role: principal.role, actor: principal.actor,
                    confirmMismatch: input.event == DomainVocabulary.Integration.Event.confirmCustomer, reason: input.reason,
                    expectedRowVersion: expected)
            case "schedule":
                guard let time = input.time, let timezone = input.timezone else {
                    throw BadRequest("the schedule event needs 'time' (HH:MM) and 'timezone' (an IANA zone)", cause: "missing-field")
                }
                step = try await service.schedule(
                    integrationID: id, time: time, timezone: timezone, role: principal.role, actor: principal.actor,
                    expectedRowVersion: expected)
            default:
                step = try await service.send(
                    input.event, to: id, role: principal.role, actor: principal.actor, reason: input.reason,
                    expectedRowVersion: expected, keepHeldRun: input.keepHeld ?? false)
            }
            return try JSONBody(step, etag: step.rowVersion)
        }
    }

    struct CourseEvent: Decodable {
        var event: String
        var reason: String?
        /// With `map`: the catalog course's title and base id.
        var catalog: String?
        var baseID: String?
    }

    @Sendable func courseEvent(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        return try await changing(request, context) { body, principal, expected in
            let input = try JSONInput.decode(CourseEvent.self, from: body, request: request)
            let course = try courseInScope(id, context)
            let step: AppliedStep
            switch input.event {
            case "map":
                guard let catalog = input.catalog, let baseID = input.baseID else {
                    throw BadRequest("the map event needs 'catalog' and 'baseID'", cause: "missing-field")
                }
                try checkVersion(expected, current: course.rowVersion)
                step = try await service.mapCourse(id: id, catalogTitle: catalog, baseID: baseID, role: principal.role, actor: principal.actor)
            case DomainVocabulary.CourseMapping.Event.studentStarted:
                try checkVersion(expected, current: course.rowVersion)
                guard let applied = try await service.studentStarted(id: id, role: principal.role, actor: principal.actor) else {
                    return try JSONBody(try service.course(id: id), etag: course.rowVersion)
                }
                step = applied
            default:
                step = try await service.send(
                    input.event, to: id, role: principal.role, actor: principal.actor, reason: input.reason,
                    expectedRowVersion: expected)
            }
            return try JSONBody(step, etag: step.rowVersion)
        }
    }

    struct SyncDecision: Decodable {
        /// Apply the run but keep the records it would delete (they are parked).
        var withoutDeletes: Bool?
        /// For a run that proposes merges of re-keyed records: apply them as merges (true) or decline them (false).
        var merge: Bool?
        /// Plan the same bundle against today's roster as a new held run instead of applying this stale one.
        var replan: Bool?
        /// For a school-year rollover: start each new course that matches a mapped course of last year in `mapped`,
        /// with that course's catalog course and base id.
        var carryForward: Bool?
    }

    @Sendable func approveSyncRun(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        return try await changing(request, context) { body, principal, _ in
            let input = try JSONInput.decode(SyncDecision.self, from: body, request: request, emptyIs: "{}")
            _ = try syncRunInScope(id, context)
            try requireDecider(principal)
            return try JSONBody(try await service.approveSync(
                runID: id, withoutDeletes: input.withoutDeletes ?? false, merge: input.merge, replan: input.replan ?? false,
                carryForward: input.carryForward ?? false, actor: principal.actor))
        }
    }

    @Sendable func rejectSyncRun(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        return try await changing(request, context) { body, principal, _ in
            _ = try JSONInput.decode(SyncDecision.self, from: body, request: request, emptyIs: "{}")
            _ = try syncRunInScope(id, context)
            try requireDecider(principal)
            return try JSONBody(try await service.rejectSync(runID: id, actor: principal.actor))
        }
    }

    struct Retried: Encodable {
        var id: String
        var deliveriesRetried: Int
    }

    @Sendable func retryOutbox(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        return try await changing(request, context) { _, principal, _ in
            try requireOperator(context)
            return try JSONBody(Retried(id: id, deliveriesRetried: try await service.retryOutbox(id: id, actor: principal.actor)))
        }
    }

    // MARK: Access rules

    /// 404 (the same answer as for an id that does not exist) unless the integration is in the caller's districts.
    func requireIntegrationInScope(_ id: String, _ context: AppContext) throws {
        let principal = try context.requirePrincipal()
        guard let tenant = try service.tenantID(ofIntegration: id), principal.scope.allows(tenant) else {
            throw RosterFlowError(.notFound, "there is no integration \(id); GET /api/v1/integrations lists yours")
        }
    }

    func courseInScope(_ id: String, _ context: AppContext) throws -> CourseView {
        let principal = try context.requirePrincipal()
        let notFound = RosterFlowError(.notFound, "there is no course \(id); GET /api/v1/integrations/{id}/courses lists them")
        let view: CourseView
        do {
            view = try service.course(id: id)
        } catch let error as RosterFlowError where error.code == .notFound {
            throw notFound
        }
        guard let tenant = try service.tenantID(ofIntegration: view.integrationID), principal.scope.allows(tenant) else { throw notFound }
        return view
    }

    func syncRunInScope(_ id: String, _ context: AppContext) throws -> SyncRunView {
        let principal = try context.requirePrincipal()
        let notFound = RosterFlowError(.notFound, "there is no sync run \(id); GET /api/v1/sync-runs lists yours")
        let view: SyncRunView
        do {
            view = try service.syncRun(id: id)
        } catch let error as RosterFlowError where error.code == .notFound {
            throw notFound
        }
        guard let tenant = try service.tenantID(ofIntegration: view.integrationID), principal.scope.allows(tenant) else { throw notFound }
        return view
    }

    /// Deciding a held run resumes the integration: only the roles the workflow lets send `resume` from `on_hold`.
    func requireDecider(_ principal: Principal) throws {
        let roles = service.rolesDecidingHeldRuns()
        guard roles.contains(principal.role) else {
            throw AccessError(
                .forbidden,
                "deciding a held sync run resumes the integration, which the integration workflow allows "
                    + (roles.isEmpty ? "no one" : roles.map(\.displayName).joined(separator: ", ")) + " to do, not \(principal.role.displayName)",
                cause: "role-not-allowed")
        }
    }

    /// The outbox is the operator's: messages of every district, with their addresses.
    func requireOperator(_ context: AppContext) throws {
        let principal = try context.requirePrincipal()
        guard principal.role == .vendorAdmin else {
            throw AccessError(.forbidden, "the outbox is the vendor admin's (it holds every district's messages)", cause: "role-not-allowed")
        }
    }

    func checkVersion(_ expected: Int?, current: Int) throws {
        guard let expected, expected != current else { return }
        throw RosterFlowError(
            .stale, "the instance is at row version \(current), not \(expected) (If-Match): it changed since you read it; nothing was applied",
            cause: "stale-instance")
    }

    // MARK: Changes: body, If-Match, Idempotency-Key

    /// Reads the body and `If-Match`, then runs `body`; with an `Idempotency-Key` the same request (same method, path,
    /// `If-Match` and body) gets the first answer again without being applied twice, and another request under the
    /// same key is refused (422).
    func changing(
        _ request: Request, _ context: AppContext,
        _ handler: @escaping (ByteBuffer, Principal, Int?) async throws -> JSONBody
    ) async throws -> Response {
        let principal = try context.requirePrincipal()
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let expected = try Self.ifMatch(request)
        guard let key = request.headers[.idempotencyKey] else {
            return try await handler(body, principal, expected).response()
        }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw BadRequest("the Idempotency-Key must be 1 to 255 visible ASCII characters", cause: "bad-idempotency-key")
        }
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method.rawValue) \(request.uri.path)\n\(expected.map(String.init) ?? "")\n".utf8))
        hasher.update(data: Data(body.readableBytesView))
        let fingerprint = Hex.lowercase(hasher.finalize())
        let accountID = principal.account.id
        switch try await service.claimIdempotencyKey(accountID: accountID, key: key, fingerprint: fingerprint) {
        case let .existing(record):
            guard record.fingerprint == fingerprint else {
                throw APIProblem(
                    .unprocessableContent, code: "invalid-input", cause: "idempotency-key-reused",
                    "this Idempotency-Key was used for another request; use a new key for a new request")
            }
            guard let status = record.status else {
                throw APIProblem(
                    .conflict, code: "conflict", cause: "idempotency-key-in-flight",
                    "the first request with this Idempotency-Key is still being answered; try again in a moment",
                    headers: [.retryAfter: "1"])
            }
            var headers: HTTPFields = [.idempotentReplayed: "true"]
            if let type = record.contentType { headers[.contentType] = type }
            return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: record.body ?? Data())))
        case .claimed:
            let answer: JSONBody
            do {
                answer = try await handler(body, principal, expected)
            } catch {
                let (problem, headers) = Problems.problem(for: error, request: request, allowedMethods: { _ in [] }, logger: logger)
                if problem.status >= 500 {
                    try? await service.releaseIdempotencyKey(accountID: accountID, key: key)
                    return Problems.response(problem, headers: headers)
                }
                let response = Problems.response(problem, headers: headers)
                let data = (try? Problems.encoder.encode(problem)) ?? Data()
                try await service.completeIdempotencyKey(
                    accountID: accountID, key: key, status: problem.status, contentType: ProblemDocument.mediaType, body: data)
                return response
            }
            try await service.completeIdempotencyKey(
                accountID: accountID, key: key, status: 200, contentType: JSONBody.mediaType, body: answer.data)
            return answer.response()
        }
    }

    /// `If-Match: "7"` (or `7`, or `W/"7"`): the row version the caller read.
    static func ifMatch(_ request: Request) throws -> Int? {
        guard var text = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if text.hasPrefix("W/") { text.removeFirst(2) }
        text = text.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard let version = Int(text), version >= 0 else {
            throw BadRequest("If-Match must be the row version you read, e.g. \"7\" (the ETag of the GET)", cause: "bad-if-match")
        }
        return version
    }
}

/// A JSON answer (200), with the row version as its `ETag` where it has one.
struct JSONBody: ResponseGenerator {
    static let mediaType = "application/json"
    let data: Data
    let etag: Int?

    init<T: Encodable>(_ value: T, etag: Int? = nil) throws {
        data = try Problems.encoder.encode(value)
        self.etag = etag
    }

    /// The hand-written JSON of `value`: the same bytes as the `Encodable` form, written without `JSONEncoder`.
    init<T: FastJSONEncodable>(_ value: T, etag: Int? = nil) throws {
        var json = JSONBytes()
        value.writeJSON(to: &json)
        data = Data(json.bytes)
        self.etag = etag
    }

    /// JSON written earlier.
    init(data: Data, etag: Int? = nil) {
        self.data = data
        self.etag = etag
    }

    func response() -> Response {
        var headers: HTTPFields = [.contentType: Self.mediaType]
        if let etag { headers[.eTag] = "\"\(etag)\"" }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }
}

/// Reading JSON request bodies: malformed JSON, missing fields and wrong types are 400 problems, never 500.
enum JSONInput {
    /// The usual content type, accepted without parsing it.
    private static let mediaTypeJSON = "application/json"

    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer, request: Request, emptyIs empty: String? = nil) throws -> T {
        var data = Data(body.readableBytesView)
        if data.isEmpty, let empty { data = Data(empty.utf8) }
        if !data.isEmpty, let contentType = request.headers[.contentType], contentType != mediaTypeJSON {
            let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" || media.hasSuffix("+json") else {
                throw BadRequest("send the body as application/json, not \(media)", cause: "not-json", code: .unsupportedMediaType)
            }
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            switch error {
            case let .keyNotFound(key, _):
                throw BadRequest("the body has no '\(key.stringValue)' field", cause: "missing-field")
            case let .typeMismatch(_, context), let .valueNotFound(_, context):
                let field = context.codingPath.map(\.stringValue).joined(separator: ".")
                throw BadRequest("the field '\(field)' has the wrong type", cause: "wrong-type")
            case .dataCorrupted:
                throw BadRequest("the body is not a JSON object", cause: "malformed-json")
            @unknown default:
                throw BadRequest("the body cannot be read", cause: "malformed-json")
            }
        }
    }
}

/// Cursor paging of lists: `?limit=` (1–200, default 50) and `?cursor=` from the previous page's `nextCursor`.
enum Paging {
    struct Page<Item: Encodable>: Encodable {
        var items: [Item]
        /// Pass as `cursor` for the next page; absent on the last page.
        var nextCursor: String?
    }

    static let badCursor = BadRequest("this cursor is not one this list gave; start again without it", cause: "bad-cursor")

    /// `limit` (default 50) and the id the `cursor` names, if any.
    static func parameters(_ request: Request) throws -> (limit: Int, after: String?) {
        let query = request.uri.queryParameters
        var limit = 50
        if let text = query.get("limit") {
            guard let value = Int(text), (1...200).contains(value) else {
                throw BadRequest("limit must be a whole number from 1 to 200", cause: "bad-query")
            }
            limit = value
        }
        guard let cursor = query.get("cursor") else { return (limit, nil) }
        guard let after = decode(cursor) else { throw badCursor }
        return (limit, after)
    }

    static func page<Item: Encodable>(_ items: [Item], request: Request, id: (Item) -> String) throws -> Page<Item> {
        let (limit, after) = try parameters(request)
        var start = 0
        if let after {
            guard let index = items.firstIndex(where: { id($0) == after }) else { throw badCursor }
            start = index + 1
        }
        let slice = Array(items[start..<min(items.count, start + limit)])
        let next = start + limit < items.count ? slice.last.map { encode(id($0)) } : nil
        return Page(items: slice, nextCursor: next)
    }

    static func encode(_ id: String) -> String {
        Data(id.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> String? {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).flatMap { String(data: $0, encoding: .utf8) }
    }
}

// MARK: Workflow versions and migrations

extension API {
    /// Each workflow with the versions the database holds and how many instances run each (of the caller's districts).
    @Sendable func workflows(_ request: Request, context: AppContext) async throws -> JSONBody {
        let principal = try context.requirePrincipal()
        // The vendor admin counts every instance; a district's people count their districts' own.
        let versions = try principal.role == .vendorAdmin
            ? service.workflowVersions() : service.workflowVersions(includes: principal.scope.allows)
        return try JSONBody(Paging.Page(items: versions, nextCursor: nil))
    }

    struct MigrationRequest: Decodable {
        /// The migration plan's YAML text.
        var plan: String
        var dryRun: Bool?
        var only: [String]?
    }

    /// Runs a migration plan (or its dry run): the vendor admin's only, the same checks and report as the CLI.
    @Sendable func migrateWorkflow(_ request: Request, context: AppContext) async throws -> Response {
        try await changing(request, context) { body, principal, _ in
            guard principal.role == .vendorAdmin else {
                throw AccessError(
                    .forbidden, "moving workflow instances to another version is the vendor admin's, not the \(principal.role.displayName)'s",
                    cause: "role-not-allowed")
            }
            let input = try JSONInput.decode(MigrationRequest.self, from: body, request: request)
            return try JSONBody(try await self.migrate(
                planYAML: input.plan, dryRun: input.dryRun ?? false, only: input.only,
                sender: Sender(actor: principal.actor, role: principal.role)))
        }
    }

    /// Runs a pasted migration plan (or its dry run) for the API and the dashboard: a plan that does not check is the
    /// caller's mistake (422 with every problem and its line), and the migration, which writes instance by instance
    /// on the calling thread, runs off the cooperative pool.
    func migrate(planYAML text: String, dryRun: Bool, only: [String]?, sender: Sender) async throws -> MigrationReport {
        let service = self.service
        return try await Task.detached {
            let plan: MigrationPlan
            do {
                plan = try service.migrationPlan(yaml: text, file: "plan")
            } catch let error as WorkflowValidationError {
                throw RosterFlowError(.invalidInput, error.message, cause: error.codeName)
            }
            return try service.migrate(plan, dryRun: dryRun, only: only, sender: sender)
        }.value
    }
}
