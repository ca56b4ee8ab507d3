import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every artifact of a backup against its SHA-256, on every target that holds it.",
            discussion: """
                Prints one line per target. Exits 0 when every copy is intact, 65 when any artifact is corrupt, \
                66 when an artifact is missing, and another code when a target cannot be read.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "latest (default), a backup id, or a label.")
        var backup: String?

        @Option(help: "Check only the copy on this target.")
        var from: String?

        func run() async throws {
            try await global.perform(audit: "verify") { config, trail in
                let sinks = try global.sinks(config, from: from)
                trail.sinks = sinks
                let locks = try global.lock(sinks, .read, for: "verify")
                defer { locks.release() }
                let selector = BackupSelector(backup)
                let backup: ResolvedBackup?
                let manifest: Manifest
                if let database = sinks.first as? any DatabaseTarget, sinks.count == 1 {
                    (backup, manifest) = (nil, try await database.heldBackup(selector))
                } else {
                    backup = try await Catalog(sinks: sinks, logger: global.logger).resolve(selector)
                    manifest = backup!.manifest
                }
                trail.record(manifest)
                var failures: [LifeboatError] = []
                for sink in sinks {
                    if let database = sink as? any DatabaseTarget {
                        do {
                            let tables = try await database.checkRowCounts(of: manifest)
                            print("target '\(sink.name)': backup \(manifest.id) is held as a live database: "
                                + "\(tables) tables, row counts match")
                        } catch let error as LifeboatError where error.code == .backupNotFound {
                            print("target '\(sink.name)': does not hold backup \(manifest.id)")
                        } catch let error as LifeboatError where error.code != .interrupted {
                            print("target '\(sink.name)': backup \(manifest.id) is DAMAGED: \(error.message)")
                            failures.append(error)
                        }
                    } else if let copy = backup?.copies.first(where: { $0.sink.name == sink.name }) {
                        let store = ArtifactStore(manifest: manifest, copies: [copy], registry: Lifeboat.registry)
                        do {
                            let bytes = try await store.verifyAll(logger: global.logger)
                            print("target '\(sink.name)': backup \(manifest.id) is intact: "
                                + "\(manifest.artifacts.count) artifacts, \(ByteCount.format(bytes)) verified")
                        } catch let error as LifeboatError where error.code != .interrupted {
                            print("target '\(sink.name)': backup \(manifest.id) is DAMAGED: \(error.message)")
                            failures.append(error)
                        }
                    } else if let problem = backup?.problems[sink.name] {
                        print("target '\(sink.name)': cannot be checked: \(problem.message)")
                        failures.append(problem)
                    } else if manifest.targets.contains(where: { $0.name == sink.name && $0.status == .complete }) {
                        // Not an error: retention may have removed it there, or a copy run may not have completed.
                        print("target '\(sink.name)': does not hold backup \(manifest.id), though its run completed it")
                    }
                }
                guard let first = failures.first else { return }
                throw LifeboatError(
                    first.code,
                    failures.count == 1 ? first.message
                        : "\(failures.count) copies of backup \(manifest.id) failed verification; first: \(first.message)")
            }
        }
    }
}
