/// A bounded queue of byte chunks from one producer to one consumer.
///
/// The producer waits while the queue holds `limit` bytes or more, so a slow consumer slows the producer down
/// instead of making memory grow. A chunk larger than the limit still passes when the queue is empty. Both sides
/// stop waiting when their task is cancelled.
actor ChunkQueue {
    /// What the consumer gets next.
    enum Next {
        case chunk([UInt8])
        /// The producer finished: every chunk was delivered.
        case end
        /// The producer gave up: discard what was received.
        case cancelled
    }

    private let limit: Int
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var bytes = 0
    private var finished = false
    private var cancelled = false
    private var consumerGone = false
    private var waitingProducer: CheckedContinuation<Void, Never>?
    private var waitingConsumer: CheckedContinuation<Void, Never>?

    init(limit: Int) { self.limit = max(1, limit) }

    /// Queues a chunk, waiting while the queue is full.
    /// - Returns: `false` when the consumer has stopped and the chunk was dropped.
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    func push(_ chunk: [UInt8]) async throws -> Bool {
        while !consumerGone && bytes > 0 && bytes + chunk.count > limit {
            await wait(.producer)
            try Task.checkCancellation()
        }
        guard !consumerGone else { return false }
        chunks.append(chunk)
        bytes += chunk.count
        wake(&waitingConsumer)
        return true
    }

    /// Ends the stream after the queued chunks.
    func finish() {
        finished = true
        wake(&waitingConsumer)
    }

    /// Abandons the stream; the consumer sees ``Next/cancelled`` next.
    func cancel() {
        cancelled = true
        wake(&waitingConsumer)
    }

    /// The next chunk, waiting for one; ``Next/cancelled`` also when the task is cancelled.
    func next() async -> Next {
        while head == chunks.count && !finished && !cancelled && !Task.isCancelled {
            await wait(.consumer)
        }
        if cancelled || Task.isCancelled { return .cancelled }
        guard head < chunks.count else { return .end }
        let chunk = chunks[head]
        chunks[head] = []
        head += 1
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        }
        bytes -= chunk.count
        wake(&waitingProducer)
        return .chunk(chunk)
    }

    /// The consumer stops: queued and later chunks are dropped and the producer never waits again.
    func stopConsuming() {
        consumerGone = true
        chunks = []
        head = 0
        bytes = 0
        wake(&waitingProducer)
    }

    private enum Side: Sendable { case producer, consumer }

    /// Suspends `side` until the other side wakes it, or until the task is cancelled.
    private func wait(_ side: Side) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // A cancellation that came first finds no continuation to resume: check here, on the actor.
                guard !Task.isCancelled else { return continuation.resume() }
                switch side {
                case .producer: waitingProducer = continuation
                case .consumer: waitingConsumer = continuation
                }
            }
        } onCancel: {
            Task { await self.wakeCancelled(side) }
        }
    }

    private func wakeCancelled(_ side: Side) {
        switch side {
        case .producer: wake(&waitingProducer)
        case .consumer: wake(&waitingConsumer)
        }
    }

    private func wake(_ waiter: inout CheckedContinuation<Void, Never>?) {
        waiter?.resume()
        waiter = nil
    }
}
