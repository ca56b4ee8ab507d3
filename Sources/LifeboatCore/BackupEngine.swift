import Foundation
import Logging

/// Drives a backup: one consistent snapshot of the source, read once and fanned out to every target, each
/// artifact with its SHA-256, and the manifest committed last to every target that stored everything.
public struct BackupEngine: Sendable {
    /// The database to back up.
    public let source: any Source
    /// Where the backup goes, in configuration order.
    public let targets: [BackupTarget]
    /// Progress and diagnostics.
    public let logger: Logger
    /// The environment recorded in the manifest, e.g. `production`.
    public let environment: String?
    /// Counts the raw bytes and artifacts as they stream, for a progress display.
    public var progress: ProgressMeter?

    /// Creates an engine.
    public init(source: any Source, targets: [BackupTarget], logger: Logger, environment: String? = nil) {
        precondition(!targets.isEmpty, "a backup needs a target")
        self.source = source
        self.targets = targets
        self.logger = logger
        self.environment = environment
    }

    /// Takes a backup.
    /// - Parameter label: An optional label recorded in the manifest.
    /// - Returns: The committed manifest and the optional targets that failed.
    /// - Throws: ``LifeboatError`` when a required target (or every target) failed; then no target keeps any of
    ///   the backup.
    public func run(label: String?) async throws -> BackupOutcome {
        try await run(labelFor: { _ in label })
    }

    /// Takes a backup whose label is made from its id, e.g. `restore_safety_<id>`.
    public func run(labelFor makeLabel: (String) -> String?) async throws -> BackupOutcome {
        try checkDistinctLocations()
        let startedAt = Date()
        let snapshot = try await source.openSnapshot(logger: logger)
        var snapshotOpen = true
        do {
            let (id, runs, failedAtStart) = try await reserveID(startingAt: startedAt)
            progress?.start("backup", artifacts: snapshot.plan.count, expectedBytes: snapshot.info.sizeBytes)
            logger.info(
                "backup \(id) started",
                metadata: ["targets": "\(runs.map(\.name).joined(separator: ","))",
                           "artifacts": "\(snapshot.plan.count)", "snapshot": "\(snapshot.info.snapshot)"])
            do {
                let dumped = try await dumpAll(snapshot, to: runs)
                // Everything is read: end the source's transaction now, not after the commits (a replica's load
                // of indexes can take long, and an open snapshot holds back the source's vacuum and DDL).
                await snapshot.close()
                snapshotOpen = false
                var records = failedAtStart
                for run in runs { records.append(await record(of: run, dumped)) }
                let manifest = Manifest(
                    id: id, label: makeLabel(id), environment: environment, startedAt: startedAt, finishedAt: Date(), source: snapshot.info,
                    artifacts: dumped.map(\.0), targets: order(records))
                let committed = try await commit(manifest, to: runs)
                return BackupOutcome(manifest: committed, failures: Self.failures(in: committed.targets))
            } catch {
                await withTaskGroup(of: Void.self) { group in
                    for run in runs { group.addTask { await run.writer.abort() } }
                }
                await logWarnings(of: runs)
                guard let error = error as? LifeboatError, !Task.isCancelled, runs.count > 1 else { throw error }
                throw LifeboatError(
                    error.code, error.message + "; nothing of backup \(id) was kept on any target", cause: error.cause)
            }
        } catch {
            if snapshotOpen { await snapshot.close() }
            // Whatever a step reported (a killed pg_dump, a cancelled read), a cancelled run was interrupted.
            guard !Task.isCancelled else {
                throw LifeboatError(.interrupted, "backup interrupted; nothing of it was kept on any target")
            }
            throw error
        }
    }

    /// Two targets in one place would each find the other's backup folder taken.
    private func checkDistinctLocations() throws {
        for (index, target) in targets.enumerated() {
            if let twin = targets[..<index].first(where: { $0.sink.location == target.sink.location }) {
                throw LifeboatError(
                    .configInvalid,
                    "targets '\(twin.sink.name)' and '\(target.sink.name)' both store backups in "
                        + "\(target.sink.location); give each target a place of its own")
            }
        }
    }

