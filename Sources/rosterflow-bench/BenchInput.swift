import ArgumentParser
import Foundation
import OneRoster
import RosterFlowCore

extension RosterFlowBench {
    struct InputBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "input",
            abstract: "Show that reading hostile bundles costs time linear in their size (wide headers, deep parent chains).",
            discussion: """
                Reads two generated bundles at size N and 2N and prints the time ratio (goal: at most 2.5 × for twice \
                the input): an orgs.csv whose header has N columns followed by N short rows (each quarantined: the cost \
                used to be rows × columns), and an orgs.csv of N orgs each the parent of the next, listed children first \
                (the reference check used to be quadratic). The caps on columns and rows are raised for the run.
                """)

        @Option(help: "Header width and short rows of the wide-header bundle at N.") var columns = 50_000
        @Option(help: "Depth of the parentSourcedId chain at N.") var depth = 50_000
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).") var dir: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        struct Case: Encodable {
            var name: String
            var n: Int
            var bytesAtN: Int
            var secondsAtN: Double
            var bytesAt2N: Int
            var secondsAt2N: Double
            var ratio: Double
            var goalMet: Bool
        }

        func run() async throws {
            try await Output.run(json: json) {
                let workspace = try BenchFolder(dir: dir, name: "input")
                defer { workspace.remove() }
                var cases: [Case] = []
                for (name, n, make) in [("wide header, short rows", columns, Self.wideHeader),
                                        ("parentSourcedId chain", depth, Self.parentChain)] {
                    var seconds: [Double] = []
                    var bytes: [Int] = []
                    for size in [n, 2 * n] {
                        let folder = workspace.path + "/\(name.prefix(4))-\(size)"
                        bytes.append(try Self.bundle(at: folder, orgs: make(size)))
                        let start = ContinuousClock.now
                        let bundle = try Self.reader.read(at: URL(fileURLWithPath: folder))
                        let elapsed = ContinuousClock.now - start
                        seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                        let summary = bundle.report.files.first { $0.file == "orgs.csv" }
                        log("\(name) at \(size): \(String(format: "%.3f", seconds.last!)) s (\(summary?.rowsRead ?? 0) rows, \(summary?.rowsLoaded ?? 0) loaded)")
                        try? FileManager.default.removeItem(atPath: folder)
                    }
                    let ratio = seconds[1] / max(seconds[0], 1e-9)
                    cases.append(Case(name: name, n: n, bytesAtN: bytes[0], secondsAtN: seconds[0], bytesAt2N: bytes[1],
                                      secondsAt2N: seconds[1], ratio: ratio, goalMet: ratio <= 2.5))
                }
                try Output.emit(cases, json: json) { cases in
                    "| input | N | at N | at 2N | ratio (goal ≤ 2.5) |\n|---|---:|---:|---:|---:|\n" + cases.map { c in
                        "| \(c.name) | \(c.n) | \(String(format: "%.3f", c.secondsAtN)) s (\(c.bytesAtN / 1024) KiB) | "
                            + "\(String(format: "%.3f", c.secondsAt2N)) s (\(c.bytesAt2N / 1024) KiB) | "
                            + "\(String(format: "%.2f", c.ratio)) \(c.goalMet ? "met" : "NOT met") |"
                    }.joined(separator: "\n")
                }
            }
        }

        static var reader: OneRosterBundleReader {
            var limits = InputLimits.defaults
            limits.maxColumns = Int.max / 2
            limits.maxRowBytes = Int.max / 2
            return OneRosterBundleReader(options: .init(retainRecords: false, limits: limits))
        }

        static let orgsHeader = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId"

        /// A header of `n` columns (the orgs columns, then metadata columns), then `n` rows of one field each.
        static func wideHeader(_ n: Int) -> String {
            var text = orgsHeader
            text.reserveCapacity(n * 20)
            for i in 7..<max(n, 8) { text += ",metadata.c\(i)" }
            text += "\n"
            for i in 0..<n { text += "x\(i)\n" }
            return text
        }

        /// `n` orgs, each the parent of the next, listed children first.
        static func parentChain(_ n: Int) -> String {
            var text = orgsHeader + "\n"
            text.reserveCapacity(n * 48)
            for i in stride(from: n - 1, through: 0, by: -1) {
                text += "org-\(i),,,Org \(i),\(i == 0 ? "district" : "school"),,\(i == 0 ? "" : "org-\(i - 1)")\n"
            }
            return text
        }

        /// Writes a OneRoster 1.1 bundle whose only file is `orgs`; returns its size in bytes.
        static func bundle(at folder: String, orgs: String) throws -> Int {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let manifest = "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\n"
            try manifest.write(toFile: folder + "/manifest.csv", atomically: true, encoding: .utf8)
            try orgs.write(toFile: folder + "/orgs.csv", atomically: true, encoding: .utf8)
            return orgs.utf8.count
        }

        private func log(_ text: String) {
            if !json { FileHandle.standardError.write(Data("bench: \(text)\n".utf8)) }
        }
    }
}
