import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the backups on every target, and which targets hold each.",
            discussion: """
                A target is shown as NAME when it holds the backup complete, NAME(failed) when the backup run \
                recorded it as failed, NAME(replaced) when a replica database has since loaded a newer backup, \
                and NAME(missing) when the run completed it but it does not hold it now (or cannot be read: see \
                the warnings).
                """)

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print JSON: one object per backup.")
        var json = false

        func run() async throws {
            try await global.perform {
                let config = try global.loadConfig()
                let sinks = try global.sinks(config)
                let catalog = Catalog(sinks: sinks, logger: global.logger)
                let replicas = sinks.filter { ($0 as? any DatabaseTarget)?.replacesEachBackup == true }.map(\.name)
                let listing = BackupListing(
                    entries: try await catalog.entries(), targets: config.targets.map(\.name), replicas: Set(replicas))
                print(json ? try listing.json() : listing.table(), terminator: "")
            }
        }
    }
}

/// Renders backups for `list`.
struct BackupListing {
    /// The backups, oldest first.
    var entries: [CatalogEntry]
    /// The configured targets, in order.
    var targets: [String]
    /// The targets that hold one backup at a time, replaced by the next.
    var replicas: Set<String> = []

    struct TargetState: Encodable {
        var name: String
        /// `complete`, `failed`, `replaced` or `missing`.
        var status: String
    }

    struct Entry: Encodable {
        var id: String
        var label: String?
        var startedAt: Date
        var durationSeconds: Double
        var database: String
        var tables: Int
        var rows: Int
        var storedBytes: Int
        var targets: [TargetState]
    }

    /// Each configured target's state for one backup; targets the backup never involved are left out.
    func states(_ entry: CatalogEntry) -> [TargetState] {
        targets.compactMap { name in
            if entry.holders.contains(name) { return TargetState(name: name, status: "complete") }
            switch entry.manifest.targets.first(where: { $0.name == name })?.status {
            case .failed?: return TargetState(name: name, status: "failed")
            case .complete?:
                let replaced = replicas.contains(name)
                    && entries.contains { $0.holders.contains(name) && $0.manifest.id > entry.manifest.id }
                return TargetState(name: name, status: replaced ? "replaced" : "missing")
            case nil: return nil
            }
        }
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        let rendered = entries.map { entry in
            let manifest = entry.manifest
            return Entry(
                id: manifest.id, label: manifest.label, startedAt: manifest.startedAt,
                durationSeconds: manifest.durationSeconds, database: manifest.source.database,
                tables: manifest.artifacts.filter { $0.table != nil }.count, rows: manifest.totalRows,
                storedBytes: manifest.storedBytes, targets: states(entry))
        }
        return String(decoding: try encoder.encode(rendered), as: UTF8.self) + "\n"
    }

    func table() -> String {
        guard !entries.isEmpty else { return "no backups\n" }
        let header = ["ID", "LABEL", "DATABASE", "TABLES", "ROWS", "SIZE", "DURATION", "TARGETS"]
        let rows = entries.map { entry in
            let manifest = entry.manifest
            return [
                manifest.id, manifest.label ?? "-", manifest.source.database,
                String(manifest.artifacts.filter { $0.table != nil }.count), String(manifest.totalRows),
                ByteCount.format(manifest.storedBytes), String(format: "%.1fs", manifest.durationSeconds),
                states(entry).map { $0.status == "complete" ? $0.name : "\($0.name)(\($0.status))" }
                    .joined(separator: ","),
            ]
        }
        return TextTable.render(header: header, rows: rows)
    }
}

/// Left-aligned columns separated by two spaces.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
