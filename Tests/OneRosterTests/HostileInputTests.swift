import Foundation
@testable import OneRoster
import XCTest
import ZIPFoundation

/// Bundles built to hurt: zip bombs, zips that lie, links to secrets and devices, other encodings, runaway sizes.
final class HostileInputTests: OneRosterTestCase {
    // MARK: helpers

    /// A zip of `files` (in order), deflated.
    func zip(_ files: [(String, Data)], in dir: URL? = nil) throws -> URL {
        let url = try (dir ?? makeTempDir()).appendingPathComponent("bundle-\(UUID().uuidString).zip")
        let archive = try Archive(url: url, accessMode: .create)
        for (path, data) in files {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return url
    }

    func fixtureFiles(_ fixture: [String: String] = Fixture.bundle11(), replacing: [String: Data] = [:]) -> [(String, Data)] {
        var out = fixture.keys.sorted().map { ($0, replacing[$0] ?? Data(fixture[$0]!.utf8)) }
        for (name, data) in replacing where fixture[name] == nil { out.append((name, data)) }
        return out
    }

    /// Rewrites the uncompressed size the zip declares for `name` (local header and central directory) to `size`.
    func patchDeclaredSize(_ url: URL, entry name: String, to size: UInt32) throws {
        var bytes = [UInt8](try Data(contentsOf: url))
        let nameBytes = Array(name.utf8)
        func u32(_ i: Int) -> UInt32 { UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
        func put(_ i: Int) { for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: size >> (8 * k)) } }
        var patched = 0
        var i = 0
        while i + 46 < bytes.count {
            let sig = u32(i)
            if sig == 0x0403_4B50, u16(i + 26) == nameBytes.count, Array(bytes[(i + 30)..<(i + 30 + nameBytes.count)]) == nameBytes {
                put(i + 22); patched += 1
            } else if sig == 0x0201_4B50, u16(i + 28) == nameBytes.count, Array(bytes[(i + 46)..<(i + 46 + nameBytes.count)]) == nameBytes {
                put(i + 24); patched += 1
            }
            i += 1
        }
        XCTAssertEqual(patched, 2, "both headers of \(name) patched")
        try Data(bytes).write(to: url)
    }

    /// A users.csv of `bytes` bytes: the header, then one row repeated (compresses about a thousand to one).
    func bigUsers(_ bytes: Int) -> Data {
        var text = Fixture.users11.split(separator: "\n").first.map(String.init)! + "\n"
        let row = "t-1,,,true,org-s1,teacher,tina,{LDAP:1},Tina,Teach,,,tina@example.org,,,,,\n"
        text.reserveCapacity(bytes)
        while text.utf8.count + row.utf8.count <= bytes { text += row }
        return Data(text.utf8)
    }

    func options(_ limits: InputLimits, temp: URL? = nil) -> OneRosterBundleReader.Options {
        .init(limits: limits, temporaryDirectory: temp)
    }

