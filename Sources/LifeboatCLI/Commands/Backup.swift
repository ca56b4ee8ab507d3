import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Backup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a consistent backup of the source database.",
            discussion: "Prints the new backup id (YYYYMMDDHHMMSS, UTC) on stdout; progress goes to stderr.")

        @OptionGroup var global: GlobalOptions

        @Option(help: "A label to find the backup by, e.g. before-migration.")
        var label: String?

        func validate() throws {
            if let label {
                do { try BackupLabel.validate(label) } catch let error as LifeboatError {
                    throw ValidationError(error.message)
                }
            }
        }

        func run() async throws {
            try await global.perform {
                let config = try global.loadConfig()
                guard config.targets.count == 1 else {
                    throw LifeboatError(
                        .configInvalid,
                        "\(config.targets.count) targets are configured, but writing to several targets in one "
                            + "backup is not supported yet; keep one target")
                }
                let target = config.targets[0]
                // Tables (and the schema) compress at once: unless told otherwise, they share the cores.
                var compression = target.compression
                let cores = min(ProcessInfo.processInfo.activeProcessorCount, 64)
                compression.threads = compression.threads ?? max(1, cores / (config.source.jobs + 1))
                let engine = BackupEngine(
                    source: try Lifeboat.registry.makeSource(config.source), sink: try Lifeboat.registry.makeSink(target),
                    codec: try Lifeboat.registry.makeCodec(compression), logger: global.logger)
                let manifest = try await engine.run(label: label)
                global.logger.notice(
                    "backup \(manifest.id) complete",
                    metadata: ["tables": "\(manifest.artifacts.count - 1)", "rows": "\(manifest.totalRows)",
                               "bytes": "\(manifest.storedBytes)", "seconds": "\(manifest.durationSeconds)"])
                print(manifest.id)
            }
        }
    }
}
