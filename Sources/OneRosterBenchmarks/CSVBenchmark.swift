import CSV
import Foundation
import OneRoster

/// One parser's timing on one file.
public struct CSVParseMeasurement: Sendable, Equatable, Codable {
    /// Parser name.
    public var parser: String
    /// Data rows parsed (header excluded).
    public var rows: Int
    /// Wall-clock seconds of the best run.
    public var seconds: Double
    /// Rows per second of the best run.
    public var rowsPerSecond: Double {
        seconds > 0 ? Double(rows) / seconds : .infinity
    }

    /// Creates a measurement.
    public init(parser: String, rows: Int, seconds: Double) {
        self.parser = parser
        self.rows = rows
        self.seconds = seconds
    }
}

/// The comparison of our CSV reader with yaslab's CSV.swift on one file.
public struct CSVBenchmarkResult: Sendable, Equatable, Codable {
    /// The file measured.
    public var file: String
    /// Its size in bytes.
    public var bytes: Int
    /// ``OneRoster/CSVRecordReader``.
    public var ours: CSVParseMeasurement
    /// yaslab CSV.swift `CSVReader`.
    public var yaslab: CSVParseMeasurement

    /// Name of the faster parser.
    public var faster: String { ours.seconds <= yaslab.seconds ? ours.parser : yaslab.parser }

    /// How many times faster the faster parser is.
    public var speedup: Double {
        let (a, b) = (min(ours.seconds, yaslab.seconds), max(ours.seconds, yaslab.seconds))
        return a > 0 ? b / a : .infinity
    }

    /// One line for a terminal.
    public var summary: String {
        func fmt(_ m: CSVParseMeasurement) -> String {
            "\(m.parser): \(m.rows) rows in \(String(format: "%.3f", m.seconds)) s = \(Int(m.rowsPerSecond.rounded())) rows/s"
        }
        return "\(fmt(ours)); \(fmt(yaslab)); \(faster) is \(String(format: "%.1f", speedup))× faster"
    }
}

/// Errors of the benchmark.
public enum CSVBenchmarkError: Error, Sendable, Equatable {
    /// The file could not be opened as a stream.
    case cannotOpen(String)
    /// The peer parser reported an error.
    case peerFailed(String)
    /// The two parsers disagree on the number of rows.
    case rowCountMismatch(ours: Int, yaslab: Int)
}

/// Times parsing one CSV file with our reader and with yaslab's CSV.swift.
///
/// Both parsers produce every field of every row as a `String`, so the work compared is the same.
public enum CSVBenchmark {
    /// Parses `file` with both parsers, `repetitions` times each, and keeps the best time of each.
    /// - Throws: ``CSVBenchmarkError/rowCountMismatch(ours:yaslab:)`` if the parsers disagree on the row count.
    public static func compare(file: URL, repetitions: Int = 1) throws -> CSVBenchmarkResult {
        let reps = max(1, repetitions)
        var ours = try measureOurs(file: file)
        var peer = try measureYaslab(file: file)
        for _ in 1..<reps {
            let o = try measureOurs(file: file)
            if o.seconds < ours.seconds { ours = o }
            let p = try measureYaslab(file: file)
            if p.seconds < peer.seconds { peer = p }
        }
        guard ours.rows == peer.rows else { throw CSVBenchmarkError.rowCountMismatch(ours: ours.rows, yaslab: peer.rows) }
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue ?? 0
        return CSVBenchmarkResult(file: file.path, bytes: size, ours: ours, yaslab: peer)
    }

    /// Times ``OneRoster/CSVRecordReader`` on `file` (one run).
    public static func measureOurs(file: URL) throws -> CSVParseMeasurement {
        let clock = ContinuousClock()
        var rows = 0
        var checksum = 0
        let elapsed = try clock.measure {
            let reader = try CSVRecordReader(url: file)
            var first = true
            while try reader.next() {
                let fields = try reader.fields()
                checksum &+= fields.count
                if first { first = false } else { rows += 1 }
            }
        }
        blackHole(checksum)
        return CSVParseMeasurement(parser: "RosterFlow CSVRecordReader", rows: rows, seconds: elapsed.seconds)
    }

    /// Times yaslab CSV.swift's `CSVReader(stream:hasHeaderRow:)` on `file` (one run).
    public static func measureYaslab(file: URL) throws -> CSVParseMeasurement {
        let clock = ContinuousClock()
        var rows = 0
        var checksum = 0
        let elapsed = try clock.measure {
            guard let stream = InputStream(url: file) else { throw CSVBenchmarkError.cannotOpen(file.path) }
            let reader = try CSVReader(stream: stream, hasHeaderRow: true)
            while let row = reader.next() {
                checksum &+= row.count
                rows += 1
            }
            // On Linux, Foundation's file InputStream keeps reporting bytes available at end of file, so CSV.swift
            // ends every file with `cannotReadFile`; that is end of input, not a failure (row counts are compared).
            if let error = reader.error {
                if case CSVError.cannotReadFile = error {} else { throw CSVBenchmarkError.peerFailed("\(error)") }
            }
        }
        blackHole(checksum)
        return CSVParseMeasurement(parser: "yaslab CSV.swift", rows: rows, seconds: elapsed.seconds)
    }
}

@inline(never)
private func blackHole(_ value: Int) {
    if value == Int.min { print("") }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
