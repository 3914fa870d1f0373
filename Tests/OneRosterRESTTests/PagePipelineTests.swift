import Foundation
@testable import OneRosterREST
import XCTest

/// The hand-over between a pull's fetching thread and the thread laying out its pages.
final class PagePipelineTests: XCTestCase {
    struct Broke: Error, Equatable { var at: Int }

    /// Items arrive in the order they were put, however the two threads interleave, and never more than `capacity`
    /// wait at once.
    func testItemsArriveInOrderAndAtMostCapacityWait() throws {
        final class Peak: @unchecked Sendable {
            let lock = NSLock()
            var put = 0, taken = 0, most = 0
        }
        let peak = Peak()
        let pipeline = PagePipeline<Int>(capacity: 3)
        let done = pipeline.startProducer(name: "test") { pipeline in
            for i in 0..<5_000 {
                try pipeline.put(i)
                peak.lock.lock()
                peak.put += 1
                peak.most = max(peak.most, peak.put - peak.taken)
                peak.lock.unlock()
            }
        }
        var got: [Int] = []
        while let item = try pipeline.take() {
            got.append(item)
            peak.lock.lock()
            peak.taken += 1
            peak.lock.unlock()
            if item % 997 == 0 { usleep(200) }
        }
        done.wait()
        XCTAssertEqual(got, Array(0..<5_000))
        // `put` counts after the hand-over, so one more than the capacity can show between the two counters.
        XCTAssertLessThanOrEqual(peak.most, 4)
    }

    /// Items cost what the producer says: with a capacity of 16, two items costing 8 fill the pipeline, and an item
    /// costing more than the capacity still goes through once nothing waits.
    func testItemsWaitByTheirCost() throws {
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var put = 0
        }
        let count = Count()
        let pipeline = PagePipeline<Int>(capacity: 16)
        let done = pipeline.startProducer(name: "test") { pipeline in
            for (i, cost) in [8, 8, 1, 40, 1].enumerated() {
                try pipeline.put(i, cost: cost)
                count.lock.lock()
                count.put += 1
                count.lock.unlock()
            }
        }
        func put() -> Int { count.lock.lock(); defer { count.lock.unlock() }; return count.put }
        let deadline = Date().addingTimeInterval(5)
        while put() < 2 && Date() < deadline { usleep(1_000) }
        usleep(50_000)
        XCTAssertEqual(put(), 2, "the third item waits while two costing 8 fill 16")
        var got: [Int] = []
        while let item = try pipeline.take() { got.append(item) }
        done.wait()
        XCTAssertEqual(got, [0, 1, 2, 3, 4])
    }

    /// The producer's error comes after every item it put before failing, and ends the stream.
    func testAnErrorMidStreamComesAfterTheItemsBeforeIt() throws {
        let pipeline = PagePipeline<Int>(capacity: 2)
        let done = pipeline.startProducer(name: "test") { pipeline in
            for i in 0..<10 { try pipeline.put(i) }
            throw Broke(at: 10)
        }
        var got: [Int] = []
        XCTAssertThrowsError(try { while let item = try pipeline.take() { got.append(item) } }()) {
            XCTAssertEqual($0 as? Broke, Broke(at: 10))
        }
        done.wait()
        XCTAssertEqual(got, Array(0..<10))
    }

    /// A consumer that stops early releases a producer waiting on a full pipeline, which then puts nothing more.
    func testCancellingStopsAWaitingProducer() throws {
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var put = 0
            var stoppedBy: (any Error)?
        }
        let count = Count()
        let pipeline = PagePipeline<Int>(capacity: 2)
        let done = pipeline.startProducer(name: "test") { pipeline in
            do {
                for i in 0..<1_000 {
                    try pipeline.put(i)
                    count.lock.lock(); count.put += 1; count.lock.unlock()
                }
            } catch {
                count.lock.lock(); count.stoppedBy = error; count.lock.unlock()
                throw error
            }
        }
        XCTAssertEqual(try pipeline.take(), 0)
        pipeline.cancel()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "the producer was released")
        count.lock.lock()
        defer { count.lock.unlock() }
        XCTAssertTrue(count.stoppedBy is PagePipeline<Int>.Cancelled)
        XCTAssertLessThanOrEqual(count.put, 4, "at most the first item, two waiting and one more were put")
        XCTAssertNil(try pipeline.take(), "a cancelled pipeline hands out nothing more")
    }
}
