import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into an empty database.",
            discussion: """
                Verifies every artifact first, then loads schema, data, sequences, large objects, and finally \
                indexes, constraints and triggers; then compares every table's row count with the manifest. \
                A failed restore returns the target database to empty. The backup is read from the first target \
                holding it; an artifact missing or corrupt there is read from the next one, and the restore says so.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "latest (default), a backup id, or a label.")
        var backup: String?

        @Option(help: "The database to restore into, e.g. postgresql://user@host/newdb. It must be empty.")
        var into: String

        @Option(help: "Read the backup only from this target.")
        var from: String?

        @Option(help: "Tables loaded at once (default: source.jobs).")
        var jobs: Int?

        @Flag(help: "Do not restore ownership and privileges (for a server without the original roles).")
        var noOwner = false

        func validate() throws {
            if let jobs, !(1...64).contains(jobs) { throw ValidationError("--jobs must be from 1 to 64") }
        }

        func run() async throws {
            try await global.perform {
                let config = try global.loadConfig()
                let destination = try Lifeboat.registry.makeDestination(
                    into,
                    options: DestinationOptions(
                        jobs: jobs ?? config.source.jobs, toolDirectory: config.source.pgBinDir, noOwner: noOwner))
                let started = Date()
                let report = try await RestoreEngine(
                    sinks: try global.sinks(config, from: from), destination: destination, registry: Lifeboat.registry,
                    logger: global.logger
                ).run(BackupSelector(backup))
                let rows = report.tables.map { [$0.table.description, String($0.expected), String($0.restored), "ok"] }
                print(TextTable.render(header: ["TABLE", "EXPECTED", "RESTORED", "STATUS"], rows: rows), terminator: "")
                for fallback in report.fallbacks {
                    print("artifact \(fallback.artifact) was read from target '\(fallback.usedTarget)': "
                        + "missing or corrupt on target '\(fallback.failedTarget)'")
                }
                print(String(format: "restored backup %@ into %@ in %.1fs: %d tables, row counts match",
                    report.manifest.id, destination.location, Date().timeIntervalSince(started), report.tables.count))
            }
        }
    }
}
