import Foundation
import OneRoster

/// Diffs streamed records on a thread of its own, so that reading and validating a bundle (one core) overlaps with
/// loading the held digests and diffing against them (another core).
///
/// The reader hands valid records over in chunks through a bounded queue (a few tens of thousands of records at
/// most, so memory stays flat); the diff thread first loads the held digests, then takes the chunks in order.
final class SyncDiffPipeline: @unchecked Sendable {
    static let chunkSize = 2048
    static let maxChunks = 256

    private let condition = NSCondition()
    private var chunks: [[OneRosterRecord]] = []
    private var closed = false
    private var result: Result<SyncDiff, Error>?
    /// The chunk being filled (reader side only).
    private var chunk: [OneRosterRecord] = []

    /// Starts the diff thread; `load` builds the diff from the held digests, on that thread.
    init(load: @escaping @Sendable () throws -> SyncDiff) {
        chunk.reserveCapacity(Self.chunkSize)
        let thread = Thread { [self] in run(load) }
        thread.name = "rosterflow.sync-diff"
        thread.start()
    }

    /// Queues one record for the diff (reader side).
    func put(_ record: OneRosterRecord) {
        chunk.append(record)
        if chunk.count >= Self.chunkSize { send() }
    }

    /// Waits until every queued record is diffed and returns the diff (reader side). Call it exactly once, also
    /// when reading failed, so that the diff thread ends.
    func finish() throws -> SyncDiff {
        send()
        condition.lock()
        closed = true
        condition.broadcast()
        while result == nil { condition.wait() }
        let result = self.result!
        condition.unlock()
        return try result.get()
    }

    private func send() {
        guard !chunk.isEmpty else { return }
        var full: [OneRosterRecord] = []
        full.reserveCapacity(Self.chunkSize)
        swap(&full, &chunk)
        condition.lock()
        while chunks.count >= Self.maxChunks { condition.wait() }
        chunks.append(full)
        condition.broadcast()
        condition.unlock()
    }

    private func take() -> [OneRosterRecord]? {
        condition.lock()
        defer { condition.unlock() }
        while chunks.isEmpty && !closed { condition.wait() }
        guard !chunks.isEmpty else { return nil }
        let next = chunks.removeFirst()
        condition.broadcast()
        return next
    }

    private func run(_ load: () throws -> SyncDiff) {
        var diff: SyncDiff?
        var failure: Error?
        do { diff = try load() } catch { failure = error }
        // On failure, keep taking chunks so that the reader never waits forever.
        while let records = take() {
            guard diff != nil else { continue }
            for record in records { diff!.observe(record) }
        }
        condition.lock()
        result = diff.map { .success($0) } ?? .failure(failure ?? CancellationError())
        condition.broadcast()
        condition.unlock()
    }
}
