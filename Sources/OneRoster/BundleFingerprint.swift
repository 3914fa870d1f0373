import Crypto
import Foundation

/// The SHA-256 of a bundle's bytes: a .zip file as it is, a folder as the sorted list of its files (relative path,
/// size and content of each). Two bundles with the same fingerprint hold the same files with the same bytes.
enum BundleFingerprint {
    static func sha256(atPath path: String) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw OneRosterBundleError.notFound(path)
        }
        var hash = SHA256()
        if isFolder.boolValue {
            let root = URL(fileURLWithPath: path)
            let files = (FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []).sorted()
            for relative in files {
                let url = root.appendingPathComponent(relative)
                // Only regular files, never through a link (a link to /dev/zero or a FIFO would never end); the reader
                // refuses such a bundle with a message naming the file.
                var st = stat()
                guard lstat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                hash.update(data: Data(relative.utf8) + [0])
                try feed(url, into: &hash, withLength: true)
            }
        } else {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw OneRosterBundleError.notABundle(path)
            }
            try feed(URL(fileURLWithPath: path), into: &hash, withLength: false)
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Streams a file into the hash in 1 MiB chunks (followed by its length when files are listed one after another).
    private static func feed(_ url: URL, into hash: inout SHA256, withLength: Bool) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var length: UInt64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(data: chunk)
            length += UInt64(chunk.count)
        }
        if withLength { withUnsafeBytes(of: length.littleEndian) { hash.update(bufferPointer: $0) } }
    }
}
