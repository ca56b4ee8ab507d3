import ArgumentParser
import Foundation
import LifeboatCore

extension Lifeboat {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the complete backups on the target.")

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Print JSON: one object per backup.")
        var json = false

        func run() async throws {
            try await global.perform {
                let manifests = try await Catalog(sink: try global.primarySink(try global.loadConfig())).manifests()
                print(json ? try BackupListing.json(manifests) : BackupListing.table(manifests), terminator: "")
            }
        }
    }
}

/// Renders backups for `list`.
enum BackupListing {
    struct Entry: Encodable {
        var id: String
        var label: String?
        var startedAt: Date
        var durationSeconds: Double
        var database: String
        var tables: Int
        var rows: Int
        var storedBytes: Int
    }

    static func json(_ manifests: [Manifest]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        let entries = manifests.map {
            Entry(
                id: $0.id, label: $0.label, startedAt: $0.startedAt, durationSeconds: $0.durationSeconds,
                database: $0.source.database, tables: $0.artifacts.filter { $0.table != nil }.count,
                rows: $0.totalRows, storedBytes: $0.storedBytes)
        }
        return String(decoding: try encoder.encode(entries), as: UTF8.self) + "\n"
    }

    static func table(_ manifests: [Manifest]) -> String {
        guard !manifests.isEmpty else { return "no backups\n" }
        let header = ["ID", "LABEL", "DATABASE", "TABLES", "ROWS", "SIZE", "DURATION"]
        let rows = manifests.map { manifest in
            [
                manifest.id, manifest.label ?? "-", manifest.source.database,
                String(manifest.artifacts.filter { $0.table != nil }.count), String(manifest.totalRows),
                ByteCount.format(manifest.storedBytes), String(format: "%.1fs", manifest.durationSeconds),
            ]
        }
        return TextTable.render(header: header, rows: rows)
    }
}

/// Human-readable byte counts.
enum ByteCount {
    static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
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
