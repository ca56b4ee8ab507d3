import ArgumentParser
import Foundation
import LifeboatCore
import Logging

extension Lifeboat {
    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the backups each target's retention lets go.",
            discussion: """
                Prints every complete backup of every target with a retention policy (retention:, or the \
                environment's default), whether it stays, and the rules that keep it. Each target keeps its newest \
                regular backup whatever the rules. A backup is deleted manifest first, so a prune stopped at any \
                moment leaves no backup that looks complete but is not. Exits 0 when everything due was deleted.
                """)

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Only show what would be deleted.")
        var dryRun = false

        @Option(help: "Prune only this target.")
        var from: String?

        func run() async throws {
            try await global.perform(audit: dryRun ? "prune --dry-run" : "prune") { config, trail in
                let targets = try from.map { [try config.target(named: $0)] } ?? config.targets
                let pruner = Pruner(
                    targets: try targets.map { Pruner.Target(sink: try Lifeboat.registry.makeSink($0), policy: config.retention(of: $0)) },
                    logger: global.logger)
                trail.sinks = pruner.targets.map(\.sink)
                let locks = try global.lock(pruner.targets.map(\.sink), dryRun ? .read : .prune, for: "prune")
                defer { locks.release() }
                try await PruneRun.perform(pruner, dryRun: dryRun, logger: global.logger, trail: trail)
                guard !dryRun else { return }
                let trimmed = try config.auditLog.trim()
                if trimmed > 0 { global.logger.notice("dropped \(trimmed) audit log entries older than audit_retention") }
            }
        }
    }
}

/// Plans and applies a prune, printing the plan; shared by `prune` and `backup --prune`.
enum PruneRun {
    /// - Parameters:
    ///   - printing: Whether the plan goes to stdout (`backup` keeps stdout for the new id).
    ///   - strict: Whether targets that could not be pruned fail the command (`prune`), or are only warned about
    ///     (`backup --prune`, whose outcome is the backup's).
    static func perform(
        _ pruner: Pruner, dryRun: Bool, logger: Logger, trail: AuditTrail, printing: Bool = true, strict: Bool = true
    ) async throws {
        let plans = await pruner.plan()
        var problems = plans.compactMap { plan in plan.problem.map { (plan.sink.name, $0) } }
        for (target, problem) in problems {
            logger.warning("target '\(target)' is not pruned, it cannot be listed: \(problem.message)")
        }
        guard !plans.isEmpty else {
            logger.notice("no target has a retention policy that deletes anything; set retention: on a target")
            return
        }
        let rows = plans.flatMap { plan in
            plan.verdicts.map { verdict in
                [plan.sink.name, verdict.backup.id, verdict.backup.label ?? "-", verdict.keep ? "keep" : (dryRun ? "would delete" : "delete"),
                 verdict.reasons.isEmpty ? "-" : verdict.reasons.joined(separator: ", ")]
            }
        }
        if printing {
            print(TextTable.render(header: ["TARGET", "ID", "LABEL", "ACTION", "KEPT BY"], rows: rows), terminator: "")
        }
        guard !dryRun else { return try finish(problems, strict: strict) }
        let report = await pruner.apply(plans)
        trail.deleted = report.deleted.map { "\($0.target):\($0.id)" }
        for plan in plans where plan.problem == nil {
            let deleted = report.deleted.filter { $0.target == plan.sink.name }.count
            logger.notice("pruned \(deleted) backup\(deleted == 1 ? "" : "s") from target '\(plan.sink.name)'")
        }
        if report.interrupted {
            throw LifeboatError(.interrupted, "prune interrupted; what it deleted is gone, the rest stays complete")
        }
        if let first = report.failures.first {
            let failure = LifeboatError(
                .targetUnwritable,
                "\(report.failures.count) backup\(report.failures.count == 1 ? "" : "s") could not be pruned, the "
                    + "first \(first.id) from target '\(first.target)': \(first.error)")
            if !strict { logger.warning("\(failure.message)") }
            problems.insert((first.target, failure), at: 0)
        }
        try finish(problems, strict: strict)
    }

    /// Throws the first problem when `strict`.
    private static func finish(_ problems: [(String, LifeboatError)], strict: Bool) throws {
        guard strict, let (target, first) = problems.first else { return }
        throw first.message.contains("could not be pruned")
            ? first : LifeboatError(first.code, "target '\(target)' could not be pruned: \(first.message)")
    }
}
