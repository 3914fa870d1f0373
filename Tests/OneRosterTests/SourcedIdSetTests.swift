@testable import OneRoster
import XCTest

/// The reader's set of valid sourcedIds: what it holds it finds, through every growth of its table, and nothing else.
final class SourcedIdSetTests: XCTestCase {
    func testFindsEveryIdItHoldsThroughEveryGrowthAndNoOther() {
        var set = SourcedIdSet(capacity: 4)
        // Short ids (kept inside the string) and long ones (kept apart), ASCII and not.
        let ids = (0..<20_000).map { i in
            switch i % 3 {
            case 0: "stu-\(i)"
            case 1: "enr-2026-\(String(repeating: "0", count: 12))\(i)"
            default: "élève-\(i)-ü"
            }
        }
        for (n, id) in ids.enumerated() {
            XCTAssertTrue(set.insert(id), id)
            XCTAssertEqual(set.count, n + 1)
        }
        for id in ids {
            XCTAssertTrue(set.contains(id), id)
            XCTAssertFalse(set.insert(id), "\(id) was added twice")
        }
        XCTAssertEqual(set.count, ids.count)
        for i in 0..<20_000 {
            XCTAssertFalse(set.contains("stu-\(i)x"))
            XCTAssertFalse(set.contains("tch-\(i)"))
        }
        XCTAssertFalse(set.contains(""))
    }

    func testAnEmptyIdIsAnIdLikeAnyOther() {
        var set = SourcedIdSet()
        XCTAssertFalse(set.contains(""))
        XCTAssertTrue(set.insert(""))
        XCTAssertTrue(set.contains(""))
        XCTAssertFalse(set.insert(""))
        XCTAssertEqual(set.count, 1)
    }
}
