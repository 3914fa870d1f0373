import Foundation
import Hummingbird
import RosterFlowCore
import StorageCore

/// On-demand rostering routes: an integration's provisioning mode, a teacher's classes, and class imports.
extension API {
    struct ModeInput: Decodable {
        var mode: String
    }

    struct ModeAnswer: Encodable {
        var integrationID: String
        var provisioningMode: String
    }

    struct ImportInput: Decodable {
        var teacher: String
        var classes: [String]
        var integration: String?
    }

    struct TeacherClasses: Encodable {
        var integrationID: String
        var teacher: String
        var terms: [TermClassesView]
    }

    struct Imports: Encodable {
        var integrationID: String
        var teacher: String
        var items: [ClassImportResult]
    }

    /// `PUT /integrations/{id}/mode`: the vendor admin sets `pre-provisioned` or `on-demand`.
    @Sendable func setMode(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        return try await changing(request, context) { body, principal, _ in
            try requireIntegrationInScope(id, context)
            let input = try JSONInput.decode(ModeInput.self, from: body, request: request)
            guard principal.role == .vendorAdmin else {
                throw AccessError(.forbidden, "the provisioning mode is the vendor admin's to set", cause: "role-not-allowed")
            }
            guard let mode = ProvisioningMode(rawValue: input.mode) else {
                throw RosterFlowError(.invalidInput, "mode '\(input.mode)' is not one of pre-provisioned, on-demand")
            }
            let set = try await service.setProvisioningMode(integrationID: id, mode: mode, actor: principal.actor)
            return try JSONBody(ModeAnswer(integrationID: id, provisioningMode: set.rawValue))
        }
    }

    /// The integration holding user `sourcedID`, if it is in the caller's districts ("not found" otherwise).
    func rosterIntegrationInScope(user sourcedID: String, given: String?, _ context: AppContext) throws -> String {
        let notFound = RosterFlowError(.notFound, "no roster of your districts holds a user \(sourcedID)")
        let id: String
        do {
            id = try service.rosterIntegrationID(user: sourcedID, given: given)
        } catch let error as RosterFlowError where error.code == .notFound {
            throw notFound
        }
        let principal = try context.requirePrincipal()
        guard let tenant = try service.tenantID(ofIntegration: id), principal.scope.allows(tenant) else { throw notFound }
        return id
    }

    /// `GET /teachers/{sourcedId}/classes`: the classes the held roster says the teacher teaches, by term.
    @Sendable func teacherClasses(_ request: Request, context: AppContext) async throws -> JSONBody {
        let teacher = try context.parameters.require("sourcedId")
        let id = try rosterIntegrationInScope(user: teacher, given: request.uri.queryParameters.get("integration"), context)
        return try JSONBody(TeacherClasses(integrationID: id, teacher: teacher, terms: try service.availableClasses(teacher: teacher, integrationID: id)))
    }

    /// `POST /classes/imports`: imports classes for a teacher (only their own; a co-teacher's import is joined).
    @Sendable func importClasses(_ request: Request, context: AppContext) async throws -> Response {
        try await changing(request, context) { body, principal, _ in
            let input = try JSONInput.decode(ImportInput.self, from: body, request: request)
            guard !input.classes.isEmpty else { throw RosterFlowError(.invalidInput, "name at least one class sourcedId in 'classes'") }
            let id = try rosterIntegrationInScope(user: input.teacher, given: input.integration, context)
            let items = try await service.importClasses(teacher: input.teacher, classes: input.classes, integrationID: id, actor: principal.actor)
            return try JSONBody(Imports(integrationID: id, teacher: input.teacher, items: items))
        }
    }

    struct OfferAnswerInput: Decodable {
        var accept: Bool
        var integration: String?
    }

    struct TeacherOffers: Encodable {
        var integrationID: String
        var teacher: String
        var offers: [NextTermOfferRecord]
    }

    /// `GET /teachers/{sourcedId}/next-term-offer`: the teacher's offers of next term's classes, newest first.
    @Sendable func nextTermOffers(_ request: Request, context: AppContext) async throws -> JSONBody {
        let teacher = try context.parameters.require("sourcedId")
        let id = try rosterIntegrationInScope(user: teacher, given: request.uri.queryParameters.get("integration"), context)
        return try JSONBody(TeacherOffers(integrationID: id, teacher: teacher, offers: try service.nextTermOffers(teacher: teacher, integrationID: id)))
    }

    /// `POST /teachers/{sourcedId}/next-term-offer`: accepts (imports every offered class in one go, joining a
    /// co-teacher's import) or declines the teacher's newest open offer.
    @Sendable func answerNextTermOffer(_ request: Request, context: AppContext) async throws -> Response {
        let teacher = try context.parameters.require("sourcedId")
        return try await changing(request, context) { body, principal, _ in
            let input = try JSONInput.decode(OfferAnswerInput.self, from: body, request: request)
            let id = try rosterIntegrationInScope(user: teacher, given: input.integration, context)
            return try JSONBody(try await service.answerNextTermOffer(teacher: teacher, accept: input.accept, integrationID: id, actor: principal.actor))
        }
    }

    /// `POST /integrations/{id}/classes/{classId}/restore`: restores an archived imported class, in the caller's role.
    @Sendable func restoreClass(_ request: Request, context: AppContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let classID = try context.parameters.require("classId")
        return try await changing(request, context) { _, principal, _ in
            try requireIntegrationInScope(id, context)
            return try JSONBody(try await service.restoreClass(classID: classID, integrationID: id, actor: principal.actor, role: principal.role))
        }
    }
}
