import Foundation
import ZIPFoundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Extraction of zipped bundles to a private temporary folder, within ``InputLimits``.
///
/// Only the `.csv` entries of the folder holding manifest.csv are extracted, each under its last path component
/// (no entry can escape the folder; nested zips, symlinks and other entries are never opened). Every entry is checked
/// against the caps twice: by the sizes the zip declares before anything is written, and by the bytes actually
/// inflated while writing, so a zip that lies about its sizes stops at the cap too. The folder is created 0700 (files
/// 0600) as `rosterflow-bundle-<pid>-<uuid>`; the reader removes it when it is done, whether reading succeeded or
/// threw, and folders left behind by a process that was killed are swept before the next extraction.
package enum ZipBundle {
    struct Extracted {
        /// Temporary folder to delete afterwards.
        let tempRoot: URL
        /// Folder holding the extracted CSV files.
        let folder: URL
        /// The folder inside the zip where the files were found, when not at the root.
        let subfolder: String?
    }

    static let folderPrefix = "rosterflow-bundle-"

    /// Extraction folders in use by this process, so a signal handler can remove them before the process ends.
    private static let live = LiveFolders()

    final class LiveFolders: @unchecked Sendable {
        private let lock = NSLock()
        private var paths: Set<String> = []
        func insert(_ path: String) { lock.lock(); paths.insert(path); lock.unlock() }
        func remove(_ path: String) { lock.lock(); paths.remove(path); lock.unlock() }
        func removeAll() -> [String] {
            lock.lock()
            defer { lock.unlock() }
            let all = Array(paths)
            paths = []
            return all
        }
    }

    /// Removes the extraction folder `url` (and forgets it).
    static func remove(_ url: URL) {
        try? FileManager.default.removeItem(at: url)
        live.remove(url.path)
    }

    /// Removes every extraction folder this process still has (for a process about to end on a signal).
    static func removeLiveFolders() {
        for path in live.removeAll() { try? FileManager.default.removeItem(atPath: path) }
    }
    /// The ratio cap applies once an entry has inflated past this many bytes (small files compress unevenly).
    static let ratioFloor: Int64 = 1 << 20

    /// Whether the file begins with a zip's signature (`PK`): how a bundle path that is not a folder is told apart.
    package static func looksLikeZip(_ url: URL) -> Bool {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4), head.count == 4 else { return false }
        return head[head.startIndex] == 0x50 && head[head.startIndex + 1] == 0x4B
    }

    /// Why a .zip could not be opened, in plain words: ZIPFoundation's error names (`missingEndOfCentralDirectoryRecord`)
    /// mean nothing to a school admin.
    static func openingProblem(_ error: any Error) -> String {
        switch error {
        case Archive.ArchiveError.missingEndOfCentralDirectoryRecord:
            "the .zip is cut off or not a zip file (its closing directory is missing, as after an interrupted download "
                + "or export): re-download the .zip or export it again"
        case Archive.ArchiveError.unreadableArchive:
            "the .zip cannot be opened (no permission to read it, or it is not a regular file)"
        default:
            "the .zip cannot be opened (\(error)): re-download it or export it again"
        }
    }

    /// The knob that raises a limit, for messages.
    private static func knob(_ name: String) -> String { "set \(name) to raise the limit if the export is genuine" }

    private static func mib(_ bytes: Int64) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes) bytes"
    }

    /// Extracts the `.csv` entries of the folder that holds `manifest.csv` (the root, normally) into a temporary folder.
    static func extract(_ url: URL, limits: InputLimits, temporaryDirectory: URL = FileManager.default.temporaryDirectory) throws -> Extracted {
        sweepStale(in: temporaryDirectory)
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw OneRosterBundleError.badZip(url.path, openingProblem(error))
        }
        var csvEntries: [(dir: String, name: String, entry: Entry)] = []
        var seen: [String: String] = [:]
        for entry in archive where entry.type == .file {
            let path = entry.path
            if path.hasPrefix("__MACOSX/") { continue }
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            guard let last = parts.last, !last.hasPrefix("._"), last.lowercased().hasSuffix(".csv") else { continue }
            let dir = parts.dropLast().joined(separator: "/")
            let key = dir.isEmpty ? String(last) : dir + "/" + last
            if let first = seen[key] {
                throw OneRosterBundleError.badZip(
                    url.path,
                    "it holds two entries named `\(reportExcerpt(key))`" + (first == path ? "" : " (`\(reportExcerpt(first))` and `\(reportExcerpt(path))`)")
                        + "; tools disagree on which one counts, so RosterFlow reads neither. Export the bundle again so every file appears once")
            }
            seen[key] = path
            csvEntries.append((dir, String(last), entry))
        }
        // The folder to read: the shallowest one holding manifest.csv, else the root, else the shallowest with CSV files.
        let manifestDirs = csvEntries.filter { $0.name == "manifest.csv" }.map(\.dir)
        let depth: (String) -> Int = { $0.isEmpty ? 0 : $0.split(separator: "/").count }
        let chosen: String
        if let d = manifestDirs.min(by: { depth($0) < depth($1) }) {
            chosen = d
        } else if csvEntries.contains(where: { $0.dir.isEmpty }) || csvEntries.isEmpty {
            chosen = ""
        } else {
            chosen = csvEntries.map(\.dir).min(by: { depth($0) < depth($1) }) ?? ""
        }
        let selected = csvEntries.filter { $0.dir == chosen }

        // Declared sizes first: nothing is written for a zip that says it is too big.
        var declaredTotal: Int64 = 0
        for item in selected {
            let size = Int64(clamping: item.entry.uncompressedSize)
            let packed = Int64(clamping: item.entry.compressedSize)
            try checkEntry(url, item.name, inflated: size, packed: packed, limits: limits, declared: true)
            declaredTotal = declaredTotal.addingReportingOverflow(size).partialValue
            if declaredTotal > limits.maxZipTotalBytes || declaredTotal < 0 {
                throw OneRosterBundleError.zipTooLarge(
                    url.path, "its CSV files declare more than \(mib(limits.maxZipTotalBytes)) uncompressed in all, the most a bundle may hold; "
                        + knob("ROSTERFLOW_MAX_ZIP_TOTAL_MB"))
            }
        }

        let tempRoot = temporaryDirectory.appendingPathComponent(
            "\(folderPrefix)\(getpid())-\(UUID().uuidString)", isDirectory: true)
        guard mkdir(tempRoot.path, 0o700) == 0 else {
            throw OneRosterBundleError.badZip(url.path, "cannot create a temporary folder in \(temporaryDirectory.path): \(String(cString: strerror(errno)))")
        }
        live.insert(tempRoot.path)
        let folder = tempRoot.appendingPathComponent("bundle", isDirectory: true)
        do {
            guard mkdir(folder.path, 0o700) == 0 else {
                throw OneRosterBundleError.badZip(url.path, "cannot create a temporary folder: \(String(cString: strerror(errno)))")
            }
            var total: Int64 = 0
            for item in selected {
                try extract(item.entry, name: item.name, of: url, archive: archive, to: folder.appendingPathComponent(item.name),
                            limits: limits, total: &total)
            }
        } catch {
            remove(tempRoot)
            if error is OneRosterBundleError { throw error }
            throw OneRosterBundleError.badZip(
                url.path, "a file inside the .zip is damaged or cut off (\(error)); re-download the .zip or export it again")
        }
        return Extracted(tempRoot: tempRoot, folder: folder, subfolder: chosen.isEmpty ? nil : chosen)
    }

    /// Refuses an entry whose size (declared, or inflated so far) or compression ratio passes a cap.
    private static func checkEntry(_ url: URL, _ name: String, inflated: Int64, packed: Int64, limits: InputLimits,
                                   declared: Bool) throws {
        let how = declared ? "declares" : "inflates to"
        if inflated > limits.maxZipEntryBytes {
            throw OneRosterBundleError.zipTooLarge(
                url.path, "\(reportExcerpt(name)) \(how) more than \(mib(limits.maxZipEntryBytes)) uncompressed, the most one file may hold; "
                    + knob("ROSTERFLOW_MAX_ZIP_ENTRY_MB"))
        }
        if inflated >= ratioFloor, inflated / max(packed, 1) > limits.maxZipRatio {
            throw OneRosterBundleError.zipTooLarge(
                url.path, "\(reportExcerpt(name)) \(how) \(mib(inflated)) from \(packed) compressed bytes, more than \(limits.maxZipRatio) to one; "
                    + "that is how zip bombs look, not CSV exports. "
                    + knob("ROSTERFLOW_MAX_ZIP_RATIO"))
        }
    }

    /// Inflates one entry into a new 0600 file, counting the bytes as they come.
    private static func extract(_ entry: Entry, name: String, of url: URL, archive: Archive, to dest: URL, limits: InputLimits,
                                total: inout Int64) throws {
        let fd = open(dest.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw OneRosterBundleError.badZip(url.path, "cannot write \(dest.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let declared = Int64(clamping: entry.uncompressedSize)
        let packed = Int64(clamping: entry.compressedSize)
        var written: Int64 = 0
        var runningTotal = total
        let checksum = try archive.extract(entry, skipCRC32: false) { data in
            written += Int64(data.count)
            runningTotal += Int64(data.count)
            if written > declared {
                throw OneRosterBundleError.zipTooLarge(
                    url.path, "\(reportExcerpt(name)) inflates to more than the \(declared) bytes the zip declares for it; "
                        + "a zip that lies about its sizes is refused. Zip the export again with a standard tool")
            }
            try checkEntry(url, name, inflated: written, packed: packed, limits: limits, declared: false)
            if runningTotal > limits.maxZipTotalBytes {
                throw OneRosterBundleError.zipTooLarge(
                    url.path, "its CSV files inflate to more than \(mib(limits.maxZipTotalBytes)) in all, the most a bundle may hold; "
                        + knob("ROSTERFLOW_MAX_ZIP_TOTAL_MB"))
            }
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw OneRosterBundleError.badZip(url.path, "cannot write \(dest.path): \(String(cString: strerror(errno)))")
                    }
                    offset += n
                }
            }
        }
        total = runningTotal
        if written != declared {
            throw OneRosterBundleError.badZip(
                url.path, "\(reportExcerpt(name)) holds \(written) bytes but the zip declares \(declared); the zip is damaged")
        }
        if checksum != entry.checksum {
            throw OneRosterBundleError.badZip(url.path, "\(reportExcerpt(name)) is damaged (its CRC-32 does not match)")
        }
    }

    /// Removes extraction folders whose process is gone (killed before it could clean up). Only folders of this user,
    /// named as this code names them, are touched; a folder whose process still runs is left alone.
    static func sweepStale(in directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        let me = getuid()
        for name in names where name.hasPrefix(folderPrefix) {
            let rest = name.dropFirst(folderPrefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]) else { continue }
            if pid == getpid() { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            let path = directory.appendingPathComponent(name).path
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == me else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
