import Logging

/// Copies a complete backup from one target to another byte for byte, checking every artifact's SHA-256 on the
/// way; the destination's manifest, written last, records the copy.
public struct CopyEngine: Sendable {
    /// The target read.
    public let from: any Sink
    /// The target written.
    public let to: any Sink
    /// Whether the written target is required in backups, for its record in the manifest.
    public let toRequired: Bool
    /// Progress and diagnostics.
    public let logger: Logger

    /// Creates an engine.
    public init(from: any Sink, to: any Sink, toRequired: Bool, logger: Logger) {
        self.from = from
        self.to = to
        self.toRequired = toRequired
        self.logger = logger
    }

    /// Copies the backup `selector` means.
    /// - Returns: The manifest written to the destination.
    /// - Throws: ``LifeboatError``; a failed copy leaves nothing on the destination.
    public func run(_ selector: BackupSelector, registry: PluginRegistry) async throws -> Manifest {
        let backup = try await Catalog(sinks: [from], logger: logger).resolve(selector)
        let source = backup.copies[0]
        var manifest = backup.manifest
        guard let writer = try await to.beginBackup(id: manifest.id) else {
            throw LifeboatError(
                .targetNotEmpty,
                "target '\(to.name)' already has a backup folder \(manifest.id); verify it, or remove it to copy again")
        }
        do {
            let store = ArtifactStore(manifest: manifest, copies: [source], registry: registry)
            for (artifact, stored) in zip(manifest.artifacts, source.record.artifacts) {
                let output = try await writer.makeArtifactWriter(name: stored.name)
                do {
                    try await store.readStored(artifact) { chunk in try await output.write(chunk) }
                    try await output.commit()
                } catch {
                    await output.abort()
                    throw error
                }
                logger.debug("copied \(stored.name)", metadata: ["bytes": "\(stored.storedBytes)"])
            }
            var record = source.record
            record.name = to.name
            record.location = to.location
            record.required = toRequired
            manifest.targets.removeAll { $0.name == to.name }
            manifest.targets.append(record)
            try await writer.commit(manifest: try manifest.encoded())
            return manifest
        } catch {
            await writer.abort()
            guard !Task.isCancelled else {
                throw LifeboatError(.interrupted, "copy interrupted; nothing of it was kept on target '\(to.name)'")
            }
            throw error
        }
    }
}
