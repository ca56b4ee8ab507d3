import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each target's newest backup and its age; fail when one is too old (for cron and Nagios).",
            discussion: """
                Exits 0 when every target can be read and holds a backup younger than --max-age \
                (max_backup_age:, default 26h), and 1 otherwise, naming the first target that is not. A backup \
                run that failed after a target's newest backup is shown, and counts as a failure only through \
                the age. --metrics-file writes the same values as a Prometheus text file.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "The oldest a target's newest backup may be, e.g. 26h or 8d (default: max_backup_age:).")
        var maxAge: String?

        @Flag(help: "Print the statuses as JSON.")
        var json = false

        @Option(help: "Also write the statuses to this file in Prometheus text format (node_exporter's textfile collector).")
        var metricsFile: String?

        func validate() throws {
            if let maxAge, RetentionPolicy.duration(maxAge) == nil {
                throw ValidationError("--max-age must be a number and a unit: 12h, 30d, 8w or 1y")
            }
        }

        func run() async throws {
            try await global.perform {
                let config = try global.loadConfig()
                let limit = maxAge.flatMap(RetentionPolicy.duration) ?? config.maxBackupAge
                let now = Date()
                let audit = (try? config.auditLog.entries()) ?? []
                var statuses: [TargetStatus] = []
                for target in config.targets {
                    do {
                        statuses += await TargetStatus.read(sinks: [try Lifeboat.registry.makeSink(target)], audit: audit)
                    } catch {
                        let problem = (error as? LifeboatError)?.message ?? "\(error)"
                        statuses.append(.unreadable(target: target.name, problem: problem))
                    }
                }
                if let metricsFile { try Self.writeAtomically(TargetStatus.metrics(statuses, now: now), to: metricsFile) }
                print(json ? try Self.json(statuses, limit: limit, now: now) : Self.table(statuses, limit: limit, now: now),
                      terminator: "")
                guard let unhealthy = statuses.first(where: { !$0.isHealthy(maxAge: limit, now: now) }) else { return }
                let reason =
                    if let problem = unhealthy.problem { "cannot be read: \(problem)" }
                    else if let latest = unhealthy.latest {
                        "has no backup younger than \(Self.age(limit)); its newest, \(latest.id), is "
                            + "\(Self.age(now.timeIntervalSince(latest.finishedAt))) old"
                    } else { "has no backup" }
                FileHandle.standardError.write(Data("lifeboat: error: target '\(unhealthy.target)' \(reason)\n".utf8))
                throw ExitCode(1)
            }
        }

        static func table(_ statuses: [TargetStatus], limit: TimeInterval, now: Date) -> String {
            let rows = statuses.map { status in
                let latest = status.latest
                let state =
                    status.problem != nil ? "UNREADABLE" : latest == nil ? "NO BACKUP"
                    : status.isHealthy(maxAge: limit, now: now) ? "ok" : "TOO OLD"
                return [
                    status.target, latest?.id ?? "-", latest.map { age(now.timeIntervalSince($0.finishedAt)) } ?? "-",
                    latest.map { ByteCount.format($0.storedBytes) } ?? "-",
                    latest.map { String(format: "%.1fs", $0.durationSeconds) } ?? "-", status.backups.map(String.init) ?? "-",
                    state,
                    status.failure.map { "failed \($0.time.formatted(.iso8601)): \($0.error)" } ?? status.problem ?? "",
                ]
            }
            return TextTable.render(
                header: ["TARGET", "LATEST", "AGE", "SIZE", "DURATION", "BACKUPS", "STATE", "SINCE"], rows: rows)
        }

        static func json(_ statuses: [TargetStatus], limit: TimeInterval, now: Date) throws -> String {
            let objects: [[String: Any]] = statuses.map { status in
                var object: [String: Any] = ["target": status.target, "healthy": status.isHealthy(maxAge: limit, now: now)]
                object["backups"] = status.backups
                object["problem"] = status.problem
                if let latest = status.latest {
                    object["latest"] = [
                        "id": latest.id, "label": latest.label as Any, "finished_at": latest.finishedAt.formatted(.iso8601),
                        "age_seconds": Int(now.timeIntervalSince(latest.finishedAt)), "stored_bytes": latest.storedBytes,
                        "duration_seconds": latest.durationSeconds,
                    ]
                }
                if let failure = status.failure {
                    object["failed_since"] = ["time": failure.time.formatted(.iso8601), "error": failure.error]
                }
                return object
            }
            let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self) + "\n"
        }

        /// `3d 4h`, `5h 12m`, `42s`.
        static func age(_ seconds: TimeInterval) -> String {
            let total = max(0, Int(seconds))
            let (days, hours, minutes) = (total / 86_400, total % 86_400 / 3_600, total % 3_600 / 60)
            if days > 0 { return "\(days)d \(hours)h" }
            if hours > 0 { return "\(hours)h \(minutes)m" }
            return minutes > 0 ? "\(minutes)m" : "\(total)s"
        }

        static func writeAtomically(_ text: String, to path: String) throws {
            let temporary = path + ".tmp-\(getpid())"
            guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)),
                rename(temporary, path) == 0
            else {
                unlink(temporary)
                throw LifeboatError(.io, "cannot write the metrics file \(path); check its folder")
            }
        }
    }
}
