import LifeboatCore

/// Uploads one artifact: one PUT when it fits in a part, else a multipart upload whose parts go up in parallel,
/// with at most `concurrency` parts in flight.
actor S3ArtifactWriter: ArtifactWriter {
    private let sink: S3Sink
    private let key: String
    private var buffer: [UInt8] = []
    private var uploadID: String?
    private var inFlight: [Task<(Int, String), any Error>] = []
    private var parts: [(Int, String)] = []
    private var size = 0

    init(sink: S3Sink, key: String) {
        self.sink = sink
        self.key = key
    }

    private var settings: S3Settings { sink.client.settings }

    /// The size of the next part. S3 allows 10,000 parts, so every 2,000 parts the size doubles: with the default
    /// 8 MiB, an artifact can reach 484 GiB (parts may differ in size; only the last may be under 5 MiB).
    private var partSize: Int { settings.partSize << min(4, (parts.count + inFlight.count) / 2000) }

    func write(_ chunk: [UInt8]) async throws {
        buffer += chunk
        size += chunk.count
        while buffer.count >= partSize {
            let length = partSize
            let part = Array(buffer.prefix(length))
            buffer.removeFirst(length)
            try await upload(part)
        }
    }

    private func upload(_ part: [UInt8]) async throws {
        let client = sink.client
        let key = self.key
        if uploadID == nil { uploadID = try await sink.s3 { try await client.createMultipartUpload(key) } }
        if inFlight.count >= settings.concurrency { try await finishOldest() }
        let number = parts.count + inFlight.count + 1
        guard number <= 10_000 else {
            throw LifeboatError(
                .targetUnwritable, "\(sink.client.describe(key)) needs more than 10,000 parts; raise part_size_mb")
        }
        let id = uploadID!
        inFlight.append(Task { (number, try await client.uploadPart(key, uploadID: id, number: number, part)) })
    }

    private func finishOldest() async throws {
        let task = inFlight.removeFirst()
        do {
            // The part is a task of its own: pass a cancellation on, so that an interrupted run stops retrying.
            parts.append(try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() })
        } catch let error as S3Error {
            throw sink.lifeboatError(error)
        }
    }

    func commit() async throws {
        let client = sink.client
        let key = self.key
        guard let uploadID else {
            let bytes = buffer
            try await sink.s3 { try await client.putObject(key, bytes) }
            return
        }
        if !buffer.isEmpty { try await upload(buffer) }
        buffer = []
        while !inFlight.isEmpty { try await finishOldest() }
        let parts = self.parts
        let size = self.size
        try await sink.s3 { try await client.completeMultipartUpload(key, uploadID: uploadID, parts: parts, size: size) }
    }

    func abort() async {
        inFlight.forEach { $0.cancel() }
        for task in inFlight { _ = try? await task.value }
        inFlight = []
        guard let uploadID else { return }
        let client = sink.client
        let key = self.key
        _ = try? await Task { try await client.abortMultipartUpload(key, uploadID: uploadID) }.value
    }
}

/// Reads one object in ranges of one part size, fetching the next range while the current one is consumed.
final class S3ArtifactReader: ArtifactReader, @unchecked Sendable {
    private let sink: S3Sink
    private let key: String
    private let size: Int
    private var offset = 0
    private var next: Task<[UInt8]?, any Error>?

    init(sink: S3Sink, key: String, size: Int) {
        self.sink = sink
        self.key = key
        self.size = size
    }

    func read() async throws -> [UInt8]? {
        let current = next ?? fetch()
        next = nil
        guard let chunk = try await sink.s3({ try await current.value }) else { return nil }
        if offset < size { next = fetch() }
        return chunk
    }

    private func fetch() -> Task<[UInt8]?, any Error> {
        guard offset < size else { return Task { nil } }
        let range = offset..<min(size, offset + sink.client.settings.partSize)
        offset = range.upperBound
        let client = sink.client
        let key = self.key
        return Task {
            guard let bytes = try await client.getObject(key, range: range), bytes.count == range.count else {
                throw S3Error(status: 200, code: "ShortRead", message: "the object changed while being read",
                              request: "GET \(client.describe(key))")
            }
            return bytes
        }
    }

    func close() async {
        next?.cancel()
        next = nil
    }
}
