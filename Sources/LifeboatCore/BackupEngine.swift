import Foundation
import Logging

/// Drives a backup: one consistent snapshot of the source, every artifact streamed to the target with its
/// SHA-256, and the manifest committed last.
public struct BackupEngine: Sendable {
    /// The database to back up.
    public let source: any Source
    /// Where the backup goes.
    public let sink: any Sink
    /// How artifacts are encoded on the way; `nil` stores raw bytes.
    public let codec: (any StreamCodec)?
    /// Progress and diagnostics.
    public let logger: Logger

    /// Creates an engine.
    public init(source: any Source, sink: any Sink, codec: (any StreamCodec)?, logger: Logger) {
        self.source = source
        self.sink = sink
        self.codec = codec
        self.logger = logger
    }

    /// Takes a backup.
    /// - Parameter label: An optional label recorded in the manifest.
    /// - Returns: The committed manifest.
    public func run(label: String?) async throws -> Manifest {
        let startedAt = Date()
        let snapshot = try await source.openSnapshot(logger: logger)
        do {
            let (id, writer) = try await reserveID(startingAt: startedAt)
            logger.info(
                "backup \(id) started",
                metadata: ["target": "\(sink.name)", "artifacts": "\(snapshot.plan.count)",
                           "snapshot": "\(snapshot.info.snapshot)"])
            do {
                let artifacts = try await dumpAll(snapshot, to: writer)
                let manifest = Manifest(
                    id: id, label: label, startedAt: startedAt, finishedAt: Date(), source: snapshot.info,
                    artifacts: artifacts)
                try await writer.commit(manifest: try manifest.encoded())
                await snapshot.close()
                return manifest
            } catch {
                await writer.abort()
                throw error
            }
        } catch {
            await snapshot.close()
            // Whatever a step reported (a killed pg_dump, a cancelled read), a cancelled run was interrupted.
            guard !Task.isCancelled else {
                throw LifeboatError(.interrupted, "backup interrupted; nothing of it was kept")
            }
            throw error
        }
    }

    /// Reserves the start time's id, or the next free second when a backup already took it.
    private func reserveID(startingAt date: Date) async throws -> (String, any BackupWriter) {
        var candidate = date
        for _ in 0..<3600 {
            let id = BackupID.make(candidate)
            if let writer = try await sink.beginBackup(id: id) { return (id, writer) }
            candidate += 1
        }
        throw LifeboatError(
            .targetUnwritable, "target '\(sink.name)' has no free backup id in the next hour; check its contents")
    }

    /// Dumps every planned artifact, at most `snapshot.parallelism` at once, largest work first as planned.
    private func dumpAll(_ snapshot: any SourceSnapshot, to writer: any BackupWriter) async throws -> [Artifact] {
        try await withThrowingTaskGroup(of: (Int, Artifact).self) { group in
            var results = [Artifact?](repeating: nil, count: snapshot.plan.count)
            var next = 0
            func startNext() {
                guard next < snapshot.plan.count else { return }
                let index = next
                next += 1
                group.addTask { (index, try await dump(snapshot.plan[index], from: snapshot, to: writer)) }
            }
            for _ in 0..<max(1, snapshot.parallelism) { startNext() }
            while let (index, artifact) = try await group.next() {
                results[index] = artifact
                startNext()
            }
            return results.map { $0! }
        }
    }

    private func dump(_ plan: ArtifactPlan, from snapshot: any SourceSnapshot, to backup: any BackupWriter)
        async throws -> Artifact
    {
        let name = plan.name + (codec?.fileExtension ?? "")
        let pipeline = ArtifactPipeline(
            writer: try await backup.makeArtifactWriter(name: name), encoder: try codec?.makeEncoder())
        do {
            let rows = try await snapshot.dump(plan) { chunk in try await pipeline.write(chunk) }
            let sizes = try await pipeline.commit()
            logger.debug(
                "stored \(name)",
                metadata: ["raw": "\(sizes.raw.byteCount)", "stored": "\(sizes.stored.byteCount)",
                           "rows": "\(rows.map(String.init) ?? "-")"])
            return Artifact(
                plan: plan, name: name, rows: rows, codec: codec?.name ?? "none", level: codec?.level,
                rawBytes: sizes.raw.byteCount, rawSha256: sizes.raw.hexDigest(),
                storedBytes: sizes.stored.byteCount, sha256: sizes.stored.hexDigest())
        } catch {
            await pipeline.abort()
            throw error
        }
    }
}

/// One artifact's way to the sink: hash the raw bytes, encode them, hash the stored bytes, write. Used by one
/// task at a time.
private final class ArtifactPipeline: @unchecked Sendable {
    private let writer: any ArtifactWriter
    private let encoder: (any StreamEncoder)?
    private var raw = StreamDigest()
    private var stored = StreamDigest()

    init(writer: any ArtifactWriter, encoder: (any StreamEncoder)?) {
        self.writer = writer
        self.encoder = encoder
    }

    func write(_ chunk: [UInt8]) async throws {
        guard !chunk.isEmpty else { return }
        raw.update(chunk)
        try await store(encoder == nil ? chunk : try await encoder!.encode(chunk))
    }

    private func store(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        stored.update(bytes)
        try await writer.write(bytes)
    }

    /// Flushes the encoder and commits the artifact.
    func commit() async throws -> (raw: StreamDigest, stored: StreamDigest) {
        if let encoder { try await store(try await encoder.finish()) }
        try await writer.commit()
        return (raw, stored)
    }

    func abort() async { await writer.abort() }
}