    /// Reserves the same id on every target: the start time's, or the next second free everywhere.
    /// - Returns: The id, a run per target that began, and records of optional targets that could not begin.
    private func reserveID(startingAt date: Date) async throws -> (String, [TargetRun], [TargetRecord]) {
        var failed: [TargetRecord] = []
        var candidate = date
        for _ in 0..<3600 {
            let id = BackupID.make(candidate)
            var runs: [TargetRun] = []
            var taken = false
            for target in targets where !failed.contains(where: { $0.name == target.sink.name }) {
                do {
                    guard let writer = try await target.sink.beginBackup(id: id) else {
                        taken = true
                        break
                    }
                    runs.append(TargetRun(target: target, writer: writer))
                } catch {
                    let failure = TargetRun.describe(error, target: target.sink.name)
                    guard !target.required else {
                        for run in runs { await run.writer.abort() }
                        await logWarnings(of: runs)
                        throw failure
                    }
                    logger.warning("optional target '\(target.sink.name)' left out: \(failure.message)")
                    failed.append(Self.record(of: target, status: .failed, error: failure.message, artifacts: []))
                }
            }
            if !taken {
                guard !runs.isEmpty else { throw Self.everyTargetFailed(Self.failures(in: failed)) }
                return (id, runs, failed)
            }
            for run in runs { await run.writer.abort() }
            await logWarnings(of: runs)
            candidate += 1
        }
        throw LifeboatError(
            .targetUnwritable, "the targets have no backup id free on all of them in the next hour; check them")
    }

    /// Dumps every planned artifact, at most `snapshot.parallelism` at once, largest work first as planned.
    private func dumpAll(_ snapshot: any SourceSnapshot, to runs: [TargetRun]) async throws
        -> [(Artifact, [String: StoredArtifact])]
    {
        try await withThrowingTaskGroup(of: (Int, (Artifact, [String: StoredArtifact])).self) { group in
            var results = [(Artifact, [String: StoredArtifact])?](repeating: nil, count: snapshot.plan.count)
            var next = 0
            func startNext() {
                guard next < snapshot.plan.count else { return }
                let index = next
                next += 1
                group.addTask { (index, try await dump(snapshot.plan[index], from: snapshot, to: runs)) }
            }
            for _ in 0..<max(1, snapshot.parallelism) { startNext() }
            while let (index, result) = try await group.next() {
                results[index] = result
                startNext()
            }
            return results.map { $0! }
        }
    }

    /// Dumps one artifact to every target still in the run; each target writes from its own queue.
    private func dump(_ plan: ArtifactPlan, from snapshot: any SourceSnapshot, to runs: [TargetRun]) async throws
        -> (Artifact, [String: StoredArtifact])
    {
        let fanOut = try await ArtifactFanOut(plan: plan, source: snapshot.info, runs: runs)
        return try await withThrowingTaskGroup(of: (ObjectIdentifier, Bool).self) { group in
            for stream in fanOut.streams { group.addTask { (ObjectIdentifier(stream), await stream.consume()) } }
            do {
                let progress = self.progress
                let rows = try await snapshot.dump(plan) { chunk in
                    progress?.add(bytes: chunk.count)
                    try await fanOut.write(chunk)
                }
                try await fanOut.flush()
                var committed: Set<ObjectIdentifier> = []
                for try await (stream, ok) in group where ok { committed.insert(stream) }
                let result = try await fanOut.result(rows: rows, committed: committed)
                progress?.finishArtifact()
                logger.debug(
                    "stored \(plan.name)",
                    metadata: ["raw": "\(result.0.rawBytes)", "rows": "\(rows.map(String.init) ?? "-")",
                               "targets": "\(result.1.keys.sorted().joined(separator: ","))"])
                return result
            } catch {
                await fanOut.cancel()
                throw error
            }
        }
    }

    /// Logs what the targets' writers had to say (see ``BackupWriter/warnings()``).
    private func logWarnings(of runs: [TargetRun]) async {
        for run in runs {
            for warning in await run.writer.warnings() { logger.warning("target '\(run.name)': \(warning)") }
        }
    }

    /// What the manifest records about a run's target.
    private func record(of run: TargetRun, _ dumped: [(Artifact, [String: StoredArtifact])]) async -> TargetRecord {
        let stored = dumped.compactMap { $0.1[run.name] }
        if let failure = await run.failure {
            logger.warning("optional target '\(run.name)' failed: \(failure.message)")
            return Self.record(of: run.target, status: .failed, error: failure.message, artifacts: [])
        }
        guard stored.count == dumped.count else {  // cannot happen: a target that missed an artifact has failed
            return Self.record(of: run.target, status: .failed, error: "artifacts are missing", artifacts: [])
        }
        return Self.record(of: run.target, status: .complete, error: nil, artifacts: stored)
    }

