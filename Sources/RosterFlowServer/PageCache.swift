import Foundation
import Synchronization

/// Answers of read-only routes kept while the store is unchanged.
///
/// An entry is the exact JSON written for one question (route, filters, cursor, limit and the caller's district scope)
/// with the store's commit counter read before the answer was computed. It is served again only while the counter
/// still reads the same, that is, while nobody (this process or another) has committed anything since; the counter
/// is read on every request, so a change is seen by the next request. An answer computed across a commit is stored
/// under the older counter and so is never served. Bounded: when full, it starts again empty.
final class PageCache: Sendable {
    private struct Entry {
        let counter: Int64
        let body: Data
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    init(capacity: Int = 512) {
        self.capacity = capacity
    }

    /// The body kept for `key` at `counter`, or `compute()`'s, kept for the next caller. Without a counter (a store
    /// that cannot tell whether it changed), every call computes.
    func body(for key: String, counter: Int64?, compute: () throws -> Data?) rethrows -> Data? {
        guard let counter else { return try compute() }
        if let entry = entries.withLock({ $0[key] }), entry.counter == counter { return entry.body }
        guard let body = try compute() else { return nil }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(counter: counter, body: body)
        }
        return body
    }
}
