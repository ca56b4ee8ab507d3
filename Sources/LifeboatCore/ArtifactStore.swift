import Logging

/// Reads the artifacts of one backup and proves every byte against the manifest.
public struct ArtifactStore: Sendable {
    /// Where the backup is stored.
    public let sink: any Sink
    /// The backup being read.
    public let manifest: Manifest

    /// Creates a store for `manifest` on `sink`.
    public init(sink: any Sink, manifest: Manifest) {
        self.sink = sink
        self.manifest = manifest
    }

    /// Streams an artifact to `body`, chunk by chunk, then checks its size and SHA-256.
    ///
    /// The check happens after the last chunk, so a consumer that must not act on bad bytes verifies first with
    /// ``verifyAll(logger:)`` or holds back its own commit until this returns.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` naming the artifact.
    public func read(_ artifact: Artifact, _ body: ([UInt8]) async throws -> Void) async throws {
        let reader = try await sink.openArtifact(backupID: manifest.id, name: artifact.name)
        var digest = StreamDigest()
        do {
            while let chunk = try await reader.read() {
                digest.update(chunk)
                guard digest.byteCount <= artifact.storedBytes else { break }
                try await body(chunk)
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        guard digest.byteCount == artifact.storedBytes, digest.hexDigest() == artifact.sha256 else {
            throw LifeboatError(
                .checksumMismatch,
                "artifact \(artifact.name) of backup \(manifest.id) on target '\(sink.name)' is corrupt "
                    + "(SHA-256 or size differs from the manifest); use another backup or target")
        }
    }

    /// Reads every artifact once and checks its checksum.
    /// - Returns: The number of bytes verified.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` or `artifactMissing` at the first bad artifact.
    @discardableResult
    public func verifyAll(logger: Logger) async throws -> Int {
        var total = 0
        for artifact in manifest.artifacts {
            try await read(artifact) { _ in }
            total += artifact.storedBytes
            logger.debug("verified \(artifact.name)", metadata: ["bytes": "\(artifact.storedBytes)"])
        }
        return total
    }
}
