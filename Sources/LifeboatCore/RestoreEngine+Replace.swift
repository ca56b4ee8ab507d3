import Foundation
import Logging

/// A backup of the database a restore is about to replace, taken first so that the restore can be undone.
public struct SafetyBackup: Sendable {
    /// Every safety backup's label starts with this.
    public static let labelPrefix = "restore_safety_"

    /// Reads the database about to be replaced.
    public var source: any Source
    /// Where the safety backup goes.
    public var target: BackupTarget
    /// The environment its manifest records.
    public var environment: String?
    /// The lock that keeps other runs from writing to the target meanwhile, released as soon as the safety backup
    /// has ended: the restore that follows only reads, beside any backup.
    public var lock: TargetLocks?

    /// Creates a safety backup plan.
    public init(source: any Source, target: BackupTarget, environment: String? = nil, lock: TargetLocks? = nil) {
        self.source = source
        self.target = target
        self.environment = environment
        self.lock = lock
    }

    /// The label of the safety backup with id `id`: `restore_safety_<id>`, the id being its UTC start time.
    public static func label(id: String) -> String { labelPrefix + id }
}

/// What a restore over a live database did.
public struct ReplaceReport: Sendable {
    /// The restore and its row counts.
    public var restore: RestoreReport
    /// The id of the safety backup taken first, if one was taken.
    public var safetyBackupID: String?
    /// Other sessions ended to replace the database.
    public var terminatedSessions: Int
    /// Things left behind that need a hand (also logged as warnings).
    public var warnings: [String]
}

extension RestoreEngine {
    /// Replaces everything in the destination database with a backup.
    ///
    /// Nothing is touched until every artifact has been verified, no other session is connected (unless `force`),
    /// and the safety backup is complete. The backup is then restored into a staging database beside the
    /// destination; only when that is complete and its row counts match is it swapped in, in one transaction.
    /// A failure before the swap leaves the destination exactly as it was.
    public func replace(_ selector: BackupSelector, safety: SafetyBackup?, force: Bool) async throws -> ReplaceReport {
        let destination = try replaceable()
        let backup = try await Catalog(sinks: sinks, logger: logger).resolve(selector)
        let (store, fallbacks) = try await verify(backup)
        var terminated = try await endSessions(of: destination, force: force)
        let safetyID = try await takeSafetyBackup(safety)
        let staging = try await destination.makeStaging(logger: logger)
        let report: RestoreReport
        let swap: SwapOutcome
        do {
            logger.info("restoring backup \(backup.manifest.id) into staging database \(staging.location)")
            let counts = try await staging.restore(backup.manifest, from: store, logger: logger)
            report = try validate(backup.manifest, counts: counts, fallbacks: fallbacks)
            logger.info("swapping the restored database in for \(destination.location)")
            swap = try await destination.swap(in: staging, terminatingSessions: force)
        } catch {
            await staging.discard()
            throw untouched(error, destination)
        }
        terminated += swap.terminatedSessions
        if let warning = swap.warning { logger.warning("\(warning)") }
        return ReplaceReport(
            restore: report, safetyBackupID: safetyID, terminatedSessions: terminated, warnings: swap.warning.map { [$0] } ?? [])
    }

