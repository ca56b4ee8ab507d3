import LifeboatCore

/// Holds table loads back until what they need exists (the schema, in a replica's staging database): opened once,
/// or failed once, and every waiter, early or late, gets that outcome.
actor LoadGate {
    private var outcome: Result<Void, LifeboatError>?
    private var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
    private var nextWaiter = 0

    /// Lets every waiter through.
    func open() { settle(.success(())) }

    /// Makes every waiter throw `error`.
    func fail(_ error: LifeboatError) { settle(.failure(error)) }

    /// Returns once the gate is open; throws its failure, or when the task is cancelled.
    func wait() async throws {
        if let outcome { return try outcome.get() }
        let id = nextWaiter
        nextWaiter += 1
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    private func settle(_ result: Result<Void, LifeboatError>) {
        guard outcome == nil else { return }
        outcome = result
        for continuation in waiters.values { continuation.resume(with: result.mapError { $0 as any Error }) }
        waiters.removeAll()
    }
}
