/// A place that stores backups: a local folder, a bucket, a custom plugin.
///
/// A sink is a `Sendable` value holding configuration; the writers and readers it makes own the resources.
/// The contract every sink honours:
/// - A backup becomes visible to ``listBackups()`` only when ``BackupWriter/commit(manifest:)`` returns, and the
///   manifest is the last thing written. A crash at any moment leaves no backup that claims to be complete.
/// - An artifact is durable when ``ArtifactWriter/commit()`` returns, and invisible before.
/// - Reading returns exactly the bytes written; checksums are the engine's job.
///
/// `docs/plugins.md` describes the whole contract, when each call is made, and how to prove a sink keeps it.
public protocol Sink: Sendable {
    /// The target's name from the configuration, e.g. `primary`.
    var name: String { get }

    /// Where the sink stores backups, for messages. Never contains a secret.
    var location: String { get }

    /// Starts a new backup.
    /// - Parameter id: The backup id to reserve.
    /// - Returns: A writer for the backup, or `nil` when `id` is already taken on this sink.
    /// - Throws: ``LifeboatError`` with code `targetUnwritable` when the sink cannot be written.
    func beginBackup(id: String) async throws -> (any BackupWriter)?

    /// The ids of the complete backups on this sink, in no particular order.
    func listBackups() async throws -> [String]

    /// The committed manifest of a backup.
    /// - Throws: ``LifeboatError`` with code `backupNotFound` when there is none.
    func readManifest(backupID: String) async throws -> [UInt8]

    /// Opens a stored artifact for reading.
    /// - Throws: ``LifeboatError`` with code `artifactMissing` when it is absent.
    func openArtifact(backupID: String, name: String) async throws -> any ArtifactReader

    /// Removes a complete backup (pruning): the manifest first, so that a crash half-way leaves nothing that claims
    /// to be complete, then its artifacts.
    /// - Throws: ``LifeboatError`` with code `backupNotFound` when the sink has no complete backup `id`.
    func deleteBackup(id: String) async throws

    /// Keeps a copy of one audit log line (``AuditEntry/line()``) on the target, beside the backups, so that the
    /// trail survives the machine that ran Lifeboat. Optional: the default keeps none. A failure is reported as a
    /// warning and never fails the operation.
    func recordAudit(_ line: [UInt8]) async throws

    /// The space left where the target stores backups, for targets on a disk; `nil` (the default) when the
    /// target has no such limit or cannot tell.
    func diskSpace() async throws -> DiskSpace?
}

/// Free and total bytes of the file system a target writes to.
public struct DiskSpace: Sendable, Equatable {
    /// Bytes Lifeboat may still write.
    public var available: Int
    /// The file system's size.
    public var total: Int

    /// Creates a reading.
    public init(available: Int, total: Int) {
        self.available = available
        self.total = total
    }

    /// `available` as a percentage of `total`.
    public var freePercent: Double { total > 0 ? Double(available) * 100 / Double(total) : 100 }
}

extension Sink {
    /// Keeps no audit trail on the target.
    public func recordAudit(_ line: [UInt8]) async throws {}

    /// Reports no disk space: the target has no such limit, or cannot tell.
    public func diskSpace() async throws -> DiskSpace? { nil }
}

extension BackupWriter {
    /// Nothing to report.
    public func warnings() async -> [String] { [] }

    /// Stores the artifact under its name; what it holds does not matter.
    public func makeArtifactWriter(name: String, for artifact: ArtifactPlan, of source: SourceInfo) async throws
        -> any ArtifactWriter
    {
        try await makeArtifactWriter(name: name)
    }
}

/// Writes the artifacts of one backup, then commits its manifest.
public protocol BackupWriter: Sendable {
    /// Creates a writer for one artifact of this backup. Writers of different artifacts may run concurrently.
    /// - Parameter name: A relative path made by ``ArtifactName``; never user input.
    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter

    /// Creates a writer for one artifact of a backup being taken, knowing what the artifact holds and where it
    /// comes from. A backup calls this one; ``makeArtifactWriter(name:)`` serves copies of stored backups. Targets
    /// that load artifacts rather than store them (a database replica) need `artifact` and `source`; the default
    /// calls ``makeArtifactWriter(name:)``.
    func makeArtifactWriter(name: String, for artifact: ArtifactPlan, of source: SourceInfo) async throws
        -> any ArtifactWriter

    /// Makes the backup complete by writing its manifest last, atomically and durably.
    func commit(manifest: [UInt8]) async throws

    /// What the operator should hear about that did not fail the backup, one line each (e.g. sessions ended to
    /// put a replica in place, leftovers of killed runs cleaned up). The engine logs them as warnings once the
    /// backup has committed or been aborted. Optional: the default has none.
    func warnings() async -> [String]

    /// Removes what this backup wrote, also after ``commit(manifest:)`` (a run aborts a target it had already
    /// committed when a required target fails): the manifest first, so that a crash half-way leaves nothing that
    /// claims to be complete. Best effort: never throws, and a crash must be harmless without it.
    func abort() async
}

/// Receives the bytes of one artifact, in order.
public protocol ArtifactWriter: AnyObject, Sendable {
    /// Appends bytes to the artifact.
    func write(_ chunk: [UInt8]) async throws

    /// Makes the artifact durable and visible under its name.
    func commit() async throws

    /// Discards the artifact. Best effort, never throws.
    func abort() async
}

/// Returns the bytes of one stored artifact, in order.
public protocol ArtifactReader: AnyObject, Sendable {
    /// The next chunk of bytes, or `nil` at the end.
    func read() async throws -> [UInt8]?

    /// Releases the reader's resources.
    func close() async
}
