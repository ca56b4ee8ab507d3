import Foundation
import LifeboatCore
import Testing

@Suite struct BlockingWorkerTests {
    @Test func runsEveryJobOnOneDedicatedThread() async throws {
        let worker = BlockingWorker(name: "test-worker")
        var threads: Set<UInt> = []
        var callers: Set<UInt> = []
        for _ in 0..<50 {
            callers.insert(currentThread())
            threads.insert(try await worker.run { currentThread() })
        }
        #expect(threads.count == 1)
        #expect(callers.isDisjoint(with: threads), "work must never run on the caller's (cooperative) thread")
    }

    @Test func separateWorkersHaveSeparateThreads() async throws {
        let first = BlockingWorker(name: "first"), second = BlockingWorker(name: "second")
        let a = try await first.run { currentThread() }
        let b = try await second.run { currentThread() }
        #expect(a != b)
    }

    @Test func propagatesErrors() async {
        let worker = BlockingWorker(name: "test-errors")
        await #expect(throws: LifeboatError.self) {
            try await worker.run { throw LifeboatError(.io, "boom") }
        }
    }

    @Test func refusesWorkWhenCancelled() async {
        let worker = BlockingWorker(name: "test-cancel")
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await worker.run { 1 }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}

/// The calling OS thread's id.
private func currentThread() -> UInt { UInt(pthread_self()) }
