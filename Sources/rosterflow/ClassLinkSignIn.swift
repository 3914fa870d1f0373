import ArgumentParser
import Foundation
import RosterFlowCore

extension RosterFlowCommand.Integrations {
    struct SignIn: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sign-in",
            abstract: "Set (or show) an integration's Sign in with ClassLink settings: issuer, client id and the secret's environment variable.",
            discussion: """
                The client secret is never given on the command line (it would be in the shell's history): name the \
                environment variable `rosterflow serve` reads it from, e.g. --secret-env CLASSLINK_SECRET. Register \
                <public URL>/sign-in/classlink/callback as the redirect URI of RosterFlow's app in ClassLink's Partner Portal; \
                people start at <public URL>/sign-in/classlink?integration=ID (or the LaunchPad tile). Without --issuer, \
                prints the current settings.
                """)
        @OptionGroup var options: StoreOptions
        @Argument(help: "Integration id.") var id: String
        @Option(help: "The issuer URL (ClassLink: https://launchpad.classlink.com); its discovery document is read from it.")
        var issuer: String?
        @Option(name: .customLong("client-id"), help: "The client id of RosterFlow's ClassLink app.") var clientID: String?
        @Option(name: .customLong("secret-env"), help: "The environment variable holding the client secret (never the secret).")
        var secretEnv: String?
        @Option(name: .customLong("scope"), help: "A scope to ask for (repeatable; openid is always asked). Default: openid profile.")
        var scopes: [String] = []
        @Option(name: .customLong("user-info"), help: "The user-info URL, when not the discovery document's (ClassLink: https://nodeapi.classlink.com/v2/my/info).")
        var userInfo: String?

        func run() async throws {
            try await Output.run(json: options.json) {
                let service = try options.open()
                let view: SignInProviderView
                if let issuer {
                    guard let clientID, let secretEnv else {
                        throw RosterFlowError(.invalidInput, "give --client-id and --secret-env with --issuer")
                    }
                    view = try await service.setClassLinkSignIn(
                        integrationID: id, issuer: issuer, clientID: clientID, secretEnv: secretEnv,
                        scopes: scopes.isEmpty ? ["openid", "profile"] : scopes, userInfoURL: userInfo, actor: options.actor)
                } else {
                    guard let found = try service.classLinkSignIn(integrationID: id) else {
                        throw RosterFlowError(.notFound, "\(id) has no Sign in with ClassLink settings; set them with --issuer, --client-id and --secret-env")
                    }
                    view = found
                }
                try Output.emit(view, json: options.json) { view in
                    """
                    \(view.integrationID): Sign in with ClassLink
                      issuer     \(view.issuer)
                      client id  \(view.clientID)
                      secret     from $\(view.secretEnv) (\(view.secretPresent ? "set here" : "not set in this shell"))
                      scopes     \(view.scopes.joined(separator: " "))
                      user info  \(view.userInfoURL ?? "the discovery document's, else \(RosterFlowService.classLinkUserInfoURL)")
                    """
                }
            }
        }
    }
}
