import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RosterFlowCore
import StorageCore
import WorkflowEngine

/// Sign in with ClassLink and the pages of the people it signs in: a teacher's classes and their import, a student's
/// placements, and the vendor admin's queue of sign-ins that could not be linked.
extension Dashboard {
    /// The callback URL registered with ClassLink (the same for every district).
    var classLinkRedirectURI: String { Self.trimmed(baseURL) + "/sign-in/classlink/callback" }

    static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    func registerPeople(open: RouterGroup<AppContext>, signedIn: RouterGroup<AppContext>, on router: Router<AppContext>) {
        open.get("sign-in/classlink", use: startClassLink)
        open.get("sign-in/classlink/callback", use: classLinkCallback)
        let people = router.group().add(middleware: DashboardErrors(service: service))
            .add(middleware: PersonSessionMiddleware(service: service, policy: policy))
        people.get("dashboard/teacher", use: teacherPage)
        people.post("dashboard/teacher/import", use: teacherImport)
        people.post("dashboard/teacher/next-term-offer", use: teacherAnswerOffer)
        people.get("dashboard/student", use: studentPage)
        people.post("dashboard/me/sign-out", use: personSignOut)
        signedIn.get("dashboard/unlinked", use: unlinkedPage)
        signedIn.post("dashboard/integrations/{id}/mode", use: setMode)
        signedIn.get("dashboard/integrations/{id}/explain", use: explainPlacementPage)
        signedIn.post("dashboard/unlinked/{code}/resolve", use: resolveUnlinked)
    }

    // MARK: Sign in with ClassLink

    /// `GET /sign-in/classlink?integration=ID`: sends the browser to ClassLink with a new state, nonce and PKCE challenge.
    @Sendable func startClassLink(_ request: Request, context: AppContext) async throws -> Response {
        guard let id = request.uri.queryParameters.get("integration"), !id.isEmpty, id.utf8.count <= 64 else {
            throw PageError(
                status: .badRequest, code: "invalid-input", cause: "missing-integration",
                message: "this sign-in link names no district; open the app from your ClassLink LaunchPad or use your school's link")
        }
        do {
            let url = try await service.startClassLinkSignIn(integrationID: String(id), redirectURI: classLinkRedirectURI)
            return Web.redirect(url.absoluteString, status: .found)
        } catch let error as RosterFlowError where error.code == .refused {
            throw PageError(status: .badGateway, code: "unavailable", cause: error.cause ?? "provider-answer", message: error.message)
        }
    }

    /// `GET /sign-in/classlink/callback`: finishes the sign-in, or starts it again from RosterFlow when it did not start
    /// here (a portal tile's code is never exchanged). Any session the browser had ends.
    @Sendable func classLinkCallback(_ request: Request, context: AppContext) async throws -> Response {
        let query = request.uri.queryParameters
        let current = Web.cookieValue(request, Web.sessionCookie)
        let state: String? = query.get("state").map { String($0) }
        if let error = query.get("error") {
            throw PageError(
                status: .unauthorized, code: "unauthenticated", cause: "provider-denied",
                message: "ClassLink did not sign you in (\(error.prefix(64))); open the app from ClassLink again")
        }
        let outcome: ClassLinkCallbackOutcome
        do {
            outcome = try await service.finishClassLinkSignIn(
                code: query.get("code").map { String($0) }, state: state, redirectURI: classLinkRedirectURI,
                replacing: current.map { [$0] } ?? [], policy: policy)
        } catch let error as RosterFlowError where error.code == .refused || error.code == .notFound {
            logger.info("Sign in with ClassLink refused: \(error.cause ?? error.code.rawValue)")
            if let current { try await endSessions(current) }
            throw PageError(
                status: .unauthorized, code: "unauthenticated", cause: error.cause ?? "sign-in-refused", message: error.message,
                headers: current == nil ? [:] : [.setCookie: Web.cookie(Web.sessionCookie, "", maxAge: 0, secure: secureCookies)])
        }
        switch outcome {
        case let .signedIn(start):
            logger.info("signed in with ClassLink: \(start.person.role) of \(start.person.integrationID)")
            var headers: HTTPFields = [:]
            headers.append(HTTPField(
                name: .setCookie,
                value: Web.cookie(Web.sessionCookie, start.token, maxAge: Int(policy.sessionLifetime), secure: secureCookies)))
            return Web.redirect(start.person.role == "teacher" ? "/dashboard/teacher" : "/dashboard/student", headers: headers)
        case let .unlinked(code, reason, district):
            if let current { try await endSessions(current) }
            return personPage(
                "unlinked-person", title: "We could not find you", person: nil,
                values: ["supportCode": code, "reason": reason, "district": district ?? "your district"], status: .forbidden,
                headers: current == nil ? [:] : [.setCookie: Web.cookie(Web.sessionCookie, "", maxAge: 0, secure: secureCookies)])
        case let .alreadyUsed(id):
            if let current, let person = try await service.checkPersonSession(current, policy: policy), person.integrationID == id {
                return Web.redirect(person.role == "teacher" ? "/dashboard/teacher" : "/dashboard/student")
            }
            return Web.redirect(Self.startPath(id))
        case let .restart(id):
            if let id { return Web.redirect(Self.startPath(id)) }
            let configured = try service.classLinkSignIns()
            if configured.count == 1 { return Web.redirect(Self.startPath(configured[0].integrationID)) }
            return personPage("sign-in-restart", title: "Open RosterFlow from ClassLink", person: nil, values: [:], status: .ok)
        }
    }

