import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RosterFlowCore
import StorageCore
import WorkflowEngine

/// The dashboard: server-rendered pages for people, signed in by a one-time e-mailed link or an API token, over the
/// same access layer as the API (district scope from the account, actions sent as workflow events in the account's
/// role, so the workflow definitions decide who may do what).
struct Dashboard: Sendable {
    let service: RosterFlowService
    let logger: Logger
    /// Where people reach the server (links in sign-in e-mails); never taken from a request's Host header.
    let baseURL: String
    /// Cookies carry `Secure` (the public URL is https).
    let secureCookies: Bool
    let policy: SignInPolicy
    /// Set when the port is known only once the server listens: links then point there instead of `baseURL`.
    var listening: ListeningAddress? = nil

    /// Where the links in sign-in e-mails point.
    var linkBase: String { listening?.value ?? baseURL }

    /// The largest export the "check an export" upload takes.
    static let checkLimit = 20 * 1024 * 1024

    var api: API { API(service: service, logger: logger) }

    func register(on router: Router<AppContext>) {
        router.get("assets/dashboard.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: Web.stylesheet))
        }
        let open = router.group().add(middleware: DashboardErrors(service: service))
        open.get("sign-in", use: signInPage)
        open.post("sign-in", use: requestLink)
        open.post("sign-in/token", use: signInWithToken)
        open.get("sign-in/{token}", use: confirmPage)
        open.post("sign-in/{token}", use: signInWithLink)
        let signedIn = router.group().add(middleware: DashboardErrors(service: service))
            .add(middleware: SessionMiddleware(service: service, policy: policy))
        signedIn.post("sign-out", use: signOut)
        signedIn.get("dashboard", use: home)
        signedIn.get("dashboard/integrations/{id}", use: integrationPage)
        signedIn.post("dashboard/integrations/{id}/events", use: integrationEvent)
        signedIn.post("dashboard/integrations/{id}/schedule", use: schedule)
        signedIn.post("dashboard/courses/{id}/events", use: courseEvent)
        signedIn.post("dashboard/sync-runs/{id}/decide", use: decide)
        signedIn.get("dashboard/outbox", use: outbox)
        signedIn.post("dashboard/outbox/{id}/retry", use: retryOutbox)
        // The workflow's diagram (the API's own handler, reached with the session instead of a token).
        signedIn.get("dashboard/workflows/{name}/diagram.svg", use: api.workflowDiagram)
        signedIn.get("dashboard/integrations/{id}/course-map.csv", use: courseMapDownload)
        signedIn.post("dashboard/integrations/{id}/course-map", use: courseMapUpload)
        signedIn.get("dashboard/catalog", use: catalogPage)
        signedIn.post("dashboard/catalog", use: catalogImport)
        signedIn.get("dashboard/workflows", use: workflowsPage)
        signedIn.post("dashboard/workflows/migrations", use: migrateWorkflows)
        signedIn.get("dashboard/check", use: checkPage)
        signedIn.post("dashboard/check", use: checkExport)
        registerPeople(open: open, signedIn: signedIn, on: router)
    }

    // MARK: Sign-in

    /// The CSRF value of forms before sign-in: the pre-session cookie's, or a new one (then `setCookie` is set).
    func preSession(_ request: Request) -> (value: String, setCookie: HTTPFields) {
        if let value = Web.cookieValue(request, Web.preCookie) { return (value, [:]) }
        let value = Web.secret()
        return (value, [.setCookie: Web.cookie(Web.preCookie, value, maxAge: 3600, secure: secureCookies)])
    }

    /// Reads a form posted before sign-in; its `csrf` field must match the pre-session cookie.
    func preSessionForm(_ request: Request, _ context: AppContext) async throws -> [String: String] {
        var request = request
        let fields = Web.form(try await request.collectBody(upTo: context.maxUploadSize))
        guard let cookie = Web.cookieValue(request, Web.preCookie), let sent = fields["csrf"], Web.same(cookie, sent) else {
            throw PageError.csrf
        }
        return fields
    }

