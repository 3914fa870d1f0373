import Foundation

/// A bounded, ordered hand-over from one producing thread to one consumer: the producer ``put(_:cost:)``s items
/// (blocking while the items waiting cost `capacity`; an item costs 1 unless told), then ``finish(throwing:)``; the consumer ``take()``s them in the order they were put
/// and gets the producer's error after the last item put before it. A consumer that stops early ``cancel()``s: the
/// producer's next (or waiting) ``put(_:cost:)`` throws ``Cancelled``, so it stops at once instead of producing more.
///
/// A REST pull uses it to parse and lay out one page while the next is fetched (see ``RESTRosterSource``).
final class PagePipeline<Item: Sendable>: @unchecked Sendable {
    /// Thrown by ``put(_:cost:)`` once the consumer has cancelled.
    struct Cancelled: Error {}

    private let condition = NSCondition()
    /// Items put, those before `head` taken already (`nil`, so that what was taken is not kept alive here).
    private var items: [Item?] = []
    private var costs: [Int] = []
    /// What the items waiting cost together.
    private var waiting = 0
    private var head = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    /// The most the items waiting for the consumer may cost together.
    let capacity: Int

    /// A pipeline holding items costing at most `capacity` (≥ 1) together between producer and consumer.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Producer: hands `item` over, waiting while it would take what is waiting over `capacity` (an item costing more
    /// than `capacity` waits until nothing is waiting); throws ``Cancelled`` when the consumer has stopped.
    func put(_ item: Item, cost: Int = 1) throws {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && waiting > 0 && waiting + cost > capacity { condition.wait() }
        if cancelled { throw Cancelled() }
        items.append(item)
        costs.append(cost)
        waiting += cost
        condition.broadcast()
    }

    /// Producer: no more items; `error`, when given, is thrown to the consumer after the items already put.
    func finish(throwing error: (any Error)? = nil) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next item in order, waiting for it; `nil` when the producer finished without error, the
    /// producer's error when it failed.
    func take() throws -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !finished { condition.wait() }
        if head < items.count {
            let item = items[head]!
            items[head] = nil
            waiting -= costs[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                costs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.broadcast()
            return item
        }
        if let failure { throw failure }
        return nil
    }

    /// Consumer: stops the producer (its next or waiting ``put(_:cost:)`` throws) and drops what is waiting.
    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        costs.removeAll()
        waiting = 0
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `produce` on a thread of its own, then finishes the pipeline with what it threw (nothing when it returned
    /// or was cancelled). The returned semaphore is signalled when the thread is done.
    func startProducer(name: String, _ produce: @escaping @Sendable (PagePipeline<Item>) throws -> Void) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            do {
                try produce(self)
                finish()
            } catch is Cancelled {
                finish()
            } catch {
                finish(throwing: error)
            }
            done.signal()
        }
        thread.name = name
        // JSON nests up to 512 levels deep (JSONParser's bound): more stack than a secondary thread's default.
        thread.stackSize = 16 << 20
        thread.start()
        return done
    }
}
