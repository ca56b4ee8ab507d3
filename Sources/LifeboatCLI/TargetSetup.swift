import Foundation
import LifeboatCore
import Logging

extension LifeboatConfig {
    /// The configured targets, ready for a backup. Unless the configuration sets `threads`, compression threads
    /// are shared out: tables (and the schema) compress at once, once per distinct setting.
    func backupTargets() throws -> [BackupTarget] {
        let encodings = max(1, Set(targets.map(\.compression).filter { $0 != .none }).count)
        return try targets.map { try backupTarget($0, encodings: encodings) }
    }

    /// A database target loads raw bytes: its `compression:` is ignored.
    func backupTarget(_ target: TargetConfig, encodings: Int) throws -> BackupTarget {
        let cores = min(ProcessInfo.processInfo.activeProcessorCount, 64)
        let sink = try Lifeboat.registry.makeSink(target)
        var compression = sink is any DatabaseTarget ? .none : target.compression
        compression.threads = compression.threads ?? max(1, cores / ((source.jobs + 1) * encodings))
        return BackupTarget(
            sink: sink, compression: compression,
            codec: try Lifeboat.registry.makeCodec(compression), required: target.required,
            bufferBytes: target.bufferBytes)
    }

    /// A safety backup of the database at `url` to the first configured target that can be read and is not in
    /// use (and stores artifacts: a database target would replace its copy), holding that target's write lock,
    /// which the engine releases once the safety backup has ended (the caller, if it never starts).
    func safetyBackup(of url: String, global: GlobalOptions) async throws -> SafetyBackup {
        let logger = global.logger
        var firstError: (any Error)?
        for target in targets {
            do {
                let planned = try backupTarget(target, encodings: 1)
                if planned.sink is any DatabaseTarget { continue }
                _ = try await planned.sink.listBackups()
                let source = try Lifeboat.registry.makeSource(
                    SourceConfig(url: url, jobs: source.jobs, pgBinDir: source.pgBinDir))
                let lock = try global.lock([planned.sink], .write, for: "safety backup")
                return SafetyBackup(source: source, target: planned, environment: environment, lock: lock)
            } catch {
                firstError = firstError ?? error
                logger.warning("target '\(target.name)' cannot take the safety backup: \(error)")
            }
        }
        throw LifeboatError(
            (firstError as? LifeboatError)?.code == .targetInUse ? .targetInUse : .targetUnwritable,
            "no target can take the safety backup (\((firstError as? LifeboatError)?.message ?? "\(firstError!)")); "
                + "nothing was restored")
    }
}