    /// Restores the rows of some tables into the destination, which already has their schema: the tables are
    /// truncated and loaded in one transaction, then their sequences are set.
    /// - Parameters:
    ///   - tables: Tables to restore, as `schema.name`.
    ///   - schemas: Schemas whose tables are all restored.
    public func restoreTables(
        _ selector: BackupSelector, tables: Set<TableName>, schemas: Set<String>, safety: SafetyBackup?
    ) async throws -> ReplaceReport {
        let destination = try replaceable()
        let backup = try await Catalog(sinks: sinks, logger: logger).resolve(selector)
        let selected = backup.manifest.artifacts.filter { artifact in
            artifact.table.map { tables.contains($0) || schemas.contains($0.schema) } ?? false
        }
        let found = Set(selected.compactMap(\.table))
        if let missing = tables.subtracting(found).sorted().first {
            throw LifeboatError(
                .configInvalid, "backup \(backup.manifest.id) has no table \(missing); run 'lifeboat list' and check the name")
        }
        if let missing = schemas.subtracting(found.map(\.schema)).sorted().first {
            throw LifeboatError(.configInvalid, "backup \(backup.manifest.id) has no table in schema \(missing)")
        }
        // Only what this restore reads: the selected tables, and the schema archive (for their sequences).
        let needed = Set(selected.map(\.name) + backup.manifest.artifacts.filter { $0.kind == .schema }.map(\.name))
        let (store, fallbacks) = try await verify(backup, only: needed)
        let safetyID = try await takeSafetyBackup(safety)
        logger.info("restoring \(selected.count) tables of backup \(backup.manifest.id) into \(destination.location)")
        let loaded: [TableName: Int]
        do {
            loaded = try await destination.restoreTables(selected, of: backup.manifest, from: store, logger: logger)
        } catch where Task.isCancelled {
            throw LifeboatError(.interrupted, "restore interrupted (the tables' rows were either all replaced or not at all)")
        }
        let counts = selected.compactMap { artifact in
            artifact.table.map { RestoreReport.TableCount(table: $0, expected: artifact.rows ?? 0, restored: loaded[$0] ?? 0) }
        }
        return ReplaceReport(
            restore: RestoreReport(manifest: backup.manifest, tables: counts, fallbacks: fallbacks),
            safetyBackupID: safetyID, terminatedSessions: 0, warnings: [])
    }

    private func replaceable() throws -> any ReplaceableDestination {
        guard let destination = destination as? any ReplaceableDestination else {
            throw LifeboatError(.configInvalid, "\(destination.location) cannot be replaced in place; restore into an empty database")
        }
        return destination
    }

    /// Fails when other sessions use the database, or with `force` ends them (before the safety backup, so that it
    /// holds their last writes).
    private func endSessions(of destination: any ReplaceableDestination, force: Bool) async throws -> Int {
        let sessions = try await destination.otherSessions()
        guard !sessions.isEmpty else { return 0 }
        guard force else {
            throw LifeboatError(
                .targetInUse,
                "\(sessions.count) other session\(sessions.count == 1 ? " is" : "s are") connected to "
                    + "\(destination.location) (\(sessions.prefix(3).joined(separator: "; "))); stop them, or pass "
                    + "--force to terminate them")
        }
        let ended = try await destination.terminateOtherSessions()
        logger.notice("terminated \(ended) other session\(ended == 1 ? "" : "s") of \(destination.location)")
        return ended
    }

    private func takeSafetyBackup(_ safety: SafetyBackup?) async throws -> String? {
        guard let safety else { return nil }
        defer { safety.lock?.release() }
        logger.notice("taking a safety backup to target '\(safety.target.sink.name)'")
        do {
            let outcome = try await BackupEngine(
                source: safety.source, targets: [safety.target], logger: logger, environment: safety.environment)
                .run(labelFor: SafetyBackup.label(id:))
            logger.notice("safety backup \(outcome.manifest.id) complete", metadata: ["label": "\(outcome.manifest.label ?? "")"])
            return outcome.manifest.id
        } catch let error as LifeboatError {
            throw LifeboatError(
                error.code, "the safety backup failed, so nothing was restored: \(error.message)", cause: error.cause)
        }
    }

    private func untouched(_ error: any Error, _ destination: any ReplaceableDestination) -> LifeboatError {
        let failure: LifeboatError =
            switch error {
            case _ where Task.isCancelled: LifeboatError(.interrupted, "restore interrupted")
            case let error as LifeboatError: error
            default: LifeboatError(.restoreFailed, "restore failed: \(error)", cause: error)
            }
        return LifeboatError(
            failure.code, failure.message + "; \(destination.location) was left as it was", cause: failure.cause)
    }
}