    @Sendable func signInPage(_ request: Request, context: AppContext) async throws -> Response {
        if let token = Web.cookieValue(request, Web.sessionCookie), try await service.checkSession(token, policy: policy) != nil {
            return Web.redirect("/dashboard")
        }
        let pre = preSession(request)
        return Web.page("sign-in", title: "Sign in", values: [:], csrf: pre.value, headers: pre.setCookie)
    }

    @Sendable func requestLink(_ request: Request, context: AppContext) async throws -> Response {
        let fields = try await preSessionForm(request, context)
        let email = (fields["email"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !email.isEmpty, email.utf8.count <= 254 else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "give your e-mail address")
        }
        switch try await service.requestSignInLink(email: email, clientAddress: context.clientAddress, baseURL: linkBase, policy: policy) {
        case let .rateLimited(retryAfter): throw PageError.rateLimited(retryAfter)
        case .accepted:
            logger.info("sign-in link requested from \(context.clientAddress)")
            return Web.page(
                "sign-in", title: "Sign in", values: ["sent": true, "email": email], csrf: Web.cookieValue(request, Web.preCookie))
        }
    }

    @Sendable func signInWithToken(_ request: Request, context: AppContext) async throws -> Response {
        let fields = try await preSessionForm(request, context)
        do {
            let result = try await service.signIn(
                apiToken: fields["token"] ?? "", clientAddress: context.clientAddress,
                replacing: Web.cookieValue(request, Web.sessionCookie), policy: policy)
            if let retryAfter = result.retryAfter { throw PageError.rateLimited(retryAfter) }
            guard let session = result.session else { throw PageError.csrf }
            return started(session)
        } catch let error as RosterFlowError where error.code == .refused {
            throw PageError(status: .unauthorized, code: "unauthenticated", cause: error.cause ?? "unknown-token", message: error.message)
        }
    }

    @Sendable func confirmPage(_ request: Request, context: AppContext) async throws -> Response {
        let token = try context.parameters.require("token")
        let pre = preSession(request)
        var values: [String: Any] = ["token": token]
        switch try service.checkSignInLink(token) {
        case let .valid(email):
            values["valid"] = true
            values["email"] = email
        case .unknown: values["problem"] = "This sign-in link is not valid."
        case .used: values["problem"] = "This sign-in link was used already: links work once."
        case .expired: values["problem"] = "This sign-in link has expired (links work for \(Int(policy.linkLifetime / 60)) minutes)."
        }
        return Web.page("sign-in-confirm", title: "Sign in", values: values, csrf: pre.value, headers: pre.setCookie)
    }

    @Sendable func signInWithLink(_ request: Request, context: AppContext) async throws -> Response {
        let token = try context.parameters.require("token")
        _ = try await preSessionForm(request, context)
        do {
            return started(try await service.signIn(
                linkToken: token, replacing: Web.cookieValue(request, Web.sessionCookie), policy: policy))
        } catch let error as RosterFlowError where error.code == .refused {
            throw PageError(status: .unauthorized, code: "unauthenticated", cause: error.cause ?? "link-unknown", message: error.message)
        }
    }

    /// A new session: its cookie (a new value: sessions rotate at sign-in), the pre-session cookie cleared.
    func started(_ session: NewSession) -> Response {
        logger.info("signed in: \(session.principal.account.id)")
        var headers: HTTPFields = [:]
        headers.append(HTTPField(
            name: .setCookie,
            value: Web.cookie(Web.sessionCookie, session.token, maxAge: Int(policy.sessionLifetime), secure: secureCookies)))
        headers.append(HTTPField(name: .setCookie, value: Web.cookie(Web.preCookie, "", maxAge: 0, secure: secureCookies)))
        return Web.redirect("/dashboard", headers: headers)
    }

    @Sendable func signOut(_ request: Request, context: AppContext) async throws -> Response {
        _ = try await sessionForm(request, context)
        if let token = Web.cookieValue(request, Web.sessionCookie) { try await service.signOut(sessionToken: token) }
        return Web.redirect(
            "/sign-in", headers: [.setCookie: Web.cookie(Web.sessionCookie, "", maxAge: 0, secure: secureCookies)])
    }

