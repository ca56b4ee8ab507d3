import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a consistent backup of the source database, to every configured target in one pass.",
            discussion: """
                Prints the new backup id (YYYYMMDDHHMMSS, UTC) on stdout; progress goes to stderr. Exits 0 when \
                the backup is complete on every target, 3 when it is complete on every required target but an \
                optional one failed, and another code when it failed (then no target keeps any of it).
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "A label to find the backup by, e.g. before-migration.")
        var label: String?

        @Flag(help: "Afterwards, delete the backups each target's retention lets go (see prune).")
        var prune = false

        /// Prunes every target after a backup, if no restore is reading one (then it warns and leaves pruning to
        /// the next run): a failed prune never changes the backup's outcome.
        private func pruneAfter(_ config: LifeboatConfig, _ targets: [BackupTarget], trail: AuditTrail) async throws {
            let locks: TargetLocks
            do {
                locks = try global.lock(targets.map(\.sink), .prune, for: "prune")
            } catch let error as LifeboatError where error.code == .targetInUse {
                global.logger.warning("not pruned this time: \(error.message)")
                return
            }
            defer { locks.release() }
            let pruner = Pruner(
                targets: zip(config.targets, targets).map { Pruner.Target(sink: $1.sink, policy: config.retention(of: $0)) },
                logger: global.logger)
            try await PruneRun.perform(
                pruner, dryRun: false, logger: global.logger, trail: trail, printing: false, strict: false)
        }

        func validate() throws {
            if let label {
                do { try BackupLabel.validate(label) } catch let error as LifeboatError {
                    throw ValidationError(error.message)
                }
            }
        }

        func run() async throws {
            try await global.perform(audit: "backup") { config, trail in
                let targets = try config.backupTargets()
                trail.sinks = targets.map(\.sink)
                let locks = try global.lock(targets.map(\.sink), .write, for: "backup")
                defer { locks.release() }
                let space = SpaceCheck(
                    targets: zip(config.targets, targets).map {
                        SpaceCheck.Target(sink: $1.sink, minFreePercent: $0.minFreePercent, required: $0.required)
                    })
                let findings = await space.before()
                for warning in findings.warnings { global.logger.warning("\(warning)") }
                if let refusal = findings.refusals.first { throw LifeboatError(.targetUnwritable, refusal) }
                var engine = BackupEngine(
                    source: try Lifeboat.registry.makeSource(config.source), targets: targets,
                    logger: global.logger, environment: config.environment)
                let display = ProgressDisplay(logger: global.logger)
                defer { display.stop() }
                engine.progress = display.meter
                let outcome = try await engine.run(label: label)
                display.stop()  // before the id and the notices that follow
                let manifest = outcome.manifest
                trail.record(manifest)
                global.logger.notice(
                    "backup \(manifest.id) complete",
                    metadata: ["tables": "\(manifest.artifacts.count - 1)", "rows": "\(manifest.totalRows)",
                               "bytes": "\(manifest.storedBytes)", "seconds": "\(manifest.durationSeconds)",
                               "targets": "\(manifest.targets.filter { $0.status == .complete }.map(\.name).joined(separator: ","))"])
                print(manifest.id)
                locks.release()
                if prune { try await pruneAfter(config, targets, trail: trail) }
                for warning in await space.after() { global.logger.warning("\(warning)") }
                guard outcome.failures.isEmpty else {
                    for failure in outcome.failures {
                        let line = failure.error.split(whereSeparator: \.isNewline).joined(separator: " ")
                        let warning = "lifeboat: warning: backup \(manifest.id) is complete on the required targets, "
                            + "but optional target '\(failure.target)' failed: \(line)\n"
                        FileHandle.standardError.write(Data(warning.utf8))
                    }
                    throw ExitCode(ExitCodes.incomplete)
                }
            }
        }
    }
}
