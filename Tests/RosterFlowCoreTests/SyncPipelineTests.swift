import Foundation
import OneRoster
@testable import RosterFlowCore
import XCTest

/// The queue between the bundle's reader and the diff thread: bounded, but elastic while the diff passes over a long
/// run of held records (a rollover's year ending), so that the reader is not kept waiting meanwhile.
final class SyncPipelineTests: XCTestCase {
    private final class Seen: @unchecked Sendable {
        var records = 0
        var readerWentOn = false
    }

    func testTheReaderGoesOnPastTheBoundWhileTheDiffPassesOverAndEveryRecordArrivesInOrder() throws {
        let total = (SyncDiffPipeline.maxChunks + 8) * SyncDiffPipeline.chunkSize
        let readerDone = DispatchSemaphore(value: 0)
        let seen = Seen()
        let pipeline = SyncDiffPipeline(bulkFiles: BulkFiles()) { next, passingOver in
            passingOver(true)
            // More than the bound's worth of records is queued while this thread takes none.
            seen.readerWentOn = readerDone.wait(timeout: .now() + 20) == .success
            passingOver(false)
            while let chunk = next() {
                for record in chunk {
                    guard case let .enrollment(enrollment) = record, enrollment.sourcedId == "e-\(seen.records)" else {
                        XCTFail("record \(seen.records) out of order")
                        return SyncDiff(heldCounts: [:])
                    }
                    seen.records += 1
                }
            }
            return SyncDiff(heldCounts: [:])
        }
        for n in 0..<total {
            pipeline.put(.enrollment(Enrollment(sourcedId: "e-\(n)", classSourcedId: "class-1", schoolSourcedId: "org-1",
                                                userSourcedId: "u-\(n)", role: .student)))
        }
        readerDone.signal()
        _ = try pipeline.finish()
        XCTAssertTrue(seen.readerWentOn, "the reader queued \(total) records while the diff took none")
        XCTAssertEqual(seen.records, total)
    }
}
