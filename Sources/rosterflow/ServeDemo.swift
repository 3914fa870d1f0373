import Foundation
import RosterFlowCore
import WorkflowEngine

/// `rosterflow serve --demo`: the demo districts and one account per role, and how each person signs in.
enum ServeDemo {
    /// A demo person: the account and a token made for this start.
    struct SignIn: Encodable {
        var email: String
        var name: String
        var role: String
        var districts: [String]
        /// An API token made at this start (earlier starts' demo tokens are revoked).
        var token: String
        /// A one-time dashboard sign-in link made once the server listens (it is also e-mailed through the outbox).
        var link: String? = nil
    }

    /// The districts the demo seeds (tenant ids), as `rosterflow demo` walks them.
    static let districts = ["demo-springfield", "demo-unknown"]
    /// The demo accounts: one per role.
    static let people: [(email: String, name: String, role: Role, districts: [String])] = [
        ("admin@vendor.example", "Ana", .vendorAdmin, []),
        ("dsp@vendor.example", "Kim", .dsp, districts),
        ("school@springfield.example", "Lee", .schoolAdmin, ["demo-springfield"]),
    ]
    /// The name the demo's tokens carry, so that a later start can revoke them.
    static let tokenName = "serve --demo"

    /// Seeds the demo districts (once: a database that has the demo's customer keeps what it has), adds the demo
    /// accounts that are missing, revokes the tokens earlier starts made and makes a fresh one for each person (valid
    /// for a day). Returns whether the districts were seeded now, and the people.
    static func seed(_ service: RosterFlowService, actor: String) async throws -> (seeded: Bool, people: [SignIn]) {
        let seeded = try !service.customers().contains { $0.tenantID == districts[0] }
        if seeded { try await RosterFlowCommand.Demo.walk(service) { _ in } }
        let accounts = try service.accounts()
        var signIns: [SignIn] = []
        for person in people {
            let account: AccountView
            if let existing = accounts.first(where: { $0.email == person.email }) {
                account = existing
            } else {
                account = try await service.addAccount(
                    email: person.email, name: person.name, role: person.role, districts: person.districts, actor: actor)
            }
            guard account.status == "active" else {
                throw RosterFlowError(
                    .refused, "the demo account \(account.email) is disabled in this database; use another --db for the demo")
            }
            for old in try service.tokens(account: account.id) where old.name == tokenName && old.status == "active" {
                _ = try await service.revokeToken(id: old.id, actor: actor)
            }
            let issued = try await service.createToken(
                account: account.id, name: tokenName, expiresAt: Date().timeIntervalSince1970 + 86_400, actor: actor)
            signIns.append(SignIn(
                email: account.email, name: account.name, role: account.role, districts: account.districts, token: issued.token))
        }
        return (seeded, signIns)
    }

    /// How `person` signs in, as lines to print under their role. The one place the demo says how to sign in: the
    /// e-mailed one-time sign-in link of the dashboard joins the API token here.
    static func signInLines(for person: SignIn, base: String) -> [String] {
        (person.link.map { ["  dashboard: \($0)  (one use, for 15 minutes)"] } ?? []) + ["  token: \(person.token)"]
    }

    /// Gives each person a one-time dashboard sign-in link to `base` (the address the server listens on, or its public
    /// URL); a person whose link cannot be made keeps the token alone.
    static func withLinks(_ people: [SignIn], service: RosterFlowService, base: String) async -> [SignIn] {
        var linked = people
        for index in linked.indices {
            linked[index].link = try? await service.issueSignInLink(accountEmail: linked[index].email, baseURL: base).absoluteString
        }
        return linked
    }

    /// What `serve --demo` prints once the server listens.
    static func text(seeded: Bool, people: [SignIn], base: String) -> String {
        var lines = [
            seeded ? "demo: seeded the demo districts (\(districts.joined(separator: ", "))) and one account per role"
                : "demo: the demo districts were seeded before; fresh tokens for the demo accounts",
            "sign in as (open the dashboard link in a browser, or use the API token, which works for a day; a new start makes new ones):",
        ]
        for person in people {
            let scope = person.districts.isEmpty ? "all districts" : person.districts.joined(separator: ", ")
            lines.append("\(person.role): \(person.email) (\(scope))")
            lines += signInLines(for: person, base: base)
        }
        lines.append("try: curl -H \"Authorization: Bearer TOKEN\" \(base)/api/v1/integrations")
        lines.append("stop: Ctrl-C (or SIGTERM) answers the requests in flight, then exits")
        return lines.joined(separator: "\n")
    }
}
