import Logging

/// Reads the artifacts of one backup from its copies on one or more targets and proves every byte against the
/// manifest: the SHA-256 of the stored bytes, then, after decoding, the SHA-256 of the raw bytes.
public struct ArtifactStore: Sendable {
    /// The backup being read.
    public let manifest: Manifest
    /// The copies, in preference order.
    public let copies: [BackupCopy]
    /// Supplies decoders for the copies' codecs.
    public let registry: PluginRegistry
    /// Counts what ``read(_:_:)`` streams, for a progress display.
    public var progress: ProgressMeter?
    /// For each artifact (by index in the manifest), the copy it is read from.
    private var chosen: [Int]
    private let indexByName: [String: Int]

    /// Creates a store that reads every artifact from the first copy.
    public init(manifest: Manifest, copies: [BackupCopy], registry: PluginRegistry) {
        precondition(!copies.isEmpty, "a store needs a copy")
        self.manifest = manifest
        self.copies = copies
        self.registry = registry
        self.chosen = Array(repeating: 0, count: manifest.artifacts.count)
        self.indexByName = Dictionary(
            manifest.artifacts.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Streams an artifact's raw (decoded) bytes to `body` in bounded chunks, then checks sizes and checksums.
    ///
    /// The checks complete after the last chunk, so a consumer that must not act on bad bytes verifies first with
    /// ``verifyAll(logger:)`` or holds back its own commit until this returns.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` naming the artifact and target.
    public func read(_ artifact: Artifact, _ body: ([UInt8]) async throws -> Void) async throws {
        let index = index(of: artifact)
        let progress = self.progress
        try await read(index, from: copies[chosen[index]]) { bytes in
            progress?.add(bytes: bytes.count)
            try await body(bytes)
        }
        progress?.finishArtifact()
    }

    /// Streams an artifact's stored (still encoded) bytes to `body`, then checks their size and SHA-256.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` naming the artifact and target.
    public func readStored(_ artifact: Artifact, _ body: ([UInt8]) async throws -> Void) async throws {
        try await readStored(index(of: artifact), from: copies[chosen[index(of: artifact)]], body)
    }

    private func index(of artifact: Artifact) -> Int {
        guard let index = indexByName[artifact.name] else {
            preconditionFailure("artifact \(artifact.name) is not in backup \(manifest.id)")
        }
        return index
    }

    private func read(_ index: Int, from copy: BackupCopy, _ body: ([UInt8]) async throws -> Void) async throws {
        let artifact = manifest.artifacts[index]
        let decoder = try registry.makeDecoder(codec: copy.record.codec)
        var raw = StreamDigest()
        var decodeFailure: (any Error)?
        func deliver(_ bytes: [UInt8]) async throws {
            raw.update(bytes)
            guard raw.byteCount <= artifact.rawBytes else {
                throw mismatch(index, copy, "decodes to more bytes than")
            }
            try await body(bytes)
        }
        try await readStored(index, from: copy) { chunk in
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
                "artifact \(copy.record.artifacts[index].name) of backup \(manifest.id) on target "
                    + "'\(copy.sink.name)' cannot be decoded (\(decodeFailure)); nothing was loaded from it, use "
                    + "another backup or target",
                cause: decodeFailure)
        }
        guard raw.byteCount == artifact.rawBytes, raw.hexDigest() == artifact.rawSha256 else {
            throw mismatch(index, copy, "decodes to bytes whose SHA-256 differs from")
        }
    }

    /// Streams the stored bytes to `body`, then checks their size and SHA-256.
    private func readStored(
        _ index: Int, from copy: BackupCopy, _ body: ([UInt8]) async throws -> Void = { _ in }
    ) async throws {
        let stored = copy.record.artifacts[index]
        let reader = try await unreadable(stored, copy) {
            try await copy.sink.openArtifact(backupID: manifest.id, name: stored.name)
        }
        var digest = StreamDigest()
        do {
            while let chunk = try await unreadable(stored, copy, { try await reader.read() }) {
                try Task.checkCancellation()  // e.g. another artifact checked at the same time was found bad
                digest.update(chunk)
                guard digest.byteCount <= stored.storedBytes else { break }
                try await body(chunk)
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        guard digest.byteCount == stored.storedBytes, digest.hexDigest() == stored.sha256 else {
            throw mismatch(index, copy, "has a SHA-256 or size that differs from")
        }
    }

    /// Runs a sink call, turning an error that is not a ``LifeboatError`` (a plugin's own) into one naming the
    /// artifact and target.
    private func unreadable<T>(_ stored: StoredArtifact, _ copy: BackupCopy, _ call: () async throws -> T)
        async throws -> T
    {
        do {
            return try await call()
        } catch let error where !(error is LifeboatError || error is CancellationError) {
            throw LifeboatError(
                .io,
                "artifact \(stored.name) of backup \(manifest.id) cannot be read from target '\(copy.sink.name)': \(error)",
                cause: error)
        }
    }

    private func mismatch(_ index: Int, _ copy: BackupCopy, _ what: String) -> LifeboatError {
        LifeboatError(
            .checksumMismatch,
            "artifact \(copy.record.artifacts[index].name) of backup \(manifest.id) on target '\(copy.sink.name)' "
                + "is corrupt: it \(what) the manifest; use another backup or target")
    }

    /// Reads every artifact of the first copy, decodes it, and checks both checksums (`lifeboat verify`).
    /// - Returns: The number of stored bytes verified.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` or `artifactMissing` at the first bad artifact.
    @discardableResult
    public func verifyAll(logger: Logger) async throws -> Int {
        var total = 0
        for index in manifest.artifacts.indices {
            try await read(index, from: copies[0]) { _ in }
            total += copies[0].record.artifacts[index].storedBytes
            logger.debug("verified \(manifest.artifacts[index].name)", metadata: ["target": "\(copies[0].sink.name)"])
        }
        return total
    }

    /// Checks the stored bytes of every artifact, taking each from the first copy where it is intact.
    ///
    /// A restore calls this before touching its target; it decodes and checks the raw bytes as it loads them,
    /// before anything commits. Up to `concurrency` artifacts are checked at once, each streamed in bounded chunks.
    /// - Returns: A store that reads each artifact from the copy that passed, and the artifacts that came from
    ///   another copy than the first, in manifest order.
    /// - Throws: The first copy's error for the first artifact found that no copy holds intact (with several, the
    ///   one whose check ends first); the other checks then stop.
    /// - Parameter names: Check only these artifacts (e.g. the tables a restore reads); `nil` checks all.
    public func choosingIntactCopies(of names: Set<String>? = nil, concurrency: Int = 4, logger: Logger) async throws
        -> (ArtifactStore, [ArtifactFallback])
    {
        var store = self
        var pending = manifest.artifacts.indices.filter { names?.contains(manifest.artifacts[$0].name) ?? true }[...]
        var fallbacks: [(index: Int, fallback: ArtifactFallback)] = []
        try await withThrowingTaskGroup(of: (Int, Int, LifeboatError?).self) { group in
            for _ in 0..<max(1, concurrency) {
                guard let index = pending.popFirst() else { break }
                group.addTask { try await intactCopy(of: index, logger: logger) }
            }
            while let (index, position, firstError) = try await group.next() {
                store.chosen[index] = position
                if position != 0 {
                    let fallback = ArtifactFallback(
                        artifact: manifest.artifacts[index].name, failedTarget: copies[0].sink.name,
                        usedTarget: copies[position].sink.name, reason: firstError?.message ?? "")
                    fallbacks.append((index, fallback))
                }
                logger.debug("checked \(manifest.artifacts[index].name)", metadata: ["target": "\(copies[position].sink.name)"])
                if let index = pending.popFirst() {
                    group.addTask { try await intactCopy(of: index, logger: logger) }
                }
            }
        }
        return (store, fallbacks.sorted { $0.index < $1.index }.map(\.fallback))
    }

    /// The position of the first copy that holds artifact `index` intact, and the first copy's error if that was
    /// not the first.
    private func intactCopy(of index: Int, logger: Logger) async throws -> (Int, Int, LifeboatError?) {
        var firstError: LifeboatError?
        for (position, copy) in copies.enumerated() {
            do {
                try await readStored(index, from: copy)
                return (index, position, firstError)
            } catch let error as LifeboatError where error.code != .interrupted && !Task.isCancelled {
                firstError = firstError ?? error
                guard position + 1 < copies.count else {
                    throw copies.count == 1 ? error : LifeboatError(
                        firstError!.code, firstError!.message + "; no other target holds it intact",
                        cause: firstError!.cause)
                }
                logger.warning("\(error.message); reading it from target '\(copies[position + 1].sink.name)'")
            }
        }
        preconditionFailure("a store has at least one copy")
    }
}

/// An artifact a restore read from another target than the preferred one.
public struct ArtifactFallback: Sendable, Equatable {
    /// The artifact's name.
    public var artifact: String
    /// The preferred target, where it was missing or corrupt.
    public var failedTarget: String
    /// The target it was read from.
    public var usedTarget: String
    /// What was wrong on the preferred target.
    public var reason: String
}
