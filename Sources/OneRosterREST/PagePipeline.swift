import Foundation

/// A bounded, ordered hand-over from one producing thread to one consumer: the producer ``put(_:)``s items (blocking
/// while `capacity` are waiting), then ``finish(throwing:)``; the consumer ``take()``s them in the order they were put
/// and gets the producer's error after the last item put before it. A consumer that stops early ``cancel()``s: the
/// producer's next (or waiting) ``put(_:)`` throws ``Cancelled``, so it stops at once instead of producing more.
///
/// A REST pull uses it to parse and lay out one page while the next is fetched (see ``RESTRosterSource``).
final class PagePipeline<Item: Sendable>: @unchecked Sendable {
    /// Thrown by ``put(_:)`` once the consumer has cancelled.
    struct Cancelled: Error {}

    private let condition = NSCondition()
    private var items: [Item] = []
    private var head = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    /// The most items waiting for the consumer at once.
    let capacity: Int

    /// A pipeline holding at most `capacity` (≥ 1) items between producer and consumer.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Producer: hands `item` over, waiting while `capacity` items are waiting; throws ``Cancelled`` when the
    /// consumer has stopped.
    func put(_ item: Item) throws {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && items.count - head >= capacity { condition.wait() }
        if cancelled { throw Cancelled() }
        items.append(item)
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
            let item = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.broadcast()
            return item
        }
        if let failure { throw failure }
        return nil
    }

    /// Consumer: stops the producer (its next or waiting ``put(_:)`` throws) and drops what is waiting.
    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
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