    /// Reads a form posted in a session; its `csrf` field must be the session's synchronizer token.
    func sessionForm(_ request: Request, _ context: AppContext) async throws -> [String: String] {
        var request = request
        let fields = Web.form(try await request.collectBody(upTo: context.maxUploadSize))
        guard let expected = context.csrfToken, let sent = fields["csrf"], Web.same(expected, sent) else { throw PageError.csrf }
        return fields
    }

    func page(_ template: String, title: String, values: [String: Any], context: AppContext, flash: [String: Any]? = nil) throws
        -> Response
    {
        Web.page(template, title: title, values: values, principal: try context.requirePrincipal(), csrf: context.csrfToken, flash: flash)
    }

    // MARK: Home: the board, the queue, the school's onboarding

    @Sendable func home(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let integrations = try service.integrations().filter { principal.scope.allows($0.tenantID) }
        let tasks = try service.tasks()
        switch principal.role {
        case .vendorAdmin, .system:
            return try page("board", title: "Board", values: DashboardViews.board(integrations, tasks: tasks, runtime: service.runtime), context: context)
        case .dsp:
            let districts = Dictionary(integrations.map { ($0.id, $0.district) }, uniquingKeysWith: { first, _ in first })
            let queue = tasks.filter { $0.kind == "course" && districts[$0.integrationID] != nil }
                .sorted { $0.waitingSince < $1.waitingSince }
            let items: [[String: Any]] = queue.map { task in
                let course = try? service.course(id: task.instanceID)
                return [
                    "since": task.waitingSince, "age": DashboardViews.age(since: task.waitingSince), "integrationID": task.integrationID,
                    "district": districts[task.integrationID] ?? "", "subject": task.subject, "todo": task.todo, "owner": task.ownerLabel,
                    "locked": course.map { $0.locked ? "locked" : "not locked" } ?? "",
                ]
            }
            return try page("queue", title: "Queue", values: ["items": items, "hasItems": !items.isEmpty], context: context)
        case .schoolAdmin:
            return try page(
                "school", title: "Onboarding",
                values: ["integrations": DashboardViews.school(integrations, tasks: tasks, runtime: service.runtime)], context: context)
        }
    }

    // MARK: An integration

    @Sendable func integrationPage(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        try api.requireIntegrationInScope(id, context)
        let (view, values) = try integrationValues(id, role: principal.role)
        var flash: [String: Any]?
        if let done = request.uri.queryParameters.get("done"), done.utf8.count <= 64 {
            flash = ["kind": "ok", "role": "status", "message": "Done: \(DashboardViews.label(done))."]
        }
        return try page("integration", title: view.district, values: values, context: context, flash: flash)
    }

    /// The integration page's values for `role`: the view, its courses, sync runs, actions and workflow version.
    func integrationValues(_ id: String, role: Role) throws -> (view: IntegrationView, values: [String: Any]) {
        let view = try service.integration(id: id)
        // Held runs in full (few): their proposed merges and carry-forward decide which approvals the page offers.
        let runs = try service.syncRuns(integrationID: id).map {
            $0.decision == "held" ? try service.syncRun(id: $0.id, withReport: false) : $0
        }
        var values = DashboardViews.integration(
            view, courses: try service.courses(integrationID: id), runs: runs,
            role: role, runtime: service.runtime, canDecide: service.rolesDecidingHeldRuns().contains(role))
        values["id"] = id
        values["workflowVersion"] = view.workflowVersion
        values["provisioning"] = try provisioningValues(id, role: role)
        return (view, values)
    }

