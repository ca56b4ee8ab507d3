import Foundation
import Logging

/// Drives a backup: one consistent snapshot of the source, every artifact streamed to the target with its
/// SHA-256, and the manifest committed last.
public struct BackupEngine: Sendable {
    /// The database to back up.
    public let source: any Source
    /// Where the backup goes.
    public let sink: any Sink
    /// Progress and diagnostics.
    public let logger: Logger

    /// Creates an engine.
    public init(source: any Source, sink: any Sink, logger: Logger) {
        self.source = source
        self.sink = sink
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
        let output = ChecksummingWriter(try await backup.makeArtifactWriter(name: plan.name))
        do {
            let rows = try await snapshot.dump(plan) { chunk in try await output.write(chunk) }
            let (bytes, sha256) = try await output.commit()
            logger.debug("stored \(plan.name)", metadata: ["bytes": "\(bytes)", "rows": "\(rows.map(String.init) ?? "-")"])
            return Artifact(plan: plan, rows: rows, codec: "none", rawBytes: bytes, storedBytes: bytes, sha256: sha256)
        } catch {
            await output.abort()
            throw error
        }
    }
}

/// Forwards chunks to an artifact writer while hashing them. Used by one task at a time.
private final class ChecksummingWriter: @unchecked Sendable {
    private let inner: any ArtifactWriter
    private var digest = StreamDigest()

    init(_ inner: any ArtifactWriter) { self.inner = inner }

    func write(_ chunk: [UInt8]) async throws {
        guard !chunk.isEmpty else { return }
        digest.update(chunk)
        try await inner.write(chunk)
    }

    func commit() async throws -> (bytes: Int, sha256: String) {
        try await inner.commit()
        return (digest.byteCount, digest.hexDigest())
    }

    func abort() async { await inner.abort() }
}
