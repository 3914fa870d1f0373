import Foundation
@testable import OneRoster
import XCTest

/// A bounded fuzz run over the CSV reader and the manifest parser, part of every `swift test` (and so of CI).
///
/// Inputs come from the sample generator's SplitMix64, seeded, so a failure names the seed that reproduces it. Each
/// target runs for a bounded time (`ROSTERFLOW_FUZZ_SECONDS`, default 3 s per target) and a bounded number of
/// iterations. For an open-ended run use the libFuzzer target `rosterflow-fuzz` (see README).
final class FuzzTests: OneRosterTestCase {
    static var budget: TimeInterval {
        ProcessInfo.processInfo.environment["ROSTERFLOW_FUZZ_SECONDS"].flatMap(TimeInterval.init) ?? 3
    }

    /// Bytes that CSV readers get wrong, plus plain text.
    static let pieces: [[UInt8]] = [
        [0x22], [0x2C], [0x0A], [0x0D], [0x0D, 0x0A], [0xEF, 0xBB, 0xBF], [0xFF, 0xFE], [0xFE, 0xFF], [0x00], [0x22, 0x22],
        [0xC3], [0xC3, 0xA9], [0xE2, 0x80], [0xF0, 0x9F, 0x98, 0x80], [0x09], [0x20],
        Array("sourcedId".utf8), Array("abc".utf8), Array("2024-08-15".utf8), Array("\"x,y\"".utf8),
    ]

    static func randomCSV(_ rng: inout SplitMix64, maxPieces: Int) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<rng.int(maxPieces) {
            if rng.int(4) == 0 {
                out += (0..<(1 + rng.int(8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                out += pieces[rng.int(pieces.count)]
            }
        }
        return out
    }

    struct Parsed: Equatable {
        var records: [[[UInt8]]] = []
        var lines: [Int] = []
        var quirks: [UInt8] = []
        var failed: String?
    }

    func parse(_ reader: () throws -> CSVRecordReader, limits: InputLimits, seed: UInt64) -> Parsed {
        var out = Parsed()
        do {
            let r = try reader()
            var lastLine = 0
            while try r.next() {
                XCTAssertGreaterThanOrEqual(r.line, lastLine, "seed \(seed): lines go forward")
                lastLine = r.line
                XCTAssertLessThanOrEqual(r.fieldCount, limits.maxColumns, "seed \(seed)")
                var total = 0
                var fields: [[UInt8]] = []
                for i in 0..<r.fieldCount {
                    let bytes = r.withField(i) { Array($0) }
                    XCTAssertLessThanOrEqual(bytes.count, limits.maxFieldBytes, "seed \(seed): field \(i) over the cap")
                    total += bytes.count
                    fields.append(bytes)
                }
                XCTAssertLessThanOrEqual(total, limits.maxRowBytes, "seed \(seed): record over the cap")
                out.records.append(fields)
                out.lines.append(r.line)
                out.quirks.append(r.quirks.rawValue)
                if out.records.count > 100_000 { XCTFail("seed \(seed): runaway"); break }
            }
        } catch {
            out.failed = "\(error)"
        }
        return out
    }

    /// The reader never crashes, keeps every field and record within the caps, and reads the same records from memory
    /// as from a file read in tiny chunks (so chunk boundaries never change a record).
    func testFuzzCSVReader() throws {
        let limits = InputLimits(maxFieldBytes: 48, maxRowBytes: 160, maxColumns: 7)
        let dir = try makeTempDir()
        let url = dir.appendingPathComponent("fuzz.csv")
        let deadline = Date().addingTimeInterval(Self.budget)
        var iterations = 0
        var seed: UInt64 = 1
        while Date() < deadline && iterations < 200_000 {
            var rng = SplitMix64(seed: seed)
            let bytes = Self.randomCSV(&rng, maxPieces: 120)
            let fromMemory = parse({ CSVRecordReader(bytes: bytes, limits: limits) }, limits: limits, seed: seed)
            try Data(bytes).write(to: url)
            let chunk = 16 + rng.int(48)
            let fromFile = parse({ try CSVRecordReader(url: url, chunkSize: chunk, limits: limits) }, limits: limits, seed: seed)
            // The NUL-byte test for UTF-16 without a mark samples the first read (4 KiB from memory, one tiny chunk from
            // the file), so only there may the two differ.
            let sniffed = [fromMemory.failed, fromFile.failed].contains { $0?.contains("bytes are NUL") ?? false }
            if !sniffed && fromMemory != fromFile {
                XCTFail("seed \(seed): memory and \(chunk)-byte chunks disagree:\n\(fromMemory)\n\(fromFile)")
                break
            }
            iterations += 1
            seed += 1
        }
        XCTAssertGreaterThan(iterations, 100, "the fuzz run did too little to mean anything")
    }

    /// Random and mutated manifests with a valid bundle: never a crash, a report (or a plain error), and every row of
    /// every file read is either loaded or quarantined.
    func testFuzzManifestParser() throws {
        let fixture = Fixture.bundle11()
        let manifest = Array(fixture["manifest.csv"]!.utf8)
        let deadline = Date().addingTimeInterval(Self.budget)
        var iterations = 0
        var seed: UInt64 = 1
        let reader = OneRosterBundleReader(options: .init(limits: InputLimits(maxFieldBytes: 256, maxRowBytes: 1_024, maxColumns: 16)))
        while Date() < deadline && iterations < 5_000 {
            var rng = SplitMix64(seed: seed &* 104_729)
            let bytes: [UInt8]
            switch rng.int(3) {
            case 0: bytes = Self.randomCSV(&rng, maxPieces: 60)
            case 1: bytes = MutationTests.mutate(manifest, &rng)
            default:  // valid lines in a random order, some repeated, with random modes and keys
                let keys = ["manifest.version", "oneroster.version", "file.users", "file.orgs", "file.enrollments", "file.../users",
                            "file.Users", "source.systemName", "propertyName", ""]
                let values = ["1.0", "1.1", "1.2", "bulk", "delta", "absent", "BULK", "", "\"a,b\"", "2.0"]
                var text = rng.int(2) == 0 ? "propertyName,value\n" : ""
                for _ in 0..<rng.int(30) { text += "\(rng.pick(keys)),\(rng.pick(values))\n" }
                bytes = Array(text.utf8)
            }
            var files = fixture
            files["manifest.csv"] = nil
            let dir = try write(files, binary: ["manifest.csv": Data(bytes)])
            do {
                let bundle = try reader.read(at: dir)
                for summary in bundle.report.files where summary.present {
                    XCTAssertEqual(summary.rowsLoaded + summary.rowsQuarantined, summary.rowsRead,
                                   "seed \(seed): \(summary.file) lost rows")
                }
                for row in bundle.quarantined {
                    XCTAssertFalse(row.reasons.isEmpty, "seed \(seed): \(row.file):\(row.line) quarantined without a reason")
                }
                XCTAssertEqual(bundle.quarantined.count, bundle.report.files.reduce(0) { $0 + $1.rowsQuarantined }, "seed \(seed)")
            } catch {
                XCTAssertFalse("\(error)".isEmpty, "seed \(seed): an error without words")
            }
            try? FileManager.default.removeItem(at: dir)
            iterations += 1
            seed += 1
        }
        XCTAssertGreaterThan(iterations, 20, "the fuzz run did too little to mean anything")
    }
}
