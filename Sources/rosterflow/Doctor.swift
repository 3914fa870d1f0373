import ArgumentParser
import Foundation
import Notifications
import RosterFlowApp

/// A file or folder others can read: what was found and the command that fixes it.
struct FileProblem: Encodable, Equatable {
    var path: String
    /// The permission bits found, octal (`0644`).
    var mode: String
    var problem: String
    var fix: String
}

/// Checks that the files RosterFlow keeps student data and secrets in are private to the user running it.
enum PrivateFiles {
    /// The permission bits of `path` (not following a symlink), or nil when it does not exist.
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }

    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

    /// Every problem with the database (and its WAL, shared-memory and journal files), the mail spool and the
    /// configuration file (when it holds a password or secret).
    static func problems(database: String, spool: String, config: String?) -> [FileProblem] {
        var problems: [FileProblem] = StoreLocation.urlProblems(database).map {
            FileProblem(path: StoreLocation.display(database), mode: "-", problem: $0.problem, fix: $0.fix)
        }
        let files = StoreLocation.isServer(database) ? [] : [database, database + "-wal", database + "-shm", database + "-journal"]
        for path in files {
            guard let mode = mode(path), mode & 0o077 != 0 else { continue }
            problems.append(FileProblem(
                path: path, mode: octal(mode),
                problem: "others can read the database\(path == database ? "" : "'s \(path.split(separator: "-").last ?? "") file") "
                    + "(student names, usernames, e-mails)",
                fix: "chmod 600 \(path)"))
        }
        if let mode = mode(spool), mode & 0o077 != 0 {
            problems.append(FileProblem(
                path: spool, mode: octal(mode), problem: "others can open the mail spool folder", fix: "chmod 700 \(spool)"))
        }
        let mail = ((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []).filter { $0.hasSuffix(".eml") }
        let readable = mail.filter { (mode(spool + "/" + $0) ?? 0) & 0o077 != 0 }
        if let first = readable.first {
            problems.append(FileProblem(
                path: spool + "/" + first, mode: octal(mode(spool + "/" + first) ?? 0),
                problem: "others can read \(readable.count) spooled e-mail\(readable.count == 1 ? "" : "s")",
                fix: "chmod 600 \(spool)/*.eml"))
        }
        if let config, let mode = mode(config), mode & 0o077 != 0,
           let text = try? String(contentsOfFile: config, encoding: .utf8), text.contains("\"password\"") || text.contains("\"secret\"")
        {
            problems.append(FileProblem(
                path: config, mode: octal(mode), problem: "others can read the configuration, which holds a password or secret",
                fix: "chmod 600 \(config)"))
        }
        return problems
    }
}

extension RosterFlowCommand {
    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the database, its WAL, the mail spool and the configuration are private, and that the configuration loads.",
            discussion: """
                Prints each problem with the command that fixes it. Exits 0 when it found none, 1 when it found some. \
                It does not create the database.
                """)
        @OptionGroup var options: StoreOptions
        @OptionGroup var notify: NotificationOptions

        struct Report: Encodable {
            var database: String
            var spool: String
            var problems: [FileProblem]
            var configuration: String?
        }

        func run() async throws {
            try await Output.run(json: options.json) {
                var spool = NotificationOptions.defaultSpool(database: options.db)
                var configurationProblem: String?
                do {
                    let config = try notify.load()
                    if let folder = config.spoolFolder { spool = folder }
                    if let smtp = config.smtp, smtp.sendsCredentialsInClear {
                        configurationProblem = "allow_plaintext_auth is set: the SMTP password to \(smtp.url) crosses the network in clear"
                    }
                } catch {
                    configurationProblem = "\(error)"
                }
                let report = Report(
                    database: StoreLocation.display(options.db), spool: spool,
                    problems: PrivateFiles.problems(database: options.db, spool: spool, config: notify.configPath),
                    configuration: configurationProblem)
                try Output.emit(report, json: options.json) { r in
                    var lines: [String] = r.problems.map { "problem: \($0.path) (mode \($0.mode)): \($0.problem); fix: \($0.fix)" }
                    if let problem = r.configuration { lines.append("problem: configuration: \(problem)") }
                    if lines.isEmpty {
                        lines.append("no problems: \(r.database) and \(r.spool) are private to this user")
                        if !StoreLocation.isServer(options.db), !FileManager.default.fileExists(atPath: r.database) { lines.append("(there is no database at \(r.database) yet)") }
                    }
                    return lines.joined(separator: "\n")
                }
                if !report.problems.isEmpty || report.configuration != nil { throw ExitCode(1) }
            }
        }
    }
}
