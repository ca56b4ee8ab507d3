import Foundation

/// The state of one target for monitoring: its newest regular backup, how old it is, and what failed since.
public struct TargetStatus: Sendable, Equatable {
    /// The target's name.
    public var target: String
    /// How many complete backups it holds; `nil` when it cannot be read.
    public var backups: Int?
    /// Its newest backup that is not a restore safety backup.
    public var latest: Latest?
    /// Why the target cannot be read, if it cannot.
    public var problem: String?
    /// The newest backup run that failed on this target after its newest backup, if any.
    public var failure: Failure?

    /// A target's newest backup.
    public struct Latest: Sendable, Equatable {
        public var id: String
        public var label: String?
        /// When the backup finished.
        public var finishedAt: Date
        public var durationSeconds: Double
        /// The bytes this target stores for it.
        public var storedBytes: Int
    }

    /// A backup run that failed on the target.
    public struct Failure: Sendable, Equatable {
        public var time: Date
        public var error: String
    }

    /// Whether the target has a backup younger than `maxAge` at `now`, and can be read.
    public func isHealthy(maxAge: TimeInterval, now: Date) -> Bool {
        guard problem == nil, let latest else { return false }
        return now.timeIntervalSince(latest.finishedAt) <= maxAge
    }

    /// Reads the status of each target; the audit log tells which backup runs failed since.
    public static func read(sinks: [any Sink], audit: [AuditEntry]) async -> [TargetStatus] {
        var statuses: [TargetStatus] = []
        for sink in sinks {
            var status = TargetStatus(target: sink.name)
            do {
                let ids = try await sink.listBackups().sorted(by: >)
                status.backups = ids.count
                for id in ids {
                    let manifest = try await Catalog.manifest(id: id, on: sink)
                    guard manifest.label?.hasPrefix(SafetyBackup.labelPrefix) != true else { continue }
                    status.latest = Latest(
                        id: id, label: manifest.label, finishedAt: manifest.finishedAt,
                        durationSeconds: manifest.durationSeconds,
                        storedBytes: manifest.record(forTarget: sink.name)?.storedBytes ?? 0)
                    break
                }
            } catch {
                status.problem = (error as? LifeboatError)?.message ?? "\(error)"
            }
            let since = status.latest?.finishedAt ?? .distantPast
            if let failed = audit.last(where: {
                $0.operation == "backup" && $0.status == "failed" && $0.targets.contains(sink.name) && $0.time > since
            }) {
                status.failure = Failure(time: failed.time, error: failed.error ?? "failed")
            }
            statuses.append(status)
        }
        return statuses
    }

    private init(target: String) {
        self.target = target
    }

    /// The status of a target that cannot even be set up (e.g. missing credentials).
    public static func unreadable(target: String, problem: String) -> TargetStatus {
        var status = TargetStatus(target: target)
        status.problem = problem
        return status
    }

    /// The statuses as a Prometheus text file (for node_exporter's textfile collector).
    public static func metrics(_ statuses: [TargetStatus], now: Date) -> String {
        func family(_ name: String, _ help: String, _ value: (TargetStatus) -> Double?) -> String {
            let samples = statuses.compactMap { status in
                value(status).map { "lifeboat_\(name){target=\"\(escape(status.target))\"} \(format($0))\n" }
            }
            return "# HELP lifeboat_\(name) \(help)\n# TYPE lifeboat_\(name) gauge\n" + samples.joined()
        }
        return [
            family("last_success_timestamp_seconds", "When the newest backup on the target finished (Unix time).") {
                $0.latest?.finishedAt.timeIntervalSince1970
            },
            family("last_backup_duration_seconds", "How long the newest backup on the target took.") {
                $0.latest?.durationSeconds
            },
            family("last_backup_bytes", "Bytes the target stores for its newest backup.") { $0.latest.map { Double($0.storedBytes) } },
            family("backups", "Complete backups on the target.") { $0.backups.map(Double.init) },
            family("target_readable", "1 when the target could be read.") { $0.problem == nil ? 1 : 0 },
            family("failed_since_last_success", "1 when a backup run failed after the newest backup.") { $0.failure == nil ? 0 : 1 },
            family("status_timestamp_seconds", "When these values were read (Unix time).") { _ in now.timeIntervalSince1970 },
        ].joined()
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