    /// RFC 3986's unreserved characters: ids like `int_q65dg34c` stay as they are.
    static let unreserved = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))

    static func startPath(_ integrationID: String) -> String {
        "/sign-in/classlink?integration=" + (integrationID.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")
    }

    /// Ends the browser's session of either kind.
    func endSessions(_ token: String) async throws {
        try await service.signOutPerson(sessionToken: token)
        try await service.signOut(sessionToken: token)
    }

    @Sendable func personSignOut(_ request: Request, context: AppContext) async throws -> Response {
        _ = try await sessionForm(request, context)
        if let token = Web.cookieValue(request, Web.sessionCookie) { try await service.signOutPerson(sessionToken: token) }
        return personPage(
            "sign-in-restart", title: "Signed out", person: nil, values: ["signedOut": true], status: .ok,
            headers: [.setCookie: Web.cookie(Web.sessionCookie, "", maxAge: 0, secure: secureCookies)])
    }

    /// A page of a teacher's or student's session (or of nobody signed in): the layout shows the person and their
    /// sign-out instead of the staff navigation.
    func personPage(
        _ template: String, title: String, person: SignedInPerson?, values: [String: Any], status: HTTPResponse.Status = .ok,
        headers extra: HTTPFields = [:]
    ) -> Response {
        var values = values
        if let person {
            values["csrf"] = person.csrfToken
            values["district"] = person.district
        }
        let content = Web.library.render(values, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "content": content]
        if let person {
            layout["person"] = ["name": person.name, "role": person.role, "district": person.district, "csrf": person.csrfToken]
        }
        let html = Web.library.render(layout, withTemplate: "layout") ?? ""
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = Web.htmlPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    // MARK: The teacher's page

    func requirePerson(_ context: AppContext, role: String) throws -> SignedInPerson {
        guard let person = context.person else {
            throw PageError(status: .unauthorized, code: "unauthenticated", cause: "no-session", message: "sign in with ClassLink first")
        }
        guard person.role == role else {
            throw PageError(
                status: .forbidden, code: "forbidden", cause: "role-not-allowed",
                message: "this page is for \(role)s; your school's roster lists you as a \(person.role)")
        }
        return person
    }

    @Sendable func teacherPage(_ request: Request, context: AppContext) async throws -> Response {
        let person = try requirePerson(context, role: "teacher")
        return personPage("teacher", title: "Your classes", person: person, values: try teacherValues(person))
    }

    func teacherValues(_ person: SignedInPerson) throws -> [String: Any] {
        let terms = try service.availableClasses(teacher: person.sourcedID, integrationID: person.integrationID)
        // The current term by the held session dates; when no term runs today (between terms), the first listed is open.
        let anyCurrent = terms.contains(where: \.current)
        var values: [String: Any] = [
            "hasTerms": !terms.isEmpty,
            "terms": terms.enumerated().map { index, term -> [String: Any] in
                [
                    "term": term.term, "schoolYear": term.schoolYear ?? "", "current": term.current, "open": term.current || (!anyCurrent && index == 0),
                    "classes": term.classes.map { cls -> [String: Any] in
                        let stateLabel: String
                        switch cls.state {
                        case "imported": stateLabel = "imported by \(cls.importedBy == person.name ? "you" : cls.importedBy ?? "a co-teacher")"
                        case "ended": stateLabel = "ended (open for the grace period)"
                        case "restored": stateLabel = "restored"
                        case "archived": stateLabel = "archived"
                        default: stateLabel = "available"
                        }
                        return [
                            "classSourcedID": cls.classSourcedID, "title": cls.title, "course": cls.course ?? "",
                            "periods": cls.periods.joined(separator: ", "), "studentCount": cls.studentCount,
                            "coTeachers": cls.coTeachers.joined(separator: ", "), "stateLabel": stateLabel,
                            "importable": cls.state == "available" || (cls.state == "imported" && cls.importedBy != person.name),
                        ]
                    },
                ]
            },
        ]
        if let offer = try service.nextTermOffers(teacher: person.sourcedID, integrationID: person.integrationID).first(where: { $0.status == "open" }) {
            values["offer"] = [
                "endedTerm": offer.endedTerm, "count": offer.classes.count,
                "classes": offer.classes.map { ["title": $0.title, "classSourcedID": $0.classSourcedID] },
            ] as [String: Any]
        }
        let ended = try service.endedClasses(teacher: person.sourcedID, integrationID: person.integrationID)
        if !ended.isEmpty {
            values["ended"] = ["items": ended.map { cls -> [String: Any] in
                let day = { (t: Double) in Date(timeIntervalSince1970: t).formatted(.iso8601.year().month().day()) }
                let status = cls.state == "ended"
                    ? "its term is over; it stays open with its students until \(cls.archiveDueAt.map(day) ?? "the grace period ends"), then it is archived"
                    : "archived on \(day(cls.since)) (read-only, its students' work kept); your school admin can restore it"
                return ["title": cls.title, "classSourcedID": cls.classSourcedID, "status": status]
            }]
        }
        return values
    }

    /// `POST /dashboard/teacher/next-term-offer`: the signed-in teacher accepts (`answer=accept`: every offered class
    /// imported in one go, as the API's one-click import) or declines their open offer of next term's classes.
    @Sendable func teacherAnswerOffer(_ request: Request, context: AppContext) async throws -> Response {
        let person = try requirePerson(context, role: "teacher")
        var request = request
        let fields = Web.form(try await request.collectBody(upTo: context.maxUploadSize))
        guard let sent = fields["csrf"], Web.same(person.csrfToken, sent) else { throw PageError.csrf }
        guard let answer = fields["answer"], ["accept", "decline"].contains(answer) else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "choose to import next term's classes or not")
        }
        let result: NextTermOfferAnswer
        do {
            result = try await service.answerNextTermOffer(
                teacher: person.sourcedID, accept: answer == "accept", integrationID: person.integrationID, actor: person.actor)
        } catch let error as RosterFlowError where error.code == .notFound {
            throw PageError(status: .notFound, code: "not-found", cause: "no-open-offer", message: error.message)
        }
        var values = try teacherValues(person)
        if answer == "accept" {
            let titles = Dictionary(result.offer.classes.map { ($0.classSourcedID, $0.title) }, uniquingKeysWith: { first, _ in first })
            values["result"] = ["items": result.imports.map { item -> [String: Any] in
                var row: [String: Any] = ["title": titles[item.classSourcedID] ?? item.classSourcedID, "outcome": item.outcome]
                if let reason = item.reason, !reason.isEmpty { row["reason"] = reason }
                if item.placed > 0 { row["placed"] = item.placed }
                return row
            }]
        } else {
            values["declined"] = result.offer.endedTerm
        }
        return personPage("teacher", title: "Your classes", person: person, values: values)
    }

    /// `POST /dashboard/teacher/import`: imports the ticked classes (each `class` field) for the signed-in teacher only.
    @Sendable func teacherImport(_ request: Request, context: AppContext) async throws -> Response {
        let person = try requirePerson(context, role: "teacher")
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let fields = Web.form(body)
        guard let sent = fields["csrf"], Web.same(person.csrfToken, sent) else { throw PageError.csrf }
        let classes = Web.formValues(body, name: "class").filter { !$0.isEmpty && $0.utf8.count <= 256 }
        guard !classes.isEmpty else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "tick at least one class to import")
        }
        let results = try await service.importClasses(
            teacher: person.sourcedID, classes: Array(classes.prefix(200)), integrationID: person.integrationID, actor: person.actor)
        var values = try teacherValues(person)
        let titles = Dictionary(
            ((values["terms"] as? [[String: Any]]) ?? []).flatMap { ($0["classes"] as? [[String: Any]]) ?? [] }
                .compactMap { c in (c["classSourcedID"] as? String).map { ($0, c["title"] as? String ?? $0) } },
            uniquingKeysWith: { first, _ in first })
        values["result"] = ["items": results.map { item -> [String: Any] in
            // Absent keys, not empty strings: a Mustache section shows for an empty string.
            var row: [String: Any] = ["title": titles[item.classSourcedID] ?? item.classSourcedID, "outcome": item.outcome]
            if let reason = item.reason, !reason.isEmpty { row["reason"] = reason }
            if item.placed > 0 { row["placed"] = item.placed }
            return row
        }]
        return personPage("teacher", title: "Your classes", person: person, values: values)
    }

    // MARK: The student's page

    @Sendable func studentPage(_ request: Request, context: AppContext) async throws -> Response {
        let person = try requirePerson(context, role: "student")
        let placements = try service.placements(student: person.sourcedID, integrationID: person.integrationID)
        return personPage("student", title: "Your classes", person: person, values: [
            "hasClasses": !placements.isEmpty,
            "classes": placements.map { p -> [String: Any] in
                [
                    "title": p.title, "status": p.status, "message": p.message,
                    "waiting": p.status == "pending" || (p.status == "not-signed-in" && !p.message.hasPrefix("You")),
                    "teachers": p.teachers.isEmpty ? "your teacher" : p.teachers.joined(separator: " or "),
                ]
            },
        ])
    }

    // MARK: Provisioning on the integration page (staff)

    /// The integration page's provisioning section: the mode, the vendor admin's form to change it, and (on-demand)
    /// the "why isn't this student in this class?" form.
    func provisioningValues(_ id: String, role: Role) throws -> [String: Any] {
        let mode = try service.provisioningMode(integrationID: id)
        return [
            "mode": mode.rawValue, "onDemand": mode == .onDemand, "canSetMode": role == .vendorAdmin,
            "modes": ProvisioningMode.allCases.map { ["value": $0.rawValue, "selected": $0 == mode] },
        ]
    }

    /// `POST /dashboard/integrations/{id}/mode`: the vendor admin sets `pre-provisioned` or `on-demand` (as the API's
    /// `PUT /integrations/{id}/mode`; refused once the other mode has created something).
    @Sendable func setMode(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        let fields = try await sessionForm(request, context)
        try api.requireIntegrationInScope(id, context)
        guard principal.role == .vendorAdmin else {
            throw AccessError(.forbidden, "the provisioning mode is the vendor admin's to set", cause: "role-not-allowed")
        }
        guard let mode = fields["mode"].flatMap(ProvisioningMode.init(rawValue:)) else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "choose pre-provisioned or on-demand")
        }
        _ = try await service.setProvisioningMode(integrationID: id, mode: mode, actor: principal.actor)
        return Web.redirect("/dashboard/integrations/\(id)?done=mode")
    }

    /// `GET /dashboard/integrations/{id}/explain?student=S&class=C`: the integration page with the chain that explains
    /// whether the student is in the class (sign-in identity, link, enrollment, import, last sync), in plain words.
    @Sendable func explainPlacementPage(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try context.parameters.require("id")
        try api.requireIntegrationInScope(id, context)
        let query = request.uri.queryParameters
        let student = query.get("student").map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        let classID = query.get("class").map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        guard !student.isEmpty, !classID.isEmpty, student.utf8.count <= 256, classID.utf8.count <= 256 else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "give the student's and the class's sourcedId")
        }
        let explanation = try service.explainPlacement(student: student, classID: classID, integrationID: id)
        let (view, shown) = try integrationValues(id, role: principal.role)
        var values = shown
        values["explanation"] = ["student": student, "class": classID, "steps": explanation.steps]
        return try page("integration", title: view.district, values: values, context: context)
    }

    // MARK: The unlinked queue (vendor admin)

    @Sendable func unlinkedPage(_ request: Request, context: AppContext) async throws -> Response {
        try requireVendorAdmin(context)
        var values = try unlinkedValues(csrf: context.csrfToken ?? "")
        if let done = request.uri.queryParameters.get("done"), done.utf8.count <= 64 { values["done"] = String(done) }
        return try page("unlinked", title: "Unlinked sign-ins", values: values, context: context)
    }

    func requireVendorAdmin(_ context: AppContext) throws {
        guard try context.requirePrincipal().role == .vendorAdmin else {
            throw AccessError(.forbidden, "the unlinked sign-ins are the vendor admin's to resolve", cause: "role-not-allowed")
        }
    }

    func unlinkedValues(csrf: String) throws -> [String: Any] {
        let items = try service.unlinkedIdentities()
        let districts = Dictionary(try service.integrations().map { ($0.id, $0.district) }, uniquingKeysWith: { first, _ in first })
        return [
            "hasItems": !items.isEmpty,
            "items": items.map { item -> [String: Any] in
                let who = [item.claimedSourcedID.map { "sourcedId \($0)" }, item.username.map { "username \($0)" }, item.email,
                           "ClassLink user \(item.providerUserID)"].compactMap { $0 }.joined(separator: ", ")
                return [
                    "supportCode": item.supportCode, "tenantID": item.tenantID, "csrf": csrf,
                    "integration": item.integrationID.map { "\(districts[$0] ?? $0) (\($0))" } ?? "no district", "who": who,
                    "reason": item.reason, "since": Date(timeIntervalSince1970: item.createdAt).formatted(.iso8601), "linkable": item.integrationID != nil,
                ]
            },
        ]
    }

    /// `POST /dashboard/unlinked/{code}/resolve`: links a queued sign-in to a OneRoster user of its district by hand.
    @Sendable func resolveUnlinked(_ request: Request, context: AppContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let code = try context.parameters.require("code")
        let fields = try await sessionForm(request, context)
        try requireVendorAdmin(context)
        let sourcedID = (fields["sourcedId"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !sourcedID.isEmpty, sourcedID.utf8.count <= 256 else {
            throw PageError(status: .badRequest, code: "invalid-input", cause: "missing-field", message: "give the person's OneRoster sourcedId")
        }
        _ = try await service.resolveUnlinked(supportCode: code, sourcedID: sourcedID, actor: principal.actor)
        return Web.redirect("/dashboard/unlinked?done=\(code.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
    }
}

extension Web {
    /// Every value of field `name` of a form body (ticked checkboxes share a name).
    static func formValues(_ body: ByteBuffer, name: String) -> [String] {
        String(buffer: body).split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String { String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            return decode(parts[0]) == name ? (parts.count > 1 ? decode(parts[1]) : "") : nil
        }
    }

    /// A redirect with another status (302 Found for a GET that sends the browser to ClassLink).
    static func redirect(_ location: String, status: HTTPResponse.Status, headers extra: HTTPFields = [:]) -> Response {
        var response = redirect(location, headers: extra)
        response.status = status
        return response
    }
}

/// Finds the teacher's or student's session of the `rf_session` cookie; without one, a page is answered 401 with the
/// way back (open the app from ClassLink).
struct PersonSessionMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let service: RosterFlowService
    let policy: SignInPolicy

    func handle(_ request: Request, context: AppContext, next: (Request, AppContext) async throws -> Response) async throws -> Response {
        let person = try await Web.cookieValue(request, Web.sessionCookie).asyncMap { try await service.checkPersonSession($0, policy: policy) } ?? nil
        // A link e-mailed to a teacher (`/dashboard/teacher?integration=ID`, the next-term offer) signs them in through
        // ClassLink first when this browser has no teacher session of that district (the callback replaces any other).
        if request.method == .get, request.uri.path == "/dashboard/teacher",
           let wanted = request.uri.queryParameters.get("integration"), !wanted.isEmpty, wanted.utf8.count <= 64,
           person?.role != "teacher" || person?.integrationID != String(wanted) {
            return Web.redirect(Dashboard.startPath(String(wanted)), status: .found)
        }
        guard let person else {
            throw PageError(
                status: .unauthorized, code: "unauthenticated", cause: "no-session",
                message: "you are not signed in (or your session ended); open the app from your ClassLink LaunchPad again")
        }
        var context = context
        context.person = person
        context.csrfToken = person.csrfToken
        context.logger[metadataKey: "person"] = .string(person.actor)
        return try await next(request, context)
    }
}

extension Optional {
    /// The wrapped value transformed by an async function, or nil.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
