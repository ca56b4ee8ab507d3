import Foundation
import LifeboatCore

/// A fresh dump of the copy a database target holds, in a private temporary folder: what `restore --from` such a
/// target restores, since it keeps no artifacts. The dump is a backup like any other (checksummed, verified as it
/// is restored), and must have the row counts of the backup the target says it holds.
struct DatabaseTargetDump {
    /// The backup the target holds.
    let held: Manifest
    /// The dump, a backup in ``folder``.
    let dump: Manifest
    /// The temporary target holding the dump.
    let sink: any Sink
    private let folder: URL

    /// Dumps the copy of the backup `selector` means from `database`, under its read lock.
    static func take(
        of database: any DatabaseTarget, _ selector: BackupSelector, config: LifeboatConfig, global: GlobalOptions
    ) async throws -> DatabaseTargetDump {
        let locks = try global.lock([database], .read, for: "restore")
        defer { locks.release() }
        let held = try await database.heldBackup(selector)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-dump-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        do {
            let target = try config.backupTarget(
                TargetConfig(name: database.name, url: folder.path), encodings: 1)
            global.logger.info(
                "dumping target '\(database.name)', which holds backup \(held.id), into a temporary folder")
            let engine = BackupEngine(
                source: try database.makeSource(jobs: config.source.jobs), targets: [target], logger: global.logger)
            let dump = try await engine.run(label: "dump of target '\(database.name)' holding backup \(held.id)").manifest
            try checkRowCounts(of: dump, against: held, on: database.name)
            return DatabaseTargetDump(held: held, dump: dump, sink: target.sink, folder: folder)
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
    }

    /// The dump must have the tables and rows of the backup: otherwise the copy changed after it was loaded.
    private static func checkRowCounts(of dump: Manifest, against held: Manifest, on target: String) throws {
        let rows = Dictionary(
            dump.artifacts.compactMap { artifact in artifact.table.map { ($0, artifact.rows ?? 0) } },
            uniquingKeysWith: { first, _ in first })
        let changed = "target '\(target)' no longer holds backup \(held.id) as it was loaded"
        let tables = Set(held.artifacts.compactMap(\.table))
        if let extra = rows.keys.filter({ !tables.contains($0) }).map(\.description).sorted().first {
            throw LifeboatError(
                .checksumMismatch, "\(changed): it has table \(extra), which the backup has not; restore from another target")
        }
        for artifact in held.artifacts where artifact.kind == .tableData {
            guard let table = artifact.table, rows[table] != artifact.rows ?? 0 else { continue }
            throw LifeboatError(
                .checksumMismatch,
                "\(changed): table \(table) has \(rows[table].map(String.init) ?? "no") rows where the backup has "
                    + "\(artifact.rows ?? 0); restore from another target")
        }
    }

    /// Deletes the dump.
    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}
