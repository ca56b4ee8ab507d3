@testable import LifeboatCore
import Testing

@Suite struct ChunkQueueTests {
    @Test func deliversEverythingInOrderToASlowConsumer() async {
        let queue = ChunkQueue(limit: 10)
        let producer = Task {
            for value in 0..<50 { #expect(await queue.push([UInt8](repeating: UInt8(value), count: 4))) }
            await queue.finish()
        }
        var received: [UInt8] = []
        while case .chunk(let chunk) = await queue.next() {
            received.append(chunk[0])
            try? await Task.sleep(for: .milliseconds(1))  // a slow consumer: the producer must wait for it
        }
        await producer.value
        #expect(received == Array(0..<50))
    }

    @Test func aChunkLargerThanTheLimitPassesAnEmptyQueue() async {
        let queue = ChunkQueue(limit: 2)
        #expect(await queue.push([1, 2, 3, 4, 5]))
        await queue.finish()
        guard case .chunk(let chunk) = await queue.next() else { Issue.record("no chunk"); return }
        #expect(chunk == [1, 2, 3, 4, 5])
        guard case .end = await queue.next() else { Issue.record("no end"); return }
    }

    @Test func aStoppedConsumerReleasesAWaitingProducer() async {
        let queue = ChunkQueue(limit: 4)
        #expect(await queue.push([1, 2, 3, 4]))
        let blocked = Task { await queue.push([5]) }  // waits: the queue is full
        await queue.stopConsuming()
        #expect(await blocked.value == false)
        #expect(await queue.push([6]) == false)
    }

    @Test func cancellingReachesTheConsumerBeforeQueuedChunks() async {
        let queue = ChunkQueue(limit: 4)
        #expect(await queue.push([1]))
        await queue.cancel()
        guard case .cancelled = await queue.next() else { Issue.record("not cancelled"); return }
    }
}
