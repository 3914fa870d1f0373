import ArgumentParser
import Foundation
import OneRoster
import OneRosterBenchmarks

extension RosterFlowBench {
    /// `rosterflow-bench csv`: our CSV reader against yaslab's CSV.swift on the same file.
    struct CSVBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csv",
            abstract: "Read one CSV file with RosterFlow's CSV reader and with yaslab's CSV.swift, and compare rows/s.",
            discussion: """
                Without --file, writes a sample district (the `sync` benchmark's, by default) and reads its \
                enrollments.csv. Both parsers produce every field of every row as a string; each keeps its best time of \
                --repetitions runs, and the run fails if they disagree on the number of rows.
                """)
        @Option(help: "A CSV file to read (default: a generated district's enrollments.csv).") var file: String?
        @Option(help: "Users in the generated district.") var users = 200_000
        @Option(help: "Classes in the generated district.") var classes = 8_000
        @Option(help: "Enrollments in the generated district (the rows of the file read).") var enrollments = 2_000_000
        @Option(help: "Runs of each parser; the best time of each is kept.") var repetitions = 1
        @Option(help: "Folder to run in (default: a new folder under the current one, removed afterwards).")
        var dir: String?
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            try await Output.run(json: json) {
                let workspace = try BenchFolder(dir: dir, name: "csv")
                defer { workspace.remove() }
                let path: String
                if let file {
                    path = file
                } else {
                    let bundle = workspace.path + "/district"
                    _ = try SampleBundle.write(
                        to: URL(fileURLWithPath: bundle), users: users, classes: classes, enrollments: enrollments, version: "1.2")
                    path = bundle + "/enrollments.csv"
                    if !json { FileHandle.standardError.write(Data("bench: generated \(path)\n".utf8)) }
                }
                let result = try CSVBenchmark.compare(file: URL(fileURLWithPath: path), repetitions: repetitions)
                try Output.emit(result, json: json) { r in
                    """
                    | parser (\(r.ours.rows) rows, \(r.bytes / 1_048_576) MiB) | seconds | rows/s | ratio |
                    |---|---:|---:|---:|
                    | \(r.ours.parser) | \(String(format: "%.3f", r.ours.seconds)) | \(Int(r.ours.rowsPerSecond)) | 1.00 × |
                    | \(r.yaslab.parser) | \(String(format: "%.3f", r.yaslab.seconds)) | \(Int(r.yaslab.rowsPerSecond)) | \(String(format: "%.2f", r.yaslab.rowsPerSecond / r.ours.rowsPerSecond)) × |
                    """
                }
            }
        }
    }
}