    private static func record(
        of target: BackupTarget, status: TargetRecord.Status, error: String?, artifacts: [StoredArtifact]
    ) -> TargetRecord {
        TargetRecord(
            name: target.sink.name, location: target.sink.location, required: target.required, status: status,
            error: error, codec: target.codec?.name ?? "none", level: target.codec?.level, artifacts: artifacts)
    }

    /// Records in configuration order.
    private func order(_ records: [TargetRecord]) -> [TargetRecord] {
        targets.compactMap { target in records.first { $0.name == target.sink.name } }
    }

    /// Commits the manifest to every complete target: the optional ones first, then the required ones with a
    /// manifest that records which optional commits failed. A required target's manifest is thus accurate, and a
    /// failure there leaves (after the caller's abort) no target holding the backup. Required database targets
    /// commit after the other required targets: putting a new copy in place cannot be undone, so it waits until
    /// the backup is kept everywhere else.
    /// - Returns: The manifest as committed to the required targets.
    /// - Throws: When a required target's commit failed, or no target holds the backup.
    private func commit(_ manifest: Manifest, to runs: [TargetRun]) async throws -> Manifest {
        var manifest = manifest
        let complete = Set(manifest.targets.filter { $0.status == .complete }.map(\.name))
        let required = runs.filter { $0.target.required && complete.contains($0.name) }
        let optional = runs.filter { !$0.target.required && complete.contains($0.name) }
        for failure in await Self.commitAll(try manifest.encoded(), to: optional) {
            logger.warning("optional target '\(failure.run.name)' failed: \(failure.error.message)")
            await failure.run.writer.abort()
            if let index = manifest.targets.firstIndex(where: { $0.name == failure.run.name }) {
                manifest.targets[index].status = .failed
                manifest.targets[index].error = failure.error.message
                manifest.targets[index].artifacts = []
            }
        }
        guard manifest.targets.contains(where: { $0.status == .complete }) else {
            throw Self.everyTargetFailed(Self.failures(in: manifest.targets))
        }
        let bytes = try manifest.encoded()
        let databases = required.filter { $0.target.sink is any DatabaseTarget }
        for group in [required.filter { !($0.target.sink is any DatabaseTarget) }, databases] {
            if let failure = await Self.commitAll(bytes, to: group).first { throw failure.error }
        }
        for run in runs where !complete.contains(run.name) { await run.writer.abort() }
        await logWarnings(of: runs)
        return manifest
    }

    /// Commits concurrently; returns the failures.
    private static func commitAll(_ bytes: [UInt8], to runs: [TargetRun]) async
        -> [(run: TargetRun, error: LifeboatError)]
    {
        await withTaskGroup(of: (TargetRun, LifeboatError?).self) { group in
            for run in runs {
                group.addTask {
                    do {
                        try await run.writer.commit(manifest: bytes)
                        return (run, nil)
                    } catch {
                        return (run, TargetRun.describe(error, target: run.name))
                    }
                }
            }
            var failures: [(run: TargetRun, error: LifeboatError)] = []
            for await (run, error) in group { if let error { failures.append((run, error)) } }
            return failures
        }
    }

    private static func failures(in records: [TargetRecord]) -> [TargetFailure] {
        records.filter { $0.status == .failed }.map { TargetFailure(target: $0.name, error: $0.error ?? "failed") }
    }

    private static func everyTargetFailed(_ failures: [TargetFailure]) -> LifeboatError {
        LifeboatError(.targetUnwritable, "every target failed: " + failures.map(\.error).joined(separator: "; "))
    }
}

/// What a backup run produced.
public struct BackupOutcome: Sendable {
    /// The manifest as committed to the required targets (optional ones that failed to commit are recorded as
    /// failed in it).
    public var manifest: Manifest
    /// The optional targets that failed, in configuration order; the backup is complete on the others.
    public var failures: [TargetFailure]
}

/// An optional target that failed during a backup.
public struct TargetFailure: Sendable, Equatable {
    /// The target's name.
    public var target: String
    /// Why, in one line.
    public var error: String
}
