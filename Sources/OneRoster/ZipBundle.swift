import Foundation
import ZIPFoundation

/// Extraction of zipped bundles to a temporary folder.
enum ZipBundle {
    struct Extracted {
        /// Temporary folder to delete afterwards.
        let tempRoot: URL
        /// Folder holding the extracted CSV files.
        let folder: URL
        /// The folder inside the zip where the files were found, when not at the root.
        let subfolder: String?
    }

    static func looksLikeZip(_ url: URL) -> Bool {
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

    /// Extracts the `.csv` entries of the folder that holds `manifest.csv` (the root, normally) into a temporary folder.
    /// Only the last path component is used for the extracted name, so entries cannot escape the folder.
    static func extract(_ url: URL) throws -> Extracted {
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .read)
        } catch {
            throw OneRosterBundleError.badZip(url.path, openingProblem(error))
        }
        var csvEntries: [(dir: String, name: String, entry: Entry)] = []
        for entry in archive where entry.type == .file {
            let path = entry.path
            if path.hasPrefix("__MACOSX/") { continue }
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            guard let last = parts.last, !last.hasPrefix("._"), last.lowercased().hasSuffix(".csv") else { continue }
            let dir = parts.dropLast().joined(separator: "/")
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
        let tempRoot = FileManager.default.temporaryDirectory
            .appendingPathComponent("oneroster-\(UUID().uuidString)", isDirectory: true)
        let folder = tempRoot.appendingPathComponent("bundle", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        do {
            for item in csvEntries where item.dir == chosen {
                let dest = folder.appendingPathComponent(item.name)
                if FileManager.default.fileExists(atPath: dest.path) { continue }
                _ = try archive.extract(item.entry, to: dest, skipCRC32: false)
            }
        } catch {
            try? FileManager.default.removeItem(at: tempRoot)
            throw OneRosterBundleError.badZip(
                url.path, "a file inside the .zip is damaged or cut off (\(error)); re-download the .zip or export it again")
        }
        return Extracted(tempRoot: tempRoot, folder: folder, subfolder: chosen.isEmpty ? nil : chosen)
    }
}
