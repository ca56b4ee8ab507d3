import Logging

/// A database that can be backed up: opens consistent snapshots and streams them as artifacts.
public protocol Source: Sendable {
    /// Opens one consistent snapshot of the whole database. Every artifact dumped from it shows the same instant.
    func openSnapshot(logger: Logger) async throws -> any SourceSnapshot

    /// Checks, without taking a backup, that one can be taken: the database answers, the role may read all of it,
    /// and the dump tools suit the server.
    /// - Returns: One line per check passed, for people.
    /// - Throws: ``LifeboatError`` for the first check that fails, saying what to do.
    func preflight() async throws -> [String]
}

/// One consistent view of a source, with the artifacts that make up a full backup of it.
public protocol SourceSnapshot: Sendable {
    /// What the manifest records about the source.
    var info: SourceInfo { get }

    /// Every artifact of the backup, in restore order.
    var plan: [ArtifactPlan] { get }

    /// How many artifacts may be dumped at once.
    var parallelism: Int { get }

    /// Streams one artifact's bytes to `output`, chunk by chunk, never holding the whole artifact in memory.
    /// - Returns: The number of rows dumped, for table data; `nil` otherwise.
    func dump(_ artifact: ArtifactPlan, to output: @escaping @Sendable ([UInt8]) async throws -> Void)
        async throws -> Int?

    /// Ends the snapshot and releases its connections.
    func close() async
}

/// A database that a backup can be restored into.
public protocol RestoreDestination: Sendable {
    /// Where the restore goes, for messages. Never contains a secret.
    var location: String { get }

    /// Throws ``LifeboatError`` with code `targetNotEmpty` unless the database holds no user objects.
    func checkEmpty() async throws

    /// Loads a verified backup: schema, data, then indexes, constraints and triggers.
    /// - Parameters:
    ///   - manifest: The backup to restore.
    ///   - artifacts: Opens the backup's artifacts, verifying each checksum as it streams.
    ///   - logger: Progress goes here.
    /// - Returns: The rows each of the backup's tables holds (without rows of child tables), counted in the
    ///   database once the rows are in, and before anything that could hide rows from the restoring role (row
    ///   security policies) exists.
    func restore(_ manifest: Manifest, from artifacts: ArtifactStore, logger: Logger) async throws -> [TableName: Int]

    /// Returns the database to empty after a failed restore.
    func reset() async throws
}
