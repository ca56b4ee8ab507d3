import Foundation

/// A dedicated OS thread for blocking work, such as calls into libpq, libcurl or libzstd.
///
/// Blocking calls must never run on Swift's cooperative thread pool. A `BlockingWorker` owns one thread and runs
/// submitted closures on it one at a time, in order; `run(_:)` suspends the caller until the closure finishes.
/// Because every call lands on the same thread, a worker also confines a C handle that is not thread-safe.
/// The thread ends when the worker is released.
public final class BlockingWorker: Sendable {
    private let queue = JobQueue()

    /// Starts a worker thread.
    /// - Parameter name: The thread's name, shown by debuggers and `top -H`.
    public init(name: String) {
        let queue = self.queue
        let thread = Thread {
            while let job = queue.next() { job() }
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { queue.close() }

    /// Runs `body` on the worker's thread and returns its result.
    ///
    /// - Throws: `CancellationError` if the task is cancelled before the work starts, or what `body` throws.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { continuation in
            queue.submit { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Runs `body` on the worker's thread even when the task is cancelled: for cleanup (closing a handle, aborting
    /// a write, reaping a child) that must happen whatever else went wrong.
    public func runCleanup<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.submit { continuation.resume(returning: body()) }
        }
    }
}

/// The FIFO of closures a worker thread drains.
private final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var closed = false

    /// Queues a job. The queue closes only when its worker is released, so a caller holding the worker always
    /// finds it open.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        precondition(!closed, "a worker thread was used after it stopped")
        jobs.append(job)
        condition.signal()
    }

    /// The next job, waiting for one; `nil` once the queue is closed and drained.
    func next() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed { condition.wait() }
        guard head < jobs.count else { return nil }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        }
        return job
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
