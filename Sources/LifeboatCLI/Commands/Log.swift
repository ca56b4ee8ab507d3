import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the audit log: every backup, restore, rollback, copy, verify, drill and prune, oldest first.",
            discussion: """
                Reads audit_log: (default: audit.jsonl in LIFEBOAT_STATE_DIR, ~/.local/state/lifeboat). Each \
                entry records the time, operator, host, operation, backup, targets, status, duration, checksums \
                and error. The file holds one JSON object per line; --json prints them as they are.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "Show only the newest N entries.")
        var last: Int?

        @Flag(help: "Print the entries as JSON lines.")
        var json = false

        func validate() throws {
            if let last, last < 1 { throw ValidationError("--last must be at least 1") }
        }

        func run() async throws {
            try await global.perform {
                let log = try global.loadConfig().auditLog
                let entries = Array(try log.entries().suffix(last ?? .max))
                if json {
                    for entry in entries { print(String(decoding: try entry.line(), as: UTF8.self), terminator: "") }
                    return
                }
                guard !entries.isEmpty else {
                    print("no entries in \(log.path)")
                    return
                }
                let rows = entries.map { entry in
                    [
                        entry.time.formatted(.iso8601), entry.operator, entry.operation, entry.backupID ?? "-",
                        entry.targets.isEmpty ? "-" : entry.targets.joined(separator: ","), entry.status,
                        String(format: "%.1fs", entry.durationSeconds), entry.error ?? "",
                    ]
                }
                print(
                    TextTable.render(
                        header: ["TIME", "OPERATOR", "OPERATION", "BACKUP", "TARGETS", "STATUS", "DURATION", "ERROR"],
                        rows: rows),
                    terminator: "")
            }
        }
    }
}
