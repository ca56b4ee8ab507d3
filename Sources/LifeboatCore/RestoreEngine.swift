import Logging

/// The outcome of a restore: every table's expected and restored row count.
public struct RestoreReport: Sendable {
    /// One table's counts.
    public struct TableCount: Sendable, Equatable {
        /// The table.
        public var table: TableName
        /// Rows recorded in the manifest.
        public var expected: Int
        /// Rows found in the restored database.
        public var restored: Int
        /// Whether the two agree.
        public var matches: Bool { expected == restored }
    }

    /// The backup restored.
    public var manifest: Manifest
    /// Per-table counts, in manifest order.
    public var tables: [TableCount]
    /// Artifacts read from another target than the first holding the backup, because they were missing or corrupt
    /// there.
    public var fallbacks: [ArtifactFallback]
}

/// Drives a restore: find the backup, verify every artifact (falling back to another target's copy for any that is
/// missing or corrupt), load it into an empty database, check row counts.
public struct RestoreEngine: Sendable {
    /// The targets the backup may be read from, in preference order.
    public let sinks: [any Sink]
    /// The database to restore into.
    public let destination: any RestoreDestination
    /// Supplies decoders for the backup's codecs.
    public let registry: PluginRegistry
    /// Progress and diagnostics.
    public let logger: Logger
    /// Counts the raw bytes and artifacts a restore loads, for a progress display.
    public var progress: ProgressMeter?

    /// Creates an engine.
    public init(sinks: [any Sink], destination: any RestoreDestination, registry: PluginRegistry, logger: Logger) {
        self.sinks = sinks
        self.destination = destination
        self.registry = registry
        self.logger = logger
    }

    /// Restores the backup `selector` means into the (empty) destination.
    /// - Throws: ``LifeboatError``; on a failed load the destination has been returned to empty.
    public func run(_ selector: BackupSelector) async throws -> RestoreReport {
        let backup = try await Catalog(sinks: sinks, logger: logger).resolve(selector)
        try await destination.checkEmpty()
        let (store, fallbacks) = try await verify(backup)
        return try await load(backup.manifest, from: store, into: destination, fallbacks: fallbacks)
    }

    /// Checks the stored bytes of every artifact (or only of those `names` lists), choosing for each an intact copy.
    func verify(_ backup: ResolvedBackup, only names: Set<String>? = nil) async throws
        -> (ArtifactStore, [ArtifactFallback])
    {
        logger.info(
            "verifying backup \(backup.manifest.id) before restoring",
            metadata: ["artifacts": "\(names?.count ?? backup.manifest.artifacts.count)",
                       "targets": "\(backup.copies.map(\.sink.name).joined(separator: ","))"])
        do {
            return try await ArtifactStore(
                manifest: backup.manifest, copies: backup.copies, registry: registry
            ).choosingIntactCopies(of: names, logger: logger)
        } catch where Task.isCancelled {  // whatever a cut-off read reported
            throw LifeboatError(.interrupted, "restore interrupted while verifying; nothing was touched")
        }
    }

    /// Loads a verified backup into an empty database and checks its row counts; on failure, empties it again.
    func load(
        _ manifest: Manifest, from store: ArtifactStore, into destination: any RestoreDestination,
        fallbacks: [ArtifactFallback]
    ) async throws -> RestoreReport {
        logger.info("restoring backup \(manifest.id) into \(destination.location)")
        var store = store
        store.progress = progress
        progress?.start("restore", artifacts: manifest.artifacts.count, expectedBytes: manifest.rawBytes)
        do {
            let counts = try await destination.restore(manifest, from: store, logger: logger)
            return try validate(manifest, counts: counts, fallbacks: fallbacks)
        } catch {
            throw await resetAfterFailure(error, destination)
        }
    }

    /// Compares the row counts a restore reported for the backup's tables with the manifest.
    /// - Throws: ``LifeboatError`` with code `restoreFailed` naming the tables that differ.
    func validate(_ manifest: Manifest, counts: [TableName: Int], fallbacks: [ArtifactFallback]) throws
        -> RestoreReport
    {
        let expected = manifest.artifacts.compactMap { artifact in artifact.table.map { ($0, artifact.rows ?? 0) } }
        let report = RestoreReport(
            manifest: manifest,
            tables: expected.map { table, rows in
                RestoreReport.TableCount(table: table, expected: rows, restored: counts[table] ?? 0)
            },
            fallbacks: fallbacks)
        let mismatched = report.tables.filter { !$0.matches }
        guard mismatched.isEmpty else {
            let list = mismatched.prefix(3).map { "\($0.table): expected \($0.expected), got \($0.restored)" }
            throw LifeboatError(.restoreFailed, "row counts differ from the manifest (\(list.joined(separator: "; ")))")
        }
        return report
    }

    private func resetAfterFailure(_ error: any Error, _ destination: any RestoreDestination) async -> LifeboatError {
        let failure: LifeboatError =
            switch error {
            case _ where Task.isCancelled: LifeboatError(.interrupted, "restore interrupted")
            case let error as LifeboatError: error
            default: LifeboatError(.restoreFailed, "restore failed: \(error)", cause: error)
            }
        do {
            // The reset must run even when the restore was cancelled: a task of its own is not.
            try await Task { try await destination.reset() }.value
            return LifeboatError(
                failure.code, failure.message + "; the target database was returned to empty", cause: failure.cause)
        } catch {
            return LifeboatError(
                failure.code,
                failure.message + "; returning the target database to empty ALSO failed (\(error)): "
                    + "drop and recreate it before using it",
                cause: failure.cause)
        }
    }
}
