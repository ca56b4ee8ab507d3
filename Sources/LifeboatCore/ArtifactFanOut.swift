/// One artifact's way from the source to every target still in the run.
///
/// The raw bytes are hashed once, encoded once per distinct encoding, hashed again, and queued to each target of
/// that encoding; each target's consumer writes from its own bounded queue, so targets write concurrently and a
/// slow one slows the source only when its queue is full. Used by one producer task at a time.
final class ArtifactFanOut: @unchecked Sendable {
    /// One target's share of the artifact.
    final class Stream: Sendable {
        let run: TargetRun
        let writer: any ArtifactWriter
        let queue: ChunkQueue

        init(run: TargetRun, writer: any ArtifactWriter) {
            self.run = run
            self.writer = writer
            self.queue = ChunkQueue(limit: run.target.bufferBytes)
        }

        /// Writes what the queue delivers, then commits; on any failure records it on the run and aborts.
        /// - Returns: Whether the artifact was committed.
        func consume() async -> Bool {
            do {
                while true {
                    switch await queue.next() {
                    case .chunk(let chunk): try await writer.write(chunk)
                    case .end:
                        try await writer.commit()
                        return true
                    case .cancelled:
                        await writer.abort()
                        return false
                    }
                }
            } catch {
                await run.fail(error)  // before the producer can see the queue stop
                await queue.stopConsuming()
                await writer.abort()
                return false
            }
        }
    }

    /// The targets sharing one encoding.
    private final class Encoding {
        let codec: (any StreamCodec)?
        let encoder: (any StreamEncoder)?
        var stored = StreamDigest()
        var streams: [Stream]

        init(codec: (any StreamCodec)?, streams: [Stream]) throws {
            self.codec = codec
            self.encoder = try codec?.makeEncoder()
            self.streams = streams
        }
    }

    let plan: ArtifactPlan
    private var raw = StreamDigest()
    private let encodings: [Encoding]

    /// Every target stream, for the caller to run ``Stream/consume()`` on each concurrently.
    let streams: [Stream]

    /// Opens the artifact on every target still in the run.
    /// - Throws: A required target's failure to open it, or a codec's failure to start.
    init(plan: ArtifactPlan, source: SourceInfo, runs: [TargetRun]) async throws {
        self.plan = plan
        var encodings: [Encoding] = []
        var settings: [CompressionConfig] = []
        var opened: [Stream] = []
        do {
            for run in runs where await run.failure == nil {
                let name = plan.name + (run.target.codec?.fileExtension ?? "")
                let writer: any ArtifactWriter
                do {
                    writer = try await run.writer.makeArtifactWriter(name: name, for: plan, of: source)
                } catch {
                    await run.fail(error)
                    try await Self.requireHealthy(run)
                    continue
                }
                let stream = Stream(run: run, writer: writer)
                opened.append(stream)
                if let index = settings.firstIndex(of: run.target.compression) {
                    encodings[index].streams.append(stream)
                } else {
                    settings.append(run.target.compression)
                    encodings.append(try Encoding(codec: run.target.codec, streams: [stream]))
                }
            }
        } catch {
            for stream in opened { await stream.writer.abort() }
            throw error
        }
        guard !opened.isEmpty else {
            var failures: [LifeboatError] = []
            for run in runs { if let failure = await run.failure { failures.append(failure) } }
            throw LifeboatError(
                failures.first?.code ?? .backupFailed,
                "every target failed: " + failures.map(\.message).joined(separator: "; "))
        }
        self.encodings = encodings
        self.streams = opened
    }

    /// Hashes, encodes and queues one chunk of raw bytes.
    /// - Throws: A required target's failure, including its codec's.
    func write(_ chunk: [UInt8]) async throws {
        guard !chunk.isEmpty else { return }
        raw.update(chunk)
        for encoding in encodings where !encoding.streams.isEmpty {
            guard let encoder = encoding.encoder else {
                try await queue(chunk, in: encoding)
                continue
            }
            if let bytes = try await encode(in: encoding, { try await encoder.encode(chunk) }) {
                try await queue(bytes, in: encoding)
            }
        }
    }

    /// Flushes the encoders and ends every target's queue.
    func flush() async throws {
        for encoding in encodings where !encoding.streams.isEmpty {
            if let encoder = encoding.encoder, let tail = try await encode(in: encoding, { try await encoder.finish() }) {
                try await queue(tail, in: encoding)
            }
            for stream in encoding.streams { await stream.queue.finish() }
        }
    }

    /// Runs an encoder step; when the codec fails, its targets fail with it.
    /// - Returns: The encoded bytes, or `nil` when the codec failed and served only optional targets.
    private func encode(in encoding: Encoding, _ step: () async throws -> [UInt8]) async throws -> [UInt8]? {
        do {
            return try await step()
        } catch let error where !(error is CancellationError) {
            for stream in encoding.streams { await stream.run.fail(error) }
            for stream in encoding.streams { try await Self.requireHealthy(stream.run) }
            for stream in encoding.streams { await stream.queue.cancel() }
            encoding.streams = []
            return nil
        }
    }

    /// Describes what each target stored, once every stream's ``Stream/consume()`` has returned.
    /// - Parameters:
    ///   - rows: The rows the source dumped, for table data.
    ///   - committed: The streams whose `consume()` returned `true`.
    /// - Returns: The artifact, and the stored artifact on each target that committed it, by target name.
    /// - Throws: The failure of a required target that did not commit it.
    func result(rows: Int?, committed: Set<ObjectIdentifier>) async throws -> (Artifact, [String: StoredArtifact]) {
        var stored: [String: StoredArtifact] = [:]
        for encoding in encodings {
            for stream in encoding.streams {
                guard committed.contains(ObjectIdentifier(stream)) else {
                    try await Self.requireHealthy(stream.run)
                    continue
                }
                stored[stream.run.name] = StoredArtifact(
                    name: plan.name + (encoding.codec?.fileExtension ?? ""), storedBytes: encoding.stored.byteCount,
                    sha256: encoding.stored.hexDigest())
            }
        }
        return (Artifact(plan: plan, rows: rows, rawBytes: raw.byteCount, rawSha256: raw.hexDigest()), stored)
    }

    /// Abandons the artifact on every target: their writers discard what they received.
    func cancel() async {
        for stream in streams { await stream.queue.cancel() }
    }

    private func queue(_ bytes: [UInt8], in encoding: Encoding) async throws {
        guard !bytes.isEmpty else { return }
        encoding.stored.update(bytes)
        var index = 0
        while index < encoding.streams.count {
            let stream = encoding.streams[index]
            if await stream.run.failure == nil, try await stream.queue.push(bytes) {
                index += 1
                continue
            }
            // The target failed, here or in another artifact: a required one ends the run, an optional one is
            // left behind (its consumer discards what it has).
            try await Self.requireHealthy(stream.run)
            await stream.queue.cancel()
            encoding.streams.remove(at: index)
        }
    }

    /// Throws the run's failure when it is a required target that failed.
    private static func requireHealthy(_ run: TargetRun) async throws {
        if run.target.required, let failure = await run.failure { throw failure }
    }
}
