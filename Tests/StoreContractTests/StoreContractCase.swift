import Foundation
import StorageCore
import XCTest

/// The base of the store contract's test cases: runs a test body once per backend in ``StoreConformers/all``, each on
/// a new empty store in a folder of its own (removed after the test); a failure names the backend.
class StoreContractCase: XCTestCase {
    private var folders: [String] = []

    override func tearDown() {
        for folder in folders { try? FileManager.default.removeItem(atPath: folder) }
        folders = []
        super.tearDown()
    }

    /// Runs `body` once per backend, each on a new empty store.
    func forEachStore(file: StaticString = #filePath, line: UInt = #line, _ body: (any RosterFlowStore) throws -> Void) throws {
        for conformer in StoreConformers.all {
            do {
                try body(try newStore(conformer))
            } catch {
                XCTFail("\(conformer.name): \(error)", file: file, line: line)
            }
        }
    }

    /// Runs an asynchronous `body` once per backend, each on a new empty store.
    func forEachStore(
        file: StaticString = #filePath, line: UInt = #line, _ body: (any RosterFlowStore) async throws -> Void
    ) async throws {
        for conformer in StoreConformers.all {
            do {
                try await body(try newStore(conformer))
            } catch {
                XCTFail("\(conformer.name): \(error)", file: file, line: line)
            }
        }
    }

    private func newStore(_ conformer: StoreConformer) throws -> any RosterFlowStore {
        let folder = try temporaryFolder()
        folders.append(folder)
        return try conformer.make(folder)
    }
}
