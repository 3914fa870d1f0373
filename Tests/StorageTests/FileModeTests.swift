import Foundation
import StorageCore
import StorageSQLite
import XCTest

/// The database holds student data: it and SQLite's own files next to it are private to their owner.
final class FileModeTests: XCTestCase {
    func mode(_ path: String) throws -> Int {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, path)
    }

    func testANewDatabaseAndItsWALAndSharedMemoryAre0600UnderAPermissiveUmask() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-modes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/private.sqlite"
        let previous = umask(0o022)
        defer { umask(previous) }
        let store = try SQLiteStore(path: path)
        try store.writeNow { tx in
            try tx.insertInstance(InstanceRecord(
                id: "i1", workflow: "w", version: 1, state: "a", subjectTitle: "Springfield", createdAt: 0, enteredAt: 0, updatedAt: 0))
        }
        for file in [path, path + "-wal", path + "-shm"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), "\(file) was not created")
            XCTAssertEqual(try mode(file), 0o600, "\(file) is not private")
        }
    }

    func testAStricterUmaskIsHonouredAndAnExistingFileIsLeftAsItIs() throws {
        let folder = NSTemporaryDirectory() + "rosterflow-modes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let previous = umask(0o077)
        let strict = folder + "/strict.sqlite"
        _ = try SQLiteStore(path: strict)
        umask(previous)
        XCTAssertEqual(try mode(strict), 0o600)

        let existing = folder + "/existing.sqlite"
        _ = FileManager.default.createFile(atPath: existing, contents: nil, attributes: [.posixPermissions: 0o640])
        _ = try SQLiteStore(path: existing)
        XCTAssertEqual(try mode(existing), 0o640, "an existing database keeps its mode (rosterflow doctor reports it)")
    }
}