    @Sendable func integrationEvent(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        let fields = try await sessionForm(request, context)
        try api.requireIntegrationInScope(id, context)
        let event = fields["event"] ?? ""
        let reason = fields["reason"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let version = fields["version"].flatMap { Int($0) }
        switch event {
        case DomainVocabulary.Integration.Event.authenticate, DomainVocabulary.Integration.Event.confirmCustomer:
            try api.checkVersion(version, current: try service.integration(id: id).rowVersion)
            _ = try await service.authenticate(
                integrationID: id, role: principal.role, actor: principal.actor,
                confirmMismatch: event == DomainVocabulary.Integration.Event.confirmCustomer, reason: reason)
        default:
            _ = try await service.send(
                event, to: id, role: principal.role, actor: principal.actor, reason: reason, expectedRowVersion: version)
        }
        return Web.redirect("/dashboard/integrations/\(id)?done=\(event.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
    }

    @Sendable func schedule(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        let fields = try await sessionForm(request, context)
        try api.requireIntegrationInScope(id, context)
        guard let time = fields["time"], let timezone = fields["timezone"] else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "give a time (HH:MM) and a time zone")
        }
        try api.checkVersion(fields["version"].flatMap { Int($0) }, current: try service.integration(id: id).rowVersion)
        _ = try await service.schedule(integrationID: id, time: time, timezone: timezone, role: principal.role, actor: principal.actor)
        return Web.redirect("/dashboard/integrations/\(id)?done=schedule")
    }

    @Sendable func courseEvent(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        let fields = try await sessionForm(request, context)
        let course = try api.courseInScope(id, context)
        let event = fields["event"] ?? ""
        let reason = fields["reason"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let version = fields["version"].flatMap { Int($0) }
        if event == "map" {
            // The map form: a catalog course's base id, and its title (taken from the vendor catalog when one is imported).
            let baseID = (fields["baseID"] ?? "").trimmingCharacters(in: .whitespaces)
            guard !baseID.isEmpty else {
                throw PageError(
                    status: .badRequest, code: "invalid-input", cause: "missing-field",
                    message: "give the catalog course's base id to map \(course.title) to")
            }
            let title = fields["catalog"].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            try api.checkVersion(version, current: course.rowVersion)
            _ = try await service.mapCourse(
                id: id, catalogTitle: title, baseID: baseID, role: principal.role, actor: principal.actor, reason: reason)
        } else {
            _ = try await service.send(event, to: id, role: principal.role, actor: principal.actor, reason: reason, expectedRowVersion: version)
        }
        return Web.redirect(
            "/dashboard/integrations/\(course.integrationID)?done=\(event.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
    }

    @Sendable func decide(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        let fields = try await sessionForm(request, context)
        let run = try api.syncRunInScope(id, context)
        try api.requireDecider(principal)
        let decision = fields["decision"] ?? ""
        switch decision {
        case "approve", "approve-without-deletes", "merge", "no-merge", "carry-forward":
            _ = try await service.approveSync(
                runID: id, withoutDeletes: decision == "approve-without-deletes",
                merge: decision == "merge" ? true : decision == "no-merge" ? false : nil, replan: false,
                carryForward: decision == "carry-forward", actor: principal.actor)
        case "reject":
            _ = try await service.rejectSync(runID: id, actor: principal.actor)
        default:
            throw PageError(
                status: .badRequest, code: "invalid-input", cause: "bad-decision",
                message: "choose approve, approve without deletes, carry forward, merge, no merge or reject")
        }
        return Web.redirect("/dashboard/integrations/\(run.integrationID)?done=\(decision)")
    }

    // MARK: The outbox

    @Sendable func outbox(_ request: Request, context: AppContext) async throws -> Response {
        try api.requireOperator(context)
        let messages = try await service.outboxMessages(status: nil, limit: 500).filter { $0.status != OutboxStatus.sent.rawValue }
        let items: [[String: Any]] = messages.map { message in
            [
                "id": message.id, "createdAt": message.createdAt, "template": message.template, "recipient": message.recipient,
                "status": message.status, "lastError": message.lastError ?? "",
                "retryable": [OutboxStatus.dead.rawValue, OutboxStatus.failed.rawValue, OutboxStatus.skipped.rawValue].contains(message.status),
            ]
        }
        return try page("outbox", title: "Outbox", values: ["messages": items, "hasMessages": !items.isEmpty], context: context)
    }

    @Sendable func retryOutbox(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        _ = try await sessionForm(request, context)
        try api.requireOperator(context)
        _ = try await service.retryOutbox(id: try context.parameters.require("id"), actor: principal.actor)
        return Web.redirect("/dashboard/outbox")
    }

    // MARK: The course map as a spreadsheet

    /// The course map as CSV (the `courses export` sheet), for a school or DSP to fill in.
    @Sendable func courseMapDownload(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        try api.requireIntegrationInScope(id, context)
        let csv = try service.exportCourseMap(integrationID: id)
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"course-map-\(id).csv\"",
                .cacheControl: "no-store",
            ],
            body: .init(byteBuffer: ByteBuffer(string: csv)))
    }

