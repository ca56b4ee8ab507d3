import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Drill: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test a restore: restore a backup into a throwaway database, check it, time it, drop it.",
            discussion: """
                The weekly test restore in one command. Verifies every checksum, restores into a new database \
                beside the source database (or on --server), checks every table's row count, and drops the \
                database again. Prints how long the backup, the verification and the restore took against the \
                recovery objectives (objectives:, by default backup 5m, verify 2m, restore 30m), and exits 1 when \
                one was missed.
                """)

        @OptionGroup var global: GlobalOptions

        @Argument(help: "latest (default), a backup id, or a label.")
        var backup: String?

        @Option(help: "Read the backup only from this target.")
        var from: String?

        @Option(help: "A database URL on the server to drill on (default: the source database's server).")
        var server: String?

        func run() async throws {
            try await global.perform(audit: "drill") { config, trail in
                let sinks = try global.sinks(config, from: from)
                trail.sinks = sinks
                let locks = try global.lock(sinks, .read, for: "drill")
                defer { locks.release() }
                let destination = try Lifeboat.registry.makeDestination(
                    try server ?? config.source.requireURL(),
                    options: DestinationOptions(jobs: config.source.jobs, toolDirectory: config.source.pgBinDir, noOwner: false))
                var engine = RestoreEngine(sinks: sinks, destination: destination, registry: Lifeboat.registry, logger: global.logger)
                let display = ProgressDisplay(logger: global.logger)
                defer { display.stop() }
                engine.progress = display.meter
                let report = try await engine.drill(BackupSelector(backup))
                display.stop()  // before the report
                let manifest = report.restore.manifest
                trail.record(manifest)

                let objectives = config.objectives
                let steps: [(String, Double, TimeInterval)] = [
                    ("backup", manifest.durationSeconds, objectives.backup), ("verify", report.verifySeconds, objectives.verify),
                    ("restore", report.restoreSeconds, objectives.restore),
                ]
                print("drill of backup \(manifest.id)\(manifest.label.map { " (\($0))" } ?? ""), taken "
                    + "\(Status.age(Date().timeIntervalSince(manifest.finishedAt))) ago")
                print(TextTable.render(
                    header: ["STEP", "TOOK", "OBJECTIVE", "MET"],
                    rows: steps.map { [$0.0, Self.time($0.1), Self.time($0.2), $0.1 <= $0.2 ? "yes" : "NO"] }),
                    terminator: "")
                let rows = report.restore.tables.reduce(0) { $0 + $1.restored }
                print("\(report.restore.tables.count) tables, \(rows) rows: every count matches the manifest; "
                    + "the throwaway database \(report.scratch) is dropped")
                if let missed = steps.first(where: { $0.1 > $0.2 }) {
                    throw LifeboatError(
                        .restoreFailed,
                        "drill: the \(missed.0) took \(Self.time(missed.1)), over its \(Self.time(missed.2)) objective")
                }
            }
        }

        /// `42.1s`, `5m 3s`, `1h 2m`.
        static func time(_ seconds: Double) -> String {
            if seconds < 60 { return String(format: "%.1fs", seconds) }
            let whole = Int(seconds)
            return whole < 3_600 ? "\(whole / 60)m \(whole % 60)s" : "\(whole / 3_600)h \(whole % 3_600 / 60)m"
        }
    }
}
