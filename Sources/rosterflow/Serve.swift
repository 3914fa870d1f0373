import ArgumentParser
import Foundation
import Logging
import RosterFlowApp
import RosterFlowCore
import RosterFlowServer

extension RosterFlowCommand {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the HTTP API (/api/v1/, Bearer tokens) and run the worker in the same process, until SIGTERM or SIGINT.",
            discussion: """
                Prints the URL it listens on once it accepts connections (with --port 0, the port the system chose). \
                On SIGTERM/SIGINT it stops accepting connections, answers the requests in flight, lets the worker finish \
                the sends in flight, and exits 0. TLS is not terminated here: put a reverse proxy in front, and give its \
                https address as --public-url (responses then carry HSTS). The dashboard is at /sign-in: people sign in \
                with a one-time link e-mailed to their account (it points at --public-url) or an API token.
                """)
        @OptionGroup var options: StoreOptions
        @OptionGroup var notify: NotificationOptions
        @Option(help: "The address to listen on.") var host = "127.0.0.1"
        @Option(help: "The port to listen on (0: any free port, printed at start).") var port = 8080
        @Option(help: "The address people reach the server at, e.g. https://rosterflow.example.org.") var publicUrl: String?
        @Flag(help: "Serve the API only: no outbox sending, timers or nightly syncs in this process.") var noWorker = false
        @Flag(help: "Seed the demo districts and one account per role (once per database), and print how each signs in (fresh tokens at every start).")
        var demo = false

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
            if let publicUrl {
                guard let url = URL(string: publicUrl), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                    throw ValidationError("--public-url must be an http:// or https:// address")
                }
            }
        }

        func run() async throws {
            try await Output.run(json: options.json) {
                warnAboutInputLimitKnobs()
                let logger = Logger(label: "rosterflow.serve")
                var config = try notify.load()
                // E-mailed dashboard links (a teacher's next-term offer) point where people reach this server.
                if config.publicURL == nil { config.publicURL = publicUrl }
                let configuration = AppConfiguration(
                    databasePath: options.db, workflowsPath: options.workflowsPath, notifications: config,
                    templatesPath: notify.templates)
                if !noWorker {
                    for problem in PrivateFiles.problems(database: options.db, spool: configuration.spoolFolder, config: notify.configPath) {
                        logger.warning("\(problem.path) (mode \(problem.mode)): \(problem.problem); fix: \(problem.fix)")
                    }
                }
                let app = try RosterFlowApp(configuration)
                let demo = try await self.demo ? ServeDemo.seed(app.service, actor: options.actor) : nil
                let host = host, json = options.json, worker = !noWorker
                try await RosterFlowServer.run(
                    app: app, options: ServerOptions(host: host, port: port, publicURL: publicUrl, worker: worker), logger: logger
                ) { port in
                    let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                    var line = json ? "{\"listening\":\"\(url)\",\"port\":\(port),\"worker\":\(worker)}" : "listening on \(url)" + (worker ? " (with the worker)" : " (API only)")
                    if var demo {
                        demo.people = await ServeDemo.withLinks(demo.people, service: app.service, base: publicUrl ?? url)
                        if json {
                            let encoder = JSONEncoder()
                            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                            let people = (try? encoder.encode(demo.people)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
                            line = String(line.dropLast()) + ",\"demo\":{\"seeded\":\(demo.seeded),\"people\":\(people)}}"
                        } else {
                            line += "\n" + TerminalText.escape(ServeDemo.text(seeded: demo.seeded, people: demo.people, base: url))
                        }
                    }
                    FileHandle.standardOutput.write(Data((line + "\n").utf8))
                }
            }
        }
    }
}