    /// A filled course map uploaded back (multipart `sheet`, `partial`): every row checked first, then each applied as
    /// the steps it implies in the account's role, as `courses import` does; the page lists what became of each row.
    @Sendable func courseMapUpload(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        let parts = try await sessionUpload(
            request, context, tooLarge: "this sheet is larger than \(Self.sheetLimit / 1024 / 1024) MiB; a course map is a few hundred rows")
        try api.requireIntegrationInScope(id, context)
        guard let sheet = parts["sheet"], !sheet.isEmpty else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-file", message: "choose the course map .csv to upload")
        }
        guard let text = String(data: sheet, encoding: .utf8) else {
            throw PageError(
                status: .badRequest, code: "invalid-input", cause: "not-utf8",
                message: "the sheet is not UTF-8 text; save it from your spreadsheet as \"CSV UTF-8\"")
        }
        let partial = parts["partial"].map { String(decoding: $0, as: UTF8.self) } == "yes"
        let result = try await service.importCourseMap(
            csv: text, file: "sheet", integrationID: id, role: principal.role, actor: principal.actor, partial: partial)
        var (view, values) = try integrationValues(id, role: principal.role)
        values["imported"] = [
            "summary": "\(result.applied) applied, \(result.refused) refused, \(result.items.count - result.applied - result.refused) unchanged",
            "rows": result.items.map { item -> [String: Any] in
                ["line": item.line, "course": item.course, "action": item.action, "result": item.result.rawValue, "message": item.message ?? ""]
            },
        ] as [String: Any]
        return try page("integration", title: view.district, values: values, context: context)
    }

    /// The largest course map sheet or catalog the dashboard takes.
    static let sheetLimit = 2 * 1024 * 1024

    /// A multipart form of a signed-in page (a spreadsheet upload): at most ``sheetLimit`` (413 with `tooLarge`
    /// otherwise), its parts by name, its CSRF token checked against the session's.
    func sessionUpload(_ request: Request, _ context: AppContext, tooLarge: String) async throws -> [String: Data] {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.sheetLimit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw PageError(status: .contentTooLarge, code: "too-large", cause: "body-too-large", message: tooLarge)
        }
        guard let parts = Web.multipart(body, contentType: request.headers[.contentType] ?? "") else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "bad-upload", message: "the upload could not be read; choose the file again")
        }
        let sent = parts["csrf"].map { String(decoding: $0, as: UTF8.self) }
        guard let expected = context.csrfToken, let sent, Web.same(expected, sent) else { throw PageError.csrf }
        return parts
    }

    // MARK: The vendor catalog

    /// The catalog with each course's mapped and locked counts, and its CSV import (vendor admin).
    @Sendable func catalogPage(_ request: Request, context: AppContext) async throws -> Response {
        try api.requireOperator(context)
        return try page("catalog", title: "Vendor catalog", values: try catalogValues(), context: context)
    }

    /// Imports an uploaded catalog CSV (multipart `catalog`), all rows or none, as `catalog import` does.
    @Sendable func catalogImport(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let parts = try await sessionUpload(
            request, context,
            tooLarge: "this catalog is larger than \(Self.sheetLimit / 1024 / 1024) MiB; `rosterflow catalog import` takes larger files")
        try api.requireOperator(context)
        guard let file = parts["catalog"], !file.isEmpty, let text = String(data: file, encoding: .utf8) else {
            throw PageError(
                status: .badRequest, code: "invalid-input", cause: "missing-file",
                message: "choose the catalog .csv (saved from your spreadsheet as \"CSV UTF-8\")")
        }
        let result = try await service.importCatalog(csv: text, file: "catalog.csv", actor: principal.actor)
        var values = try catalogValues()
        let warnings = result.warnings ?? []
        values["result"] = [
            "added": result.added, "updated": result.updated, "unchanged": result.unchanged,
            "warnings": warnings, "hasWarnings": !warnings.isEmpty,
        ] as [String: Any]
        return try page("catalog", title: "Vendor catalog", values: values, context: context)
    }

    private func catalogValues() throws -> [String: Any] {
        let courses = try service.catalog(includeRetired: true)
        return [
            "hasCourses": !courses.isEmpty,
            "courses": courses.map { course -> [String: Any] in
                [
                    "baseID": course.baseID, "title": course.title, "subject": course.subject ?? "",
                    "grades": course.grades.joined(separator: ", "), "status": course.status, "version": course.version,
                    "mappedCourses": course.mappedCourses, "lockedCourses": course.lockedCourses,
                ]
            },
        ]
    }

    // MARK: Workflows and their migrations

    /// The versions of each workflow with their instance counts, and the migration form (vendor admin).
    @Sendable func workflowsPage(_ request: Request, context: AppContext) async throws -> Response {
        try api.requireOperator(context)
        return try page("workflows", title: "Workflows", values: try workflowValues(), context: context)
    }

    /// A migration plan's dry run, or (with the confirmation box ticked) the migration itself: the same function and
    /// checks as `workflows migrate` and `POST /api/v1/workflows/migrations`.
    @Sendable func migrateWorkflows(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let fields = try await sessionForm(request, context)
        try api.requireOperator(context)
        let text = fields["plan"] ?? "", onlyText = fields["only"] ?? ""
        let dryRun = fields["action"] != "migrate"
        guard dryRun || fields["confirm"] == "yes" else {
            throw PageError(
                status: .unprocessableContent, code: "invalid-input", cause: "confirmation-needed",
                message: "Tick \"I read the dry run\" to move the instances; run the dry run first to see what moves.")
        }
        let only = onlyText.split(whereSeparator: \.isWhitespace).map(String.init)
        let report = try await api.migrate(
            planYAML: text, dryRun: dryRun, only: only.isEmpty ? nil : only, sender: Sender(actor: principal.actor, role: principal.role))
        func timers(_ list: [MigrationTimerView]) -> String {
            list.isEmpty ? "none" : list.map { "\($0.event) at \($0.dueAt)" }.joined(separator: ", ")
        }
        var values = try workflowValues()
        values["plan"] = text
        values["only"] = onlyText
        values["report"] = [
            "dryRun": report.dryRun, "summary": report.summary,
            "instances": report.instances.map { item -> [String: Any] in
                [
                    "id": item.id, "subject": item.subject, "state": item.state, "target": item.target ?? "",
                    "outcome": item.outcome.rawValue, "reason": item.reason ?? "",
                    "timers": timers(item.timersBefore) + " → " + timers(item.timersAfter),
                ]
            },
        ] as [String: Any]
        return try page("workflows", title: "Workflows", values: values, context: context)
    }

    private func workflowValues() throws -> [String: Any] {
        ["workflows": try service.workflowVersions().map { workflow -> [String: Any] in
            ["versions": workflow.versions.map {
                ["name": workflow.name, "version": $0.version, "current": $0.current, "instances": $0.instances] as [String: Any]
            }]
        }]
    }

    // MARK: Checking an export

    @Sendable func checkPage(_ request: Request, context: AppContext) async throws -> Response {
        try page("check", title: "Check an export", values: ["limitMB": Self.checkLimit / 1024 / 1024], context: context)
    }

    /// Runs the validator on an uploaded bundle (multipart `bundle`, or a raw `application/zip` body with the CSRF token
    /// in `X-CSRF-Token`); nothing of it is stored.
    @Sendable func checkExport(_ request: Request, context: AppContext) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.checkLimit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw PageError(
                status: .contentTooLarge, code: "too-large", cause: "body-too-large",
                message: "this file is larger than the check takes (\(Self.checkLimit / 1024 / 1024) MiB); check a smaller export or run `rosterflow validate` on it")
        }
        let contentType = request.headers[.contentType] ?? ""
        let sent: String?
        let zip: Data
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let parts = Web.multipart(body, contentType: contentType) else {
                throw PageError(status: .badRequest, code: "invalid-input", cause: "bad-upload", message: "the upload could not be read; choose the file again")
            }
            sent = parts["csrf"].map { String(decoding: $0, as: UTF8.self) }
            zip = parts["bundle"] ?? Data()
        } else {
            sent = request.headers[.csrfToken]
            zip = Data(body.readableBytesView)
        }
        guard let expected = context.csrfToken, let sent, Web.same(expected, sent) else { throw PageError.csrf }
        guard !zip.isEmpty else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-file", message: "choose a .zip file to check")
        }
        let check = try await Task.detached { try RosterFlowService.checkBundle(zip: zip) }.value
        let result: [String: Any] = [
            "verdict": check.errorCount == 0 ? "ready (no errors)" : "not ready: fix the errors below",
            "errorCount": check.errorCount, "warningCount": check.warningCount,
            "problems": check.problems.map { ["where": $0.location, "message": $0.message, "fix": $0.fix] },
        ]
        return try page(
            "check", title: "Check an export", values: ["limitMB": Self.checkLimit / 1024 / 1024, "result": result], context: context)
    }
}

