@testable import LifeboatCore
import Testing

@Suite struct ChunkQueueTests {
    @Test func deliversEverythingInOrderToASlowConsumer() async throws {
        let queue = ChunkQueue(limit: 10)
        let producer = Task {
            for value in 0..<50 {
                let accepted = try await queue.push([UInt8](repeating: UInt8(value), count: 4))
                #expect(accepted)
            }
            await queue.finish()
        }
        defer { producer.cancel() }
        var received: [UInt8] = []
        while case .chunk(let chunk) = await queue.next() {
            received.append(chunk[0])
            try? await Task.sleep(for: .milliseconds(1))  // a slow consumer: the producer must wait for it
        }
        try await producer.value
        #expect(received == Array(0..<50))
    }

    @Test func aChunkLargerThanTheLimitPassesAnEmptyQueue() async throws {
        let queue = ChunkQueue(limit: 2)
        #expect(try await queue.push([1, 2, 3, 4, 5]))
        await queue.finish()
        guard case .chunk(let chunk) = await queue.next() else { Issue.record("no chunk"); return }
        #expect(chunk == [1, 2, 3, 4, 5])
        guard case .end = await queue.next() else { Issue.record("no end"); return }
    }

    @Test func aStoppedConsumerReleasesAWaitingProducer() async throws {
        let queue = ChunkQueue(limit: 4)
        #expect(try await queue.push([1, 2, 3, 4]))
        let blocked = Task { try await queue.push([5]) }  // waits: the queue is full
        await queue.stopConsuming()
        #expect(try await blocked.value == false)
        #expect(try await queue.push([6]) == false)
    }

    @Test func cancellingReachesTheConsumerBeforeQueuedChunks() async throws {
        let queue = ChunkQueue(limit: 4)
        #expect(try await queue.push([1]))
        await queue.cancel()
        guard case .cancelled = await queue.next() else { Issue.record("not cancelled"); return }
    }

    @Test func aCancelledTaskStopsWaitingOnEitherSide() async throws {
        let queue = ChunkQueue(limit: 4)
        #expect(try await queue.push([1, 2, 3, 4]))
        let producer = Task { try await queue.push([5]) }  // waits: the queue is full
        try await Task.sleep(for: .milliseconds(20))
        producer.cancel()
        await #expect(throws: CancellationError.self) { try await producer.value }

        let empty = ChunkQueue(limit: 4)
        let consumer = Task { await empty.next() }  // waits: nothing queued
        try await Task.sleep(for: .milliseconds(20))
        consumer.cancel()
        guard case .cancelled = await consumer.value else { Issue.record("not cancelled"); return }
    }
}
