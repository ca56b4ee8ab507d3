import Foundation
import LifeboatCore
import Logging

extension PostgresDestination {
    public func restoreTables(_ tables: [Artifact], of manifest: Manifest, from store: ArtifactStore, logger: Logger)
        async throws
    {
        let names = tables.compactMap(\.table)
        guard !names.isEmpty else { return }
        try await step("replacing the rows of \(names.count) table\(names.count == 1 ? "" : "s")", logger) {
            try await replaceRows(tables, encoding: manifest.source.encoding, from: store)
        }
        try await step("setting their sequences", logger) {
            let restorer = try await schemaRestorer(manifest, store)
            defer { restorer.remove() }
            try await setSequences(ownedBy: names, restorer: restorer)
        }
    }

    /// Truncates the tables and loads them in one transaction; user triggers stay silent while they load, and a
    /// table whose row count differs from the manifest rolls everything back.
    private func replaceRows(_ tables: [Artifact], encoding: String, from store: ArtifactStore) async throws {
        let names = tables.compactMap(\.table).map(SQL.table)
        let session = try await PGConnection.connect(connection, purpose: "tables")
        do {
            try await session.run(
                SessionSettings.data(encoding: encoding) + ["BEGIN", "TRUNCATE ONLY " + names.joined(separator: ", ")]
                    + names.map { "ALTER TABLE ONLY \($0) DISABLE TRIGGER USER" })
            for artifact in tables {
                let rows = try await TableLoader.copy(artifact, from: store, on: session)
                guard rows == artifact.rows ?? 0 else {
                    throw LifeboatError(
                        .restoreFailed, "\(artifact.table!) loaded \(rows) rows, but the manifest says \(artifact.rows ?? 0)")
                }
            }
            try await session.run(names.map { "ALTER TABLE ONLY \($0) ENABLE TRIGGER USER" } + ["COMMIT"])
        } catch {
            await session.close()  // without COMMIT: everything above is rolled back
            throw error
        }
        await session.close()
    }

    /// Restores the values of the sequences the tables own (serial and identity columns) from the schema archive.
    private func setSequences(ownedBy tables: [TableName], restorer: SchemaRestorer) async throws {
        let session = try await PGConnection.connect(connection, purpose: "sequences")
        let owned: [[String?]]
        do {
            let regclasses = tables.map { SQL.literal(SQL.table($0)) + "::regclass" }.joined(separator: ", ")
            owned = try await session.query("""
                SELECT n.nspname, s.relname FROM pg_depend d
                JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
                WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.deptype IN ('a', 'i') AND d.refobjid IN (\(regclasses))
                """)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
        guard !owned.isEmpty else { return }
        // The archive's table of contents names each entry as "SEQUENCE SET <schema> <name> <owner>".
        let wanted = owned.map { "SEQUENCE SET \($0[0] ?? "") \($0[1] ?? "") " }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        let contents = folder.appendingPathComponent("contents.list").path
        try await restorer.writeContents(to: contents)
        let entries = try String(contentsOfFile: contents, encoding: .utf8).split(separator: "\n")
            .filter { line in !line.hasPrefix(";") && wanted.contains { line.contains($0) } }
        guard !entries.isEmpty else { return }
        let list = folder.appendingPathComponent("sequences.list").path
        try (entries.joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)
        try await restorer.run(list: list)
    }
}