extension PageError {
    static let csrf = PageError(
        status: .forbidden, code: "forbidden", cause: "csrf",
        message: "this form is out of date or did not come from RosterFlow; reload the page and try again")

    static func rateLimited(_ seconds: Int) -> PageError {
        PageError(
            status: .tooManyRequests, code: "rate-limited", cause: "too-many-sign-in-attempts",
            message: "too many sign-in attempts; try again in \(max(1, (seconds + 59) / 60)) minute(s)",
            headers: [.retryAfter: String(seconds)])
    }
}

extension HTTPField.Name {
    static let csrfToken = Self("X-CSRF-Token")!
}

/// Finds the session of the `rf_session` cookie; without one, a page is answered by a redirect to the sign-in page and
/// a form POST by 403.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let service: RosterFlowService
    let policy: SignInPolicy

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        guard let token = Web.cookieValue(request, Web.sessionCookie),
              let session = try await service.checkSession(token, policy: policy)
        else {
            if request.method == .get || request.method == .head { return Web.redirect("/sign-in") }
            throw PageError(
                status: .unauthorized, code: "unauthenticated", cause: "no-session",
                message: "you are not signed in (or your session ended); sign in again")
        }
        var context = context
        context.principal = session.principal
        context.csrfToken = session.csrfToken
        context.logger[metadataKey: "account"] = .string(session.principal.account.id)
        return try await next(request, context)
    }
}