    func extractionFolders(in dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("rosterflow-bundle-") }
    }

    // MARK: zips

    func testZipBombRefusedByDeclaredSizeAndRatioBeforeAnythingIsWritten() throws {
        let temp = try makeTempDir()
        let url = try zip(fixtureFiles(replacing: ["users.csv": bigUsers(20 << 20)]))
        // A 4 MiB cap per entry: the declared 20 MiB is refused before extraction.
        XCTAssertThrowsError(try OneRosterBundleReader(options: options(InputLimits(maxZipEntryBytes: 4 << 20), temp: temp)).read(at: url)) { error in
            guard let refusal = error as? OneRosterBundleError, refusal.code == .zipTooLarge, let reason = refusal.reason else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("users.csv declares more than 4 MiB"), reason)
            XCTAssertTrue(reason.contains("ROSTERFLOW_MAX_ZIP_ENTRY_MB"), reason)
        }
        // Under the size caps but compressed far more than CSV exports are: the ratio cap refuses it.
        XCTAssertThrowsError(try OneRosterBundleReader(options: options(InputLimits(maxZipEntryBytes: 64 << 20), temp: temp)).read(at: url)) { error in
            guard let refusal = error as? OneRosterBundleError, refusal.code == .zipTooLarge, let reason = refusal.reason else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("more than 200 to one"), reason)
        }
        // The total cap counts every file.
        XCTAssertThrowsError(try OneRosterBundleReader(options: options(
            InputLimits(maxZipTotalBytes: 8 << 20, maxZipRatio: 100_000), temp: temp)).read(at: url)) { error in
            guard let refusal = error as? OneRosterBundleError, refusal.code == .zipTooLarge, let reason = refusal.reason else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("more than 8 MiB uncompressed in all"), reason)
        }
        XCTAssertEqual(extractionFolders(in: temp), [], "nothing left behind")
        // With caps that fit it, a zip of the same kind reads.
        let small = try zip(fixtureFiles(replacing: ["users.csv": bigUsers(2 << 20)]))
        let b = try OneRosterBundleReader(options: options(InputLimits(maxZipRatio: 100_000), temp: temp)).read(at: small)
        XCTAssertGreaterThan(b.report.files.first { $0.file == "users.csv" }?.rowsRead ?? 0, 20_000)
        XCTAssertEqual(extractionFolders(in: temp), [])
    }

    func testZipThatLiesAboutItsSizeStopsWhileInflating() throws {
        let temp = try makeTempDir()
        let url = try zip(fixtureFiles(replacing: ["users.csv": bigUsers(30 << 20)]))
        // It declares 1 MiB for a 30 MiB file: within every declared cap (entry 3 MiB, ratio not reached).
        try patchDeclaredSize(url, entry: "users.csv", to: 1 << 20)
        let limits = InputLimits(maxZipEntryBytes: 3 << 20, maxZipTotalBytes: 3 << 20, maxZipRatio: 100_000)
        XCTAssertThrowsError(try OneRosterBundleReader(options: options(limits, temp: temp)).read(at: url)) { error in
            guard let refusal = error as? OneRosterBundleError, refusal.code == .zipTooLarge, let reason = refusal.reason else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("users.csv inflates to more than the 1048576 bytes the zip declares"), reason)
        }
        XCTAssertEqual(extractionFolders(in: temp), [], "the partial extraction is removed")
        // Honest about the entry cap but not the ratio: stopped while inflating by the ratio check too.
        let url2 = try zip(fixtureFiles(replacing: ["users.csv": bigUsers(30 << 20)]))
        try patchDeclaredSize(url2, entry: "users.csv", to: 40 << 20)
        XCTAssertThrowsError(try OneRosterBundleReader(options: options(InputLimits(maxZipEntryBytes: 4 << 20, maxZipRatio: 100_000), temp: temp)).read(at: url2)) { error in
            guard let refusal = error as? OneRosterBundleError, refusal.code == .zipTooLarge, let reason = refusal.reason else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("declares more than 4 MiB"), reason)
        }
    }

    func testDuplicateZipEntriesAreRefused() throws {
        let users2 = Data(Fixture.users11.replacingOccurrences(of: "Tina", with: "Mallory").utf8)
        let url = try zip(fixtureFiles() + [("users.csv", users2)])
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: url)) { error in
            guard let refusal = error as? OneRosterBundleError, refusal.code == .badZip, let reason = refusal.reason else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue(reason.contains("two entries named `users.csv`"), reason)
            XCTAssertTrue(reason.contains("Export the bundle again so every file appears once"), reason)
        }
        // The same name spelt with a doubled slash is the same file.
        let url2 = try zip(fixtureFiles().map { ("x/" + $0.0, $0.1) } + [("x//users.csv", users2)])
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: url2)) { error in
            XCTAssertTrue("\(error)".contains("two entries named `x/users.csv`"), "\(error)")
        }
    }

    func testExtractionFolderIsPrivateAndRemovedOnEveryPath() throws {
        let temp = try makeTempDir()
        let url = try zip(fixtureFiles())
        var seen: [String: UInt16] = [:]
        let reader = OneRosterBundleReader(options: options(.defaults, temp: temp))
        _ = try reader.read(at: url, visitor: { _ in
            guard seen.isEmpty, let folder = self.extractionFolders(in: temp).first else { return }
            let root = temp.appendingPathComponent(folder)
            for path in [root.path, root.appendingPathComponent("bundle").path, root.appendingPathComponent("bundle/users.csv").path] {
                var st = stat()
                XCTAssertEqual(lstat(path, &st), 0)
                seen[path] = UInt16(st.st_mode & 0o777)
            }
        })
        XCTAssertEqual(Set(seen.values), [0o700, 0o600], "\(seen)")
        XCTAssertEqual(seen.values.filter { $0 == 0o600 }.count, 1)
        XCTAssertEqual(extractionFolders(in: temp), [])
        // A visitor that throws (a cancelled sync): the folder goes too.
        struct Stop: Error {}
        XCTAssertThrowsError(try reader.read(at: url, visitor: { _ in throw Stop() }))
        XCTAssertEqual(extractionFolders(in: temp), [])
    }

    func testStaleExtractionFoldersOfDeadProcessesAreSwept() throws {
        let temp = try makeTempDir()
        // A process that has exited: its pid is free.
        let done = Process()
        done.executableURL = URL(fileURLWithPath: "/bin/true")
        try done.run()
        done.waitUntilExit()
        let stale = temp.appendingPathComponent("rosterflow-bundle-\(done.processIdentifier)-\(UUID().uuidString)")
        let live = temp.appendingPathComponent("rosterflow-bundle-\(getppid())-\(UUID().uuidString)")
        let other = temp.appendingPathComponent("someone-elses-folder")
        for dir in [stale, live, other] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("bundle"), withIntermediateDirectories: true)
            try Data("secret".utf8).write(to: dir.appendingPathComponent("bundle/users.csv"))
        }
        _ = try OneRosterBundleReader(options: options(.defaults, temp: temp)).read(at: try zip(fixtureFiles()))
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "the dead process's folder is swept")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "a running process's folder is left alone")
        XCTAssertTrue(FileManager.default.fileExists(atPath: other.path))
    }

    func testZipPathEscapesNestedZipsAndOddEntriesAreNeverWrittenOrOpened() throws {
        let temp = try makeTempDir()
        let outside = temp.appendingPathComponent("escaped-\(UUID().uuidString).csv")
        let inner = try Data(contentsOf: try zip([("users.csv", Data(Fixture.users11.utf8))]))
        var files = fixtureFiles()
        files.removeAll { $0.0 == "users.csv" }
        files += [("../../../../../../../../" + outside.path.dropFirst(), Data("a,b\n1,2\n".utf8)),
                  ("users.zip", inner), ("__MACOSX/._users.csv", Data([0, 5, 22, 7]))]
        let url = try zip(files)
        let b = try OneRosterBundleReader(options: options(.defaults, temp: temp)).read(at: url)
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside.path), "no entry escapes the extraction folder")
        XCTAssertTrue(b.users.isEmpty, "the nested zip is not opened")
        XCTAssertEqual(try issue(b, .manifestMissingFile).file, "users.csv")
        XCTAssertEqual(extractionFolders(in: temp), [])
    }

    func testManifestPathsOutsideTheBundleAreNotFiles() throws {
        let secret = try makeTempDir().appendingPathComponent("secret.csv")
        try Data("sourcedId\nTOP-SECRET\n".utf8).write(to: secret)
        var files = Fixture.bundle11()
        files["manifest.csv"] = Fixture.manifest("1.1", Fixture.rosterModes11, extra: [
            "file.../../\(secret.deletingLastPathComponent().lastPathComponent)/secret,bulk", "file.\(secret.path),bulk"])
        let b = try read(files)
        let unknown = b.report.issues(withCode: .manifestUnknownFile)
        XCTAssertEqual(unknown.count, 2, b.report.rendered())
        XCTAssertFalse(b.report.rendered().contains("TOP-SECRET"))
        XCTAssertEqual(b.users.count, 3)
    }

    // MARK: folders

    func testSymlinkedBundleFileIsRefusedAndNotRead() throws {
        let secret = try makeTempDir().appendingPathComponent("secret.txt")
        try Data("sourcedId,password\nroot,hunter2\n".utf8).write(to: secret)
        var files = Fixture.bundle11()
        files["users.csv"] = nil
        let dir = try write(files)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("users.csv").path, withDestinationPath: secret.path)
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: dir)) { error in
            XCTAssertEqual(error as? OneRosterBundleError, .notRegularFile(dir.path, "users.csv", "a symbolic link"))
            XCTAssertTrue("\(error)".contains("users.csv in \(dir.path) is a symbolic link, not a regular file"), "\(error)")
            XCTAssertFalse("\(error)".contains("hunter2"))
        }
        // The reader itself refuses to follow a link, whatever the caller checked before.
        XCTAssertThrowsError(try CSVRecordReader(url: dir.appendingPathComponent("users.csv"))) { error in
            XCTAssertEqual(error as? CSVReadError, .notRegularFile(path: dir.appendingPathComponent("users.csv").path, kind: "a symbolic link"))
        }
    }

    func testLinkToDevZeroAndFIFOAreRefusedNotRead() throws {
        var files = Fixture.bundle11()
        files["enrollments.csv"] = nil
        let dir = try write(files)
        let target = dir.appendingPathComponent("enrollments.csv")
        try FileManager.default.createSymbolicLink(atPath: target.path, withDestinationPath: "/dev/zero")
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: dir)) { error in
            XCTAssertEqual(error as? OneRosterBundleError, .notRegularFile(dir.path, "enrollments.csv", "a symbolic link"))
        }
        XCTAssertThrowsError(try CSVRecordReader(url: URL(fileURLWithPath: "/dev/zero"))) { error in
            XCTAssertEqual(error as? CSVReadError, .notRegularFile(path: "/dev/zero", kind: "a character device"))
        }
        try FileManager.default.removeItem(at: target)
        XCTAssertEqual(mkfifo(target.path, 0o600), 0)
        // Opening a FIFO with no writer would block forever; it is refused at once.
        XCTAssertThrowsError(try CSVRecordReader(url: target)) { error in
            XCTAssertEqual(error as? CSVReadError, .notRegularFile(path: target.path, kind: "a FIFO (named pipe)"))
        }
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: dir)) { error in
            XCTAssertEqual(error as? OneRosterBundleError, .notRegularFile(dir.path, "enrollments.csv", "a FIFO (named pipe)"))
        }
    }

    func testABundlePathThatIsAFIFOIsNotABundle() throws {
        let fifo = try makeTempDir().appendingPathComponent("district.zip")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        XCTAssertThrowsError(try OneRosterBundleReader().read(at: fifo)) { error in
            XCTAssertEqual(error as? OneRosterBundleError, .notABundle(fifo.path))
        }
    }

    func testSymlinkedSubfolderIsNotFollowed() throws {
        let real = try write(Fixture.bundle11())
        let dir = try makeTempDir()
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("export").path, withDestinationPath: real.path)
        let b = try OneRosterBundleReader().read(at: dir)
        XCTAssertTrue(b.users.isEmpty)
        XCTAssertFalse(b.manifest.isPresent)
    }

    // MARK: encodings

    func utf16(_ text: String, bom: Bool, bigEndian: Bool = false) -> Data {
        var out = Data()
        if bom { out += bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE] }
        for unit in text.utf16 {
            out += bigEndian ? [UInt8(unit >> 8), UInt8(unit & 0xFF)] : [UInt8(unit & 0xFF), UInt8(unit >> 8)]
        }
        return out
    }

    func assertUnreadable(_ error: Error, file name: String, mentions: String, line: UInt = #line) {
        guard let refusal = error as? OneRosterBundleError, refusal.code == .unreadableFile,
              let reason = refusal.reason, let fix = reason.range(of: " Fix: ").map({ String(reason[$0.upperBound...]) })
        else {
            return XCTFail("\(error)", line: line)
        }
        XCTAssertEqual(refusal.path, name, line: line)
        XCTAssertTrue(reason.contains(mentions), reason, line: line)
        XCTAssertTrue(fix.contains("UTF-8") || fix.contains("ROSTERFLOW_MAX_COLUMNS"), fix, line: line)
    }

    func testUTF16And32UsersAreAFileErrorNeverZeroRows() throws {
        let cases: [(Data, String)] = [
            (utf16(Fixture.users11, bom: true), "UTF-16 (little-endian)"),
            (utf16(Fixture.users11, bom: true, bigEndian: true), "UTF-16 (big-endian)"),
            (utf16(Fixture.users11, bom: false), "UTF-16 or UTF-32"),
            (Data([0xFF, 0xFE, 0, 0]) + Data(Fixture.users11.unicodeScalars.flatMap { s -> [UInt8] in
                let v = s.value; return [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), 0] }), "UTF-32 (little-endian)"),
        ]
        for (data, encoding) in cases {
            var files = Fixture.bundle11()
            files["users.csv"] = nil
            XCTAssertThrowsError(try read(files, binary: ["users.csv": data]), encoding) { error in
                assertUnreadable(error, file: "users.csv", mentions: "it is saved as \(encoding)")
                XCTAssertTrue("\(error)".contains("Export users.csv again as UTF-8 CSV"), "\(error)")
            }
        }
        // A UTF-16 manifest too.
        var files = Fixture.bundle11()
        let manifest = files.removeValue(forKey: "manifest.csv")!
        XCTAssertThrowsError(try read(files, binary: ["manifest.csv": utf16(manifest, bom: true)])) { error in
            assertUnreadable(error, file: "manifest.csv", mentions: "UTF-16")
        }
        // UTF-8 with a byte order mark is the format.
        files = Fixture.bundle11()
        files["users.csv"] = nil
        let b = try read(files, binary: ["users.csv": Data([0xEF, 0xBB, 0xBF]) + Data(Fixture.users11.utf8)])
        XCTAssertEqual(b.users.count, 3)
    }

    func testHeaderThatDoesNotParseIsAFileError() throws {
        var files = Fixture.bundle11()
        files["users.csv"] = nil
        // Invalid UTF-8 in the header (Latin-1).
        var latin1 = Data("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,givenName,familyName,Pr".utf8)
        latin1 += [0xE9] + Data("nom\nt-1,,,true,org-s1,teacher,tina,Tina,Teach,x\n".utf8)
        XCTAssertThrowsError(try read(files, binary: ["users.csv": latin1])) { error in
            assertUnreadable(error, file: "users.csv", mentions: "column 10 of its header is not valid UTF-8")
        }
        // A first line that names no column of the file (semicolons, or no header at all).
        let semicolons = Data(Fixture.users11.replacingOccurrences(of: ",", with: ";").utf8)
        XCTAssertThrowsError(try read(files, binary: ["users.csv": semicolons])) { error in
            assertUnreadable(error, file: "users.csv", mentions: "names none of the columns of users.csv")
        }
        let noHeader = Data(Fixture.users11.split(separator: "\n").dropFirst().joined(separator: "\n").utf8)
        XCTAssertThrowsError(try read(files, binary: ["users.csv": noHeader])) { error in
            assertUnreadable(error, file: "users.csv", mentions: "names none of the columns")
        }
    }

    // MARK: limits

    func testReaderKeepsMemoryBoundedOnARunawayLine() throws {
        let limits = InputLimits(maxFieldBytes: 1 << 10, maxRowBytes: 4 << 10, maxColumns: 8)
        let url = try makeTempDir().appendingPathComponent("big.csv")
        var data = Data("a,b\n".utf8)
        data += Data(repeating: UInt8(ascii: "x"), count: 5 << 20)  // one 5 MiB unquoted field
        data += Data(",tail\n\"".utf8) + Data(repeating: UInt8(ascii: "y"), count: 3 << 20) + Data("\",z\n".utf8)
        data += Data("1,2,3,4,5,6,7,8,9,10\nok,fine\n".utf8)
        try data.write(to: url)
        let reader = try CSVRecordReader(url: url, chunkSize: 64 << 10, limits: limits)
        XCTAssertTrue(try reader.next())
        XCTAssertEqual(try reader.fields(), ["a", "b"])
        XCTAssertTrue(try reader.next())
        XCTAssertTrue(reader.quirks.contains(.tooLong))
        XCTAssertEqual(reader.withField(0) { $0.count }, 1 << 10)
        XCTAssertEqual(try reader.field(1), "tail")
        XCTAssertTrue(try reader.next())
        XCTAssertTrue(reader.quirks.contains(.tooLong))
        XCTAssertEqual(reader.withField(0) { $0.count }, 1 << 10, "a quoted field is cut too")
        XCTAssertEqual(reader.line, 3)
        XCTAssertTrue(try reader.next())
        XCTAssertEqual(reader.quirks, .tooManyFields)
        XCTAssertEqual(reader.fieldCount, 8)
        XCTAssertTrue(try reader.next())
        XCTAssertEqual(try reader.fields(), ["ok", "fine"])
        XCTAssertEqual(reader.quirks, [])
        XCTAssertFalse(try reader.next())
    }

    func testOversizedRowsAreQuarantinedAndTooWideHeadersRefused() throws {
        var files = Fixture.bundle11()
        let huge = String(repeating: "Z", count: 200 << 10)
        files["users.csv"] = Fixture.users11.replacingOccurrences(of: "Tina,Teach", with: "\(huge),Teach")
        let b = try read(files)
        let issue = try self.issue(b, .rowTooLarge)
        XCTAssertEqual(issue.line, 2)
        XCTAssertTrue(issue.message.contains("longer than 64 KiB"), issue.message)
        assertQuarantined(b, file: "users.csv", line: 2, reason: .rowTooLarge)
        XCTAssertEqual(b.users.count, 2)
        let row = try XCTUnwrap(b.quarantined.first { $0.line == 2 })
        XCTAssertLessThan(row.values.values.map(\.utf8.count).max()!, 200, "quarantined values are excerpts")
        // A header wider than the cap: the file cannot be read.
        let wide = (0..<2_100).map { "metadata.c\($0)" }.joined(separator: ",")
        files["users.csv"] = Fixture.users11.replacingOccurrences(of: "password\n", with: "password,\(wide)\n")
        XCTAssertThrowsError(try read(files)) { error in
            assertUnreadable(error, file: "users.csv", mentions: "more than 2000 columns")
        }
    }

    func testValuesInReportsAreExcerpts() throws {
        var files = Fixture.bundle11()
        let long = String(repeating: "teacher-", count: 5_000)  // 40,000 bytes, under the field cap
        files["users.csv"] = Fixture.users11.replacingOccurrences(of: ",teacher,", with: ",\(long),")
        let b = try read(files)
        let issue = try self.issue(b, .unknownEnumValue)
        XCTAssertEqual(issue.value, String(long.prefix(80)) + "… (40000 bytes)")
        XCTAssertLessThan(issue.message.utf8.count, 2_100, issue.message)
        XCTAssertLessThan(issue.fix.utf8.count, 2_100)
        XCTAssertLessThan(try b.report.jsonData().count, 40_000, "the stored report does not carry the value")
        let rendered = b.report.rendered()
        XCTAssertFalse(rendered.contains(String(long.prefix(200))))
    }

    func testRenderedReportForNoticesIsCappedWithWhereToReadTheRest() throws {
        var report = ValidationReport()
        for line in 2..<600 {
            report.issues.append(ValidationIssue(severity: .error, code: .badDate, file: "users.csv", line: line, column: "dateLastModified",
                                                 value: "yesterday", message: "`dateLastModified` is not a date.", fix: "Write YYYY-MM-DD."))
            report.count(.error, .badDate)
        }
        let short = report.rendered(maxPerFile: 20, maxBytes: 100_000, more: "`rosterflow sync show run_1`")
        XCTAssertEqual(short, report.rendered(maxPerFile: 20), "under the cap nothing changes")
        let capped = report.rendered(maxPerFile: 500, maxBytes: 4_000, more: "`rosterflow sync show run_1`")
        XCTAssertLessThanOrEqual(capped.utf8.count, 4_000)
        XCTAssertTrue(capped.contains("see `rosterflow sync show run_1` for all of it"), capped)
        XCTAssertTrue(capped.contains("Totals: 598 errors"), capped)
        XCTAssertTrue(capped.hasPrefix("users.csv\n  error   users.csv:2"), capped)
    }

    func testEnvironmentKnobs() {
        let limits = InputLimits.fromEnvironment([
            "ROSTERFLOW_MAX_ZIP_ENTRY_MB": "5", "ROSTERFLOW_MAX_ZIP_TOTAL_MB": "7", "ROSTERFLOW_MAX_ZIP_RATIO": "50",
            "ROSTERFLOW_MAX_FIELD_KB": "2", "ROSTERFLOW_MAX_ROW_KB": "3", "ROSTERFLOW_MAX_COLUMNS": "40",
        ])
        XCTAssertEqual(limits, InputLimits(maxZipEntryBytes: 5 << 20, maxZipTotalBytes: 7 << 20, maxZipRatio: 50,
                                           maxFieldBytes: 2 << 10, maxRowBytes: 3 << 10, maxColumns: 40))
        XCTAssertEqual(InputLimits.fromEnvironment(["ROSTERFLOW_MAX_COLUMNS": "lots"]), .defaults)
        XCTAssertEqual(InputLimits.environmentProblems(["ROSTERFLOW_MAX_COLUMNS": "lots", "ROSTERFLOW_MAX_ROW_KB": "9"]),
                       ["ROSTERFLOW_MAX_COLUMNS is `lots`, which is not a positive whole number of columns; the default is used"])
    }

    // MARK: linear costs

    /// orgs.csv with a chain of `depth` orgs, each the parent of the next, listed children first (the worst order).
    static func orgChain(_ depth: Int, brokenRoot: Bool = false) -> String {
        var lines = ["sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId"]
        for i in stride(from: depth - 1, through: 0, by: -1) {
            let parent = i == 0 ? (brokenRoot ? "org-missing" : "") : "org-\(i - 1)"
            lines.append("org-\(i),,,Org \(i),\(i == 0 ? "district" : "school"),,\(parent)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func testADeepParentChainLoadsWhole() throws {
        var files = Fixture.bundle11()
        files["orgs.csv"] = Self.orgChain(20_000) + "org-d,,,Test District,district,,\norg-s1,,,Test High,school,HS1,org-d\n"
        // Quadratic, this took minutes (6,000 orgs took 8.9 s in release); how it scales is measured by
        // `rosterflow bench input`, not timed here.
        let b = try read(files)
        XCTAssertEqual(b.orgs.count, 20_002, b.report.rendered(maxPerFile: 3))
        XCTAssertEqual(b.report.errorCount, 0)

        files["orgs.csv"] = Self.orgChain(3, brokenRoot: true) + "org-d,,,Test District,district,,\norg-s1,,,Test High,school,HS1,org-d\n"
        // parentSourcedId is optional: the chain loads, its root's parent left unresolved.
        let tolerated = try read(files)
        XCTAssertEqual(tolerated.orgs.count, 5)
        XCTAssertEqual(tolerated.report.issues(withCode: .danglingOptionalReference).map(\.line), [4])
        // Strict, the failure spreads back along the chain, each row visited once.
        let broken = try OneRosterBundleReader(options: .init(tolerance: ReadingTolerance(strict: [.danglingOptionalReference])))
            .read(at: write(files))
        XCTAssertEqual(broken.orgs.map(\.sourcedId).sorted(), ["org-d", "org-s1"])
        let dangling = broken.report.issues(withCode: .danglingOptionalReference).filter { $0.file == "orgs.csv" }
        XCTAssertEqual(dangling.map(\.line), [2, 3, 4].map { Optional($0) })
        XCTAssertTrue(dangling[0].message.contains("`org-1`, which is on line 3 of orgs.csv but was not loaded"), dangling[0].message)
        XCTAssertTrue(dangling[2].message.contains("there is no org `org-missing`"), dangling[2].message)
    }

    func testShortRowsUnderAWideHeaderCostTheirOwnLength() throws {
        var files = Fixture.bundle11()
        let header = Fixture.orgs.split(separator: "\n")[0] + "," + (0..<1_500).map { "metadata.c\($0)" }.joined(separator: ",")
        files["orgs.csv"] = header + "\n" + String(repeating: "x\n", count: 3_000)
        let b = try read(files)
        XCTAssertEqual(b.report.countsByCode["wrong-field-count"], 3_000)
        let row = try XCTUnwrap(b.quarantined.first { $0.file == "orgs.csv" })
        XCTAssertEqual(row.values, ["sourcedId": "x"], "only the row's own fields are kept")
    }
}
