import Logging

/// Reads the artifacts of one backup and proves every byte against the manifest: the SHA-256 of the stored bytes,
/// then, after decoding, the SHA-256 of the raw bytes.
public struct ArtifactStore: Sendable {
    /// Where the backup is stored.
    public let sink: any Sink
    /// The backup being read.
    public let manifest: Manifest
    /// Supplies decoders for the manifest's codecs.
    public let registry: PluginRegistry

    /// Creates a store for `manifest` on `sink`.
    public init(sink: any Sink, manifest: Manifest, registry: PluginRegistry) {
        self.sink = sink
        self.manifest = manifest
        self.registry = registry
    }

    /// Streams an artifact's raw (decoded) bytes to `body` in bounded chunks, then checks sizes and checksums.
    ///
    /// The checks complete after the last chunk, so a consumer that must not act on bad bytes verifies first with
    /// ``verifyAll(logger:)`` or holds back its own commit until this returns.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` naming the artifact.
    public func read(_ artifact: Artifact, _ body: ([UInt8]) async throws -> Void) async throws {
        let decoder = try registry.makeDecoder(codec: artifact.codec)
        var raw = StreamDigest()
        var decodeFailure: (any Error)?
        func deliver(_ bytes: [UInt8]) async throws {
            raw.update(bytes)
            guard raw.byteCount <= artifact.rawBytes else { throw mismatch(artifact, "decodes to more bytes than") }
            try await body(bytes)
        }
        try await readStored(artifact) { chunk in
            guard decodeFailure == nil else { return }  // keep hashing: a flipped bit is the likelier cause
            do {
                if let decoder { try await decoder.decode(chunk, into: deliver) } else { try await deliver(chunk) }
            } catch let error as CodecError {
                decodeFailure = error
            }
        }
        if decodeFailure == nil, let decoder {
            do { try await decoder.finish() } catch { decodeFailure = error }
        }
        if let decodeFailure {
            throw LifeboatError(
                .checksumMismatch,
                "artifact \(artifact.name) of backup \(manifest.id) on target '\(sink.name)' cannot be decoded "
                    + "(\(decodeFailure)); nothing was loaded from it, use another backup",
                cause: decodeFailure)
        }
        guard raw.byteCount == artifact.rawBytes, raw.hexDigest() == artifact.rawSha256 else {
            throw mismatch(artifact, "decodes to bytes whose SHA-256 differs from")
        }
    }

    /// Streams the stored bytes to `body`, then checks their size and SHA-256.
    private func readStored(_ artifact: Artifact, _ body: ([UInt8]) async throws -> Void = { _ in }) async throws {
        let reader = try await sink.openArtifact(backupID: manifest.id, name: artifact.name)
        var stored = StreamDigest()
        do {
            while let chunk = try await reader.read() {
                stored.update(chunk)
                guard stored.byteCount <= artifact.storedBytes else { break }
                try await body(chunk)
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        guard stored.byteCount == artifact.storedBytes, stored.hexDigest() == artifact.sha256 else {
            throw mismatch(artifact, "has a SHA-256 or size that differs from")
        }
    }

    private func mismatch(_ artifact: Artifact, _ what: String) -> LifeboatError {
        LifeboatError(
            .checksumMismatch,
            "artifact \(artifact.name) of backup \(manifest.id) on target '\(sink.name)' is corrupt: it \(what) "
                + "the manifest; use another backup or target")
    }

    /// Reads every artifact once and checks it against the manifest.
    /// - Parameters:
    ///   - decoding: Also decode and check the raw SHA-256 (`lifeboat verify`). A restore checks only the stored
    ///     bytes up front, because it decodes and checks the raw bytes as it loads them, before anything commits.
    /// - Returns: The number of stored bytes verified.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` or `artifactMissing` at the first bad artifact.
    @discardableResult
    public func verifyAll(decoding: Bool = true, logger: Logger) async throws -> Int {
        var total = 0
        for artifact in manifest.artifacts {
            if decoding {
                try await read(artifact) { _ in }
            } else {
                try await readStored(artifact)
            }
            total += artifact.storedBytes
            logger.debug("verified \(artifact.name)", metadata: ["bytes": "\(artifact.storedBytes)"])
        }
        return total
    }
}
