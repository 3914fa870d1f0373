import ArgumentParser
import Foundation
import RosterFlowCore
import WorkflowEngine

extension RosterFlowCommand {
    struct Accounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "People who may use the HTTP API (`rosterflow serve`): a role and the districts they see.",
            subcommands: [Add.self, List.self, Disable.self])

        static func text(_ account: AccountView) -> String {
            let scope = account.scope == "all" ? "all districts" : account.districts.joined(separator: ", ")
            return "\(account.id)\t\(account.email)\t\(account.name)\t\(account.role)\t\(scope)\t\(account.status)"
        }

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add an account: a vendor admin sees every district, a DSP the districts given, a school admin one.")
            @OptionGroup var options: StoreOptions
            @Option(help: "The person's e-mail (unique).") var email: String
            @Option(help: "The person's name.") var name: String
            @Option(help: "vendor_admin, dsp or school_admin.") var role: Role
            @Option(help: ArgumentHelp("A district's tenant id the account may see (repeat for a DSP).", valueName: "TENANT_ID"))
            var district: [String] = []

            func run() async throws {
                try await Output.run(json: options.json) {
                    let account = try await options.open().addAccount(
                        email: email, name: name, role: role, districts: district, actor: options.actor)
                    try Output.emit(account, json: options.json) { "added \(Accounts.text($0))" }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List accounts, oldest first.")
            @OptionGroup var options: StoreOptions

            func run() async throws {
                try await Output.run(json: options.json) {
                    let accounts = try options.open().accounts()
                    try Output.emit(accounts, json: options.json) { list in
                        list.isEmpty ? "no accounts; add one with `rosterflow accounts add`" : list.map(Accounts.text).joined(separator: "\n")
                    }
                }
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Disable an account: its tokens are refused from now on.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Account id (acct_…) or e-mail.") var account: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().disableAccount(account, actor: options.actor)
                    try Output.emit(view, json: options.json) { "disabled \(Accounts.text($0))" }
                }
            }
        }
    }

    struct Tokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "API tokens (Bearer) of accounts: shown once when created, stored only as a SHA-256 hash.",
            subcommands: [Create.self, List.self, Revoke.self])

        static func text(_ token: TokenView) -> String {
            "\(token.id)\t\(token.accountID)\t\(token.name)\t\(token.status)\tcreated \(token.createdAt)"
                + (token.expiresAt.map { "\texpires \($0)" } ?? "")
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a token for an account and print it once (it cannot be shown again).")
            @OptionGroup var options: StoreOptions
            @Option(help: "Account id (acct_…) or e-mail.") var account: String
            @Option(help: "A name to tell the token apart, e.g. the machine that uses it.") var name: String?
            @Option(help: "When it stops working: days (90d), hours (12h), a date (2027-01-31) or a time (ISO 8601).")
            var expires: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let service = try options.open()
                    let expiresAt = try expires.map { try service.expiry(parsing: $0) }
                    let issued = try await service.createToken(account: account, name: name, expiresAt: expiresAt, actor: options.actor)
                    try Output.emit(issued, json: options.json) {
                        "\($0.token)\n\(Tokens.text($0.details))\nkeep the token secret: it is shown only this once"
                    }
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tokens (never their text), oldest first.")
            @OptionGroup var options: StoreOptions
            @Option(help: "Only this account's (id or e-mail).") var account: String?

            func run() async throws {
                try await Output.run(json: options.json) {
                    let tokens = try options.open().tokens(account: account)
                    try Output.emit(tokens, json: options.json) { list in
                        list.isEmpty ? "no tokens" : list.map(Tokens.text).joined(separator: "\n")
                    }
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a token: it is refused from now on.")
            @OptionGroup var options: StoreOptions
            @Argument(help: "Token id (tok_…).") var id: String

            func run() async throws {
                try await Output.run(json: options.json) {
                    let view = try await options.open().revokeToken(id: id, actor: options.actor)
                    try Output.emit(view, json: options.json) { "revoked \(Tokens.text($0))" }
                }
            }
        }
    }
}
