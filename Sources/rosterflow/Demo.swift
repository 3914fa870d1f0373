import ArgumentParser
import Foundation
import RosterFlowApp
import RosterFlowCore
import WorkflowEngine

extension RosterFlowCommand {
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk one district from request to locked courses on the embedded database, printing each transition.")
        @OptionGroup var options: StoreOptions

        func run() async throws {
            try await Output.run(json: false) {
                let service = try options.open()
                try await Self.walk(service) { Output.text($0) }
                Output.text("\ndatabase: \(StoreLocation.display(options.db))")
            }
        }

        /// The demo's walk: the demo districts (tenants `demo-springfield`, live with locked courses, and
        /// `demo-unknown`, not a customer and rejected) with every step told to `say`. `rosterflow serve --demo` seeds
        /// its districts with it too.
        static func walk(_ service: RosterFlowService, say: (String) -> Void) async throws {
            let vendor = Sender(actor: "vendor:ana", role: .vendorAdmin)
            func show(_ step: AppliedStep) { say(Text.step(step)) }

            say("== Customer registry")
            let registry = "tenant_id,district,contact_email\ndemo-springfield,Springfield USD,rostering@springfield.example\n"
            let imported = try await service.importCustomers(csv: registry, file: "demo-customers.csv")
            say("imported \(imported.added + imported.updated) customer(s)")

            say("\n== A district enables the app in ClassLink")
            let integration = try await service.requestIntegration(
                tenantID: "demo-springfield", district: "Springfield USD", permission: "rule-based",
                contactEmail: "rostering@springfield.example", sender: Sender(actor: "classlink", role: .system))
            say("\(integration.id): (new) → \(integration.state)")
            let authenticated = try await service.authenticate(integrationID: integration.id, actor: vendor.actor)
            show(authenticated)
            if authenticated.to == "needs_review" {
                // A database the demo ran on before holds the first run's integration of this tenant.
                show(try await service.authenticate(
                    integrationID: integration.id, actor: vendor.actor, confirmMismatch: true,
                    reason: "the demo ran on this database before"))
            }
            show(try await service.schedule(
                integrationID: integration.id, time: "02:30", timezone: "America/Chicago", actor: "school:lee"))

            say("\n== The nightly sync brings three courses: each gets a shell")
            var courses: [CourseView] = []
            for (sourced, title) in [("crs-alg1", "Algebra I"), ("crs-bio", "Biology"), ("crs-eng9", "English 9")] {
                let course = try await service.addCourse(
                    integrationID: integration.id, sourcedID: sourced, title: title, sender: .system)
                say("\(course.id): (new) → \(course.state)  \(title)")
                courses.append(course)
            }
            say("integration is now: \(try service.integration(id: integration.id).state)")

            say("\n== The DSP maps, the school verifies, the DSP adds content")
            for (index, course) in courses.enumerated() {
                show(try await service.mapCourse(
                    id: course.id, catalogTitle: "Catalog \(course.title)", baseID: "BASE-\(100 + index)", actor: "dsp:kim"))
                show(try await service.verifyCourse(id: course.id, actor: "school:lee"))
                show(try await service.contentAdded(id: course.id, actor: "dsp:kim"))
            }
            show(try await service.send("go_live", to: integration.id, actor: vendor.actor))

            say("\n== Students start: mappings lock")
            for course in courses {
                if let step = try await service.studentStarted(id: course.id, actor: "platform") { show(step) }
            }
            say("\n== Re-mapping a locked course is refused")
            do {
                _ = try await service.mapCourse(id: courses[0].id, catalogTitle: "Other", baseID: "BASE-999", actor: "dsp:kim")
            } catch let error as RosterFlowError {
                say("refused (\(error.code.rawValue)): \(error.message)")
            }

            say("\n== A request that differs from the customer registry is held for review")
            let lookalike = try await service.requestIntegration(
                tenantID: "demo-springfield", district: "Springfield USD", permission: "full",
                contactEmail: "it@springfield-schools.example", sender: Sender(actor: "classlink", role: .system))
            show(try await service.authenticate(integrationID: lookalike.id, actor: vendor.actor))
            if let check = try service.integration(id: lookalike.id).registryCheck { say(check.sideBySide) }
            show(try await service.send(
                "reject", to: lookalike.id, role: .vendorAdmin, actor: vendor.actor,
                reason: "not the district's contact; Springfield's own request is live"))

            say("\n== A district that is not a customer")
            let stranger = try await service.requestIntegration(
                tenantID: "demo-unknown", district: "Shelbyville SD", permission: "full",
                contactEmail: "it@shelbyville.example", sender: Sender(actor: "classlink", role: .system))
            show(try await service.authenticate(integrationID: stranger.id, actor: vendor.actor))

            say("\n== Final state")
            say(Text.integration(try service.integration(id: integration.id)))
        }
    }
}
