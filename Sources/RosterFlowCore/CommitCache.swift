import Synchronization

/// Answers computed from the store, kept while nothing has been committed since.
///
/// Each entry remembers the store's commit counter (``RosterFlowService/commitCounter()``) read *before* its answer was
/// computed, and is handed out again only while the counter still reads the same, that is, while nobody (this
/// process or another) has committed anything since. The counter is read on every lookup, so a change is seen by the
/// next request; an answer computed across a commit is kept under the older counter and so is never handed out.
/// Bounded: when full, it starts again empty.
public final class CommitCache<Value: Sendable>: Sendable {
    private struct Entry {
        let counter: Int64
        let value: Value
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    /// A cache of at most `capacity` answers.
    public init(capacity: Int = 512) {
        self.capacity = capacity
    }

    /// The answer kept for `key` at `counter`, if any. Without a counter (a store that cannot tell whether it
    /// changed), nothing is ever kept.
    public func value(for key: String, at counter: Int64?) -> Value? {
        guard let counter else { return nil }
        return entries.withLock { entries in
            guard let entry = entries[key], entry.counter == counter else { return nil }
            return entry.value
        }
    }

    /// Keeps `value` for `key`, computed after the counter read `counter`.
    public func keep(_ value: Value, for key: String, at counter: Int64?) {
        guard let counter else { return }
        entries.withLock { entries in
            if entries.count >= capacity, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(counter: counter, value: value)
        }
    }

    /// The answer kept for `key` at `counter`, or `compute()`'s, kept for the next caller (a nil answer is not kept).
    public func value(for key: String, at counter: Int64?, compute: () throws -> Value?) rethrows -> Value? {
        if let kept = value(for: key, at: counter) { return kept }
        guard let value = try compute() else { return nil }
        keep(value, for: key, at: counter)
        return value
    }
}
