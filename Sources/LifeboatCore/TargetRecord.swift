/// What a manifest records about one target of the run that wrote it.
///
/// The status is the run's view just before it committed the manifests: a target that failed later, while its
/// manifest was being written, holds no manifest and so lists no backup. Where a backup really is complete is
/// what each target's ``Sink/listBackups()`` says.
public struct TargetRecord: Codable, Sendable, Equatable {
    /// The target's outcome.
    public enum Status: String, Codable, Sendable {
        /// Every artifact was stored.
        case complete
        /// The target failed; ``TargetRecord/error`` says why. Its partial writes were removed.
        case failed
    }

    /// The target's name in the configuration.
    public var name: String
    /// Where the target stores backups, e.g. a folder or `s3://bucket/prefix`. Never a secret.
    public var location: String
    /// Whether the run had to succeed on this target.
    public var required: Bool
    /// The outcome.
    public var status: Status
    /// Why the target failed.
    public var error: String?
    /// The codec of the stored bytes; `none` stores the raw bytes.
    public var codec: String
    /// The codec's level, if it has one.
    public var level: Int?
    /// How each artifact is stored here, in the order of ``Manifest/artifacts``; empty when the target failed.
    public var artifacts: [StoredArtifact]

    /// The bytes this target stores for the backup.
    public var storedBytes: Int { artifacts.reduce(0) { $0 + $1.storedBytes } }

    /// Creates a record.
    public init(
        name: String, location: String, required: Bool, status: Status, error: String? = nil, codec: String,
        level: Int?, artifacts: [StoredArtifact]
    ) {
        self.name = name
        self.location = location
        self.required = required
        self.status = status
        self.error = error
        self.codec = codec
        self.level = level
        self.artifacts = artifacts
    }
}

/// How one target stored one artifact.
public struct StoredArtifact: Codable, Sendable, Equatable {
    /// The stored name: the artifact's name plus the codec's suffix, e.g. `data/0001-public-users.copy.zst`.
    public var name: String
    /// Bytes stored.
    public var storedBytes: Int
    /// Lowercase hex SHA-256 of the stored bytes, checked before decoding.
    public var sha256: String

    /// Creates a record.
    public init(name: String, storedBytes: Int, sha256: String) {
        self.name = name
        self.storedBytes = storedBytes
        self.sha256 = sha256
    }
}

extension Manifest {
    /// The record describing the copy of this backup that target `name` holds.
    ///
    /// A target normally finds its own record. A copy moved by hand (e.g. with `aws s3 cp`) or a renamed target does
    /// not; then the copy is taken to be like every complete target's, provided they all stored the same bytes.
    /// - Returns: `nil` when no record fits.
    public func record(forTarget name: String) -> TargetRecord? {
        if let own = targets.first(where: { $0.name == name && $0.status == .complete }) { return own }
        let complete = targets.filter { $0.status == .complete }
        guard let first = complete.first, complete.allSatisfy({ $0.artifacts == first.artifacts }) else { return nil }
        return first
    }

    /// The stored bytes of the copy on the first complete target (what `list` shows).
    public var storedBytes: Int {
        targets.first { $0.status == .complete }?.storedBytes ?? 0
    }

    /// Throws unless every complete target records every artifact.
    func checkConsistency(_ place: String) throws {
        for target in targets where target.status == .complete && target.artifacts.count != artifacts.count {
            throw LifeboatError(
                .checksumMismatch,
                "\(place) records \(target.artifacts.count) stored artifacts for target '\(target.name)' but "
                    + "\(artifacts.count) artifacts; the backup is damaged, use another one")
        }
        guard targets.contains(where: { $0.status == .complete }) else {
            throw LifeboatError(
                .checksumMismatch, "\(place) records no complete target; the backup is damaged, use another one")
        }
    }
}
