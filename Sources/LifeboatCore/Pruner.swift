import Foundation
import Logging

/// Applies each target's retention: decides which of its complete backups go, and deletes them, manifest first,
/// so that a prune stopped at any moment leaves no backup that looks complete but is not.
///
/// A backup whose manifest cannot be read on a target is kept there (with a warning): what cannot be identified is
/// never deleted.
public struct Pruner: Sendable {
    /// One target and its policy.
    public struct Target: Sendable {
        public var sink: any Sink
        public var policy: RetentionPolicy

        /// Creates one.
        public init(sink: any Sink, policy: RetentionPolicy) {
            self.sink = sink
            self.policy = policy
        }
    }

    /// The targets to prune, in configuration order.
    public let targets: [Target]
    /// Where decisions and problems are reported.
    public let logger: Logger

    /// Creates a pruner.
    public init(targets: [Target], logger: Logger) {
        self.targets = targets
        self.logger = logger
    }

    /// Decides, for every target with a policy that prunes, which backups stay and which go. A target that
    /// cannot be listed gets a plan with its ``PrunePlan/problem`` and no verdicts: nothing is deleted there, and
    /// the others are pruned all the same.
    /// - Parameter now: The time ages are measured from.
    public func plan(now: Date = Date()) async -> [PrunePlan] {
        var plans: [PrunePlan] = []
        for target in targets where target.policy.prunes {
            let sink = target.sink
            var backups: [RetainedBackup] = []
            var unreadable: [String] = []
            let ids: [String]
            do {
                ids = try await sink.listBackups()
            } catch {
                let problem = (error as? LifeboatError) ?? LifeboatError(.io, "\(error)", cause: error)
                plans.append(PrunePlan(sink: sink, verdicts: [], problem: problem))
                continue
            }
            for id in ids {
                do {
                    backups.append(RetainedBackup(id: id, label: try await Catalog.manifest(id: id, on: sink).label))
                } catch {
                    unreadable.append(id)
                    logger.warning("target '\(sink.name)': backup \(id) is kept, its manifest cannot be read: \(error)")
                }
            }
            var verdicts = target.policy.select(backups, now: now)
            verdicts += unreadable.map {
                RetentionVerdict(backup: RetainedBackup(id: $0, label: nil), keep: true, reasons: ["manifest unreadable"])
            }
            plans.append(PrunePlan(sink: sink, verdicts: verdicts.sorted { $0.backup.id > $1.backup.id }))
        }
        return plans
    }

    /// Deletes what the plans let go, target by target, oldest backup first.
    /// - Returns: What was deleted, and what could not be.
    public func apply(_ plans: [PrunePlan]) async -> PruneReport {
        var report = PruneReport()
        for plan in plans {
            for verdict in plan.verdicts.reversed() where !verdict.keep {
                guard !Task.isCancelled else {
                    report.interrupted = true
                    return report
                }
                let id = verdict.backup.id
                do {
                    try await plan.sink.deleteBackup(id: id)
                    report.deleted.append((plan.sink.name, id))
                    logger.info("pruned backup \(id) from target '\(plan.sink.name)'")
                } catch {
                    let message = (error as? LifeboatError)?.message ?? "\(error)"
                    report.failures.append((plan.sink.name, id, message))
                    logger.error("target '\(plan.sink.name)': backup \(id) could not be pruned: \(message)")
                }
            }
        }
        return report
    }
}

/// What retention decided for one target.
public struct PrunePlan: Sendable {
    /// The target.
    public var sink: any Sink
    /// One verdict per complete backup on it, newest first.
    public var verdicts: [RetentionVerdict]
    /// Why the target could not be listed (then there are no verdicts, and nothing is deleted there).
    public var problem: LifeboatError?

    /// Creates a plan.
    public init(sink: any Sink, verdicts: [RetentionVerdict], problem: LifeboatError? = nil) {
        self.sink = sink
        self.verdicts = verdicts
        self.problem = problem
    }
}

/// What a prune deleted, and what it could not.
public struct PruneReport: Sendable {
    /// Target name and backup id of each deleted backup.
    public var deleted: [(target: String, id: String)] = []
    /// Target name, backup id and error of each backup that could not be deleted.
    public var failures: [(target: String, id: String, error: String)] = []
    /// Whether the run was interrupted before it was done (what it deleted is gone, the rest stays).
    public var interrupted = false
}