/// Answers the dashboard's errors as pages for people: the status and stable code of the API's problem documents, the
/// message, and a way back; never a stack trace, never a 500 for a refusal.
struct DashboardErrors: RouterMiddleware {
    typealias Context = AppContext
    let service: RosterFlowService

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PageError {
            return Self.errorPage(
                status: error.status, code: error.code, cause: error.cause, message: error.message, context: context, headers: error.headers)
        } catch {
            let (problem, headers) = Problems.problem(for: error, request: request, allowedMethods: { _ in [] }, logger: context.logger)
            var message = problem.detail
            if let allowed = problem.allowedEvents, !allowed.isEmpty {
                message += " (allowed now: \(allowed.map(DashboardViews.label).joined(separator: ", ")))"
            }
            return Self.errorPage(
                status: .init(code: problem.status), code: problem.code, cause: problem.cause, message: message, context: context,
                headers: headers.filter { $0.name != .wwwAuthenticate })
        }
    }

    static func errorPage(
        status: HTTPResponse.Status, code: String, cause: String?, message: String, context: AppContext, headers: HTTPFields
    ) -> Response {
        let signedIn = context.principal != nil
        let values: [String: Any] = [
            "heading": status.code == 404 ? "Not found" : status.code == 429 ? "Too many attempts" : "That did not work",
            "message": message.prefix(1).uppercased() + message.dropFirst(), "code": code, "cause": cause ?? "",
            "back": signedIn ? "/dashboard" : "/sign-in", "backLabel": signedIn ? "Back to the dashboard" : "Back to sign-in",
        ]
        return Web.page(
            "error", title: values["heading"] as? String ?? "Error", values: values, status: status, principal: context.principal,
            csrf: context.csrfToken, headers: headers)
    }
}
