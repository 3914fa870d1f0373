import Foundation
@testable import OneRoster
import XCTest

/// Damaged bundles, as districts really send them (mutations drawn from the sample generator's SplitMix64, so a
/// failure names a seed that reproduces it): every mutation of a valid bundle must give a report (or a
/// plain error), never a crash, and every row must be either loaded or quarantined with a reason.
final class MutationTests: OneRosterTestCase {
    /// Bytes that break CSV and text in interesting ways.
    static let nasty: [[UInt8]] = [
        [0x22], [0x2C], [0x0A], [0x0D], [0x0D, 0x0A], [0xEF, 0xBB, 0xBF], [0xFF], [0xC3], [0x00], [0x22, 0x22],
        Array("tobedeleted".utf8), Array(",,,,,,,,,,,,".utf8), Array("\"a,\nb\"".utf8), Array("2024-13-45".utf8),
    ]

    static func mutate(_ data: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = data
        for _ in 0..<(1 + rng.int(4)) {
            let at = rng.int(bytes.count + 1)
            switch rng.int(5) {
            case 0 where !bytes.isEmpty:  // flip one byte
                let i = min(at, bytes.count - 1)
                bytes[i] ^= UInt8(truncatingIfNeeded: 1 << rng.int(8))
            case 1:  // cut the file here (an export that stopped half-way)
                bytes = Array(bytes.prefix(at))
            case 2 where !bytes.isEmpty:  // delete a run
                let end = min(bytes.count, at + 1 + rng.int(40))
                bytes.removeSubrange(min(at, end)..<end)
            case 3:  // insert something nasty
                bytes.insert(contentsOf: nasty[rng.int(nasty.count)], at: at)
            default:  // duplicate a run (duplicate rows, repeated headers)
                let start = rng.int(bytes.count + 1)
                let run = Array(bytes[start..<min(bytes.count, start + rng.int(120))])
                bytes.insert(contentsOf: run, at: min(at, bytes.count))
            }
        }
        return bytes
    }

    func assertConsistent(_ bundle: OneRosterBundle, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        for summary in bundle.report.files where summary.present {
            XCTAssertEqual(summary.rowsLoaded + summary.rowsQuarantined, summary.rowsRead,
                           "seed \(seed): \(summary.file): every row read is loaded or quarantined, exactly once", file: file, line: line)
        }
        for row in bundle.quarantined {
            XCTAssertFalse(row.reasons.isEmpty, "seed \(seed): \(row.file):\(row.line) quarantined without a reason", file: file, line: line)
        }
        for issue in bundle.report.issues {
            XCTAssertFalse(issue.message.isEmpty, "seed \(seed): an issue without a message", file: file, line: line)
            XCTAssertFalse(issue.fix.isEmpty, "seed \(seed): \(issue.code) without a fix", file: file, line: line)
        }
    }

    func testMutatedCSVFilesGiveAReportNeverACrash() throws {
        var damaged = 0, runs = 0
        for (label, fixture) in [("1.1", Fixture.bundle11()), ("1.2", Fixture.bundle12())] {
            let names = fixture.keys.sorted()
            for seed in UInt64(1)...150 {
                var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(label.count))
                var binary: [String: Data] = [:]
                var files = fixture
                // Damage one or two files of the bundle.
                for _ in 0..<(1 + rng.int(2)) {
                    let name = names[rng.int(names.count)]
                    binary[name] = Data(Self.mutate(Array((files[name] ?? "").utf8), &rng))
                    files[name] = nil
                }
                let dir = try write(files, binary: binary)
                do {
                    let bundle = try OneRosterBundleReader().read(at: dir)
                    assertConsistent(bundle, seed: seed)
                    if !bundle.report.issues.isEmpty { damaged += 1 }
                } catch {
                    XCTAssertFalse("\(error)".isEmpty, "seed \(seed) (\(label)): an error without words")
                    damaged += 1
                }
                runs += 1
                try? FileManager.default.removeItem(at: dir)
            }
        }
        // The mutations must really damage bundles, or this test proves nothing.
        XCTAssertGreaterThan(damaged, runs / 2, "only \(damaged) of \(runs) mutated bundles were reported as damaged")
    }

    func testADamagedZipIsDetectedNeverReadAsOtherRecords() throws {
        let dir = try makeTempDir()
        let zip = dir.appendingPathComponent("district.zip")
        _ = try SampleBundle.write(to: zip, users: 40, classes: 4, enrollments: 120, version: "1.2", seed: 3)
        let original = try [UInt8](Data(contentsOf: zip))
        /// Every record the reader hands over, in order, as text.
        func records(_ url: URL) throws -> (OneRosterBundle, [String]) {
            var seen: [String] = []
            let bundle = try OneRosterBundleReader(options: .init(retainRecords: false)).read(at: url) { seen.append("\($0)") }
            return (bundle, seen)
        }
        let (_, expected) = try records(zip)
        var detected = 0
        for seed in UInt64(1)...60 {
            var rng = SplitMix64(seed: seed)
            let damaged = dir.appendingPathComponent("damaged-\(seed).zip")
            let bytes = Self.mutate(original, &rng)
            try Data(bytes).write(to: damaged)
            do {
                let (bundle, seen) = try records(damaged)
                assertConsistent(bundle, seed: seed)
                // Damage must be detected: read without a word, the bundle must give exactly the original records
                // (the bytes hit were ones no record depends on, e.g. a timestamp or a comment).
                if bundle.report.issues.isEmpty {
                    XCTAssertEqual(seen, expected, "seed \(seed): a damaged zip was read as different records without any issue")
                } else {
                    detected += 1
                }
            } catch {
                XCTAssertFalse("\(error)".isEmpty, "seed \(seed): an error without words")
                detected += 1
            }
        }
        XCTAssertGreaterThan(detected, 30, "the mutations must really damage the zips, or this test proves nothing")
    }
}
