import Foundation
import LifeboatCore
import Logging

extension PostgresDestination {
    public func restoreTables(_ tables: [Artifact], of manifest: Manifest, from store: ArtifactStore, logger: Logger)
        async throws -> [TableName: Int]
    {
        let names = tables.compactMap(\.table)
        guard !names.isEmpty else { return [:] }
        let loaded: [TableName: Int]
        do {
            loaded = try await step("replacing the rows of \(names.count) table\(names.count == 1 ? "" : "s")", logger) {
                try await replaceRows(tables, encoding: manifest.source.encoding, from: store)
            }
        } catch let error as LifeboatError {
            throw LifeboatError(error.code, error.message + "; no rows were changed", cause: error.cause)
        }
        do {
            try await step("setting their sequences", logger) {
                let restorer = try await schemaRestorer(manifest, store)
                defer { restorer.remove() }
                try await setSequences(ownedBy: names, restorer: restorer)
            }
        } catch let error as LifeboatError {
            throw LifeboatError(
                error.code, "the tables' rows were restored, but " + error.message + "; set their sequences by hand",
                cause: error.cause)
        }
        return loaded
    }

    /// Truncates the tables and loads them in one transaction, referenced tables first. Their user triggers are
    /// silent meanwhile and then set back as they were; a table whose row count differs from the manifest rolls
    /// everything back.
    private func replaceRows(_ tables: [Artifact], encoding: String, from store: ArtifactStore) async throws
        -> [TableName: Int]
    {
        // Closed without COMMIT on any failure: everything below is rolled back.
        return try await PGConnection.using(connection, purpose: "tables") { session in
            try await session.run(SessionSettings.data(encoding: encoding) + ["BEGIN", "SET CONSTRAINTS ALL DEFERRED"])
            let names = tables.compactMap(\.table)
            let triggers = try await session.query("""
                SELECT format('%I.%I', n.nspname, c.relname), quote_ident(t.tgname), t.tgenabled FROM pg_trigger t
                JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgrelid IN (\(Self.regclasses(names)))
                """).map { (table: $0[0] ?? "", trigger: $0[1] ?? "", mode: $0[2] ?? "O") }
            try await session.run(triggers.map { "ALTER TABLE ONLY \($0.table) DISABLE TRIGGER \($0.trigger)" })
            try await session.run(["TRUNCATE ONLY " + names.map(SQL.table).joined(separator: ", ")])
            var loaded: [TableName: Int] = [:]
            for artifact in try await Self.referencedFirst(tables, on: session) {
                let rows = try await TableLoader.copy(artifact, from: store, on: session)
                guard rows == artifact.rows ?? 0 else {
                    throw LifeboatError(
                        .restoreFailed, "\(artifact.table!) loaded \(rows) rows, but the manifest says \(artifact.rows ?? 0)")
                }
                loaded[artifact.table!] = rows
            }
            let modes = ["O": "", "R": " REPLICA", "A": " ALWAYS"]
            try await session.run(
                triggers.map { "ALTER TABLE ONLY \($0.table) ENABLE\(modes[$0.mode] ?? "") TRIGGER \($0.trigger)" }
                    + ["COMMIT"])
            return loaded
        }
    }

    /// The artifacts ordered so that a table comes after the tables it references by foreign key (where the
    /// references allow an order).
    private static func referencedFirst(_ tables: [Artifact], on session: PGConnection) async throws -> [Artifact] {
        let names = tables.compactMap(\.table)
        let oids = try await session.query("SELECT " + names.map { SQL.literal(SQL.table($0)) + "::regclass::oid" }
            .joined(separator: ", ")).first ?? []
        var tableOf: [String: TableName] = [:]
        for (oid, table) in zip(oids, names) { if let oid { tableOf[oid] = table } }
        let list = tableOf.keys.joined(separator: ", ")
        var references: [TableName: Set<TableName>] = [:]
        for edge in try await session.query("""
            SELECT conrelid, confrelid FROM pg_constraint
            WHERE contype = 'f' AND conrelid <> confrelid AND conrelid IN (\(list)) AND confrelid IN (\(list))
            """)
        {
            if let from = edge[0].flatMap({ tableOf[$0] }), let to = edge[1].flatMap({ tableOf[$0] }) {
                references[from, default: []].insert(to)
            }
        }
        var ordered: [Artifact] = []
        var done: Set<TableName> = []
        var pending = tables
        while !pending.isEmpty {
            let ready = pending.filter { references[$0.table!, default: []].isSubset(of: done) }
            let next = ready.isEmpty ? [pending[0]] : ready  // a cycle: keep manifest order
            ordered += next
            done.formUnion(next.compactMap(\.table))
            pending.removeAll { artifact in next.contains { $0.table == artifact.table } }
        }
        return ordered
    }

    /// `'"s"."t"'::regclass, ...` for an `IN (...)` list.
    private static func regclasses(_ tables: [TableName]) -> String {
        tables.map { SQL.literal(SQL.table($0)) + "::regclass" }.joined(separator: ", ")
    }

    /// Restores the values of the sequences only these tables use (their serial and identity columns) from the
    /// schema archive. A sequence another table's default also draws from is left alone.
    private func setSequences(ownedBy tables: [TableName], restorer: SchemaRestorer) async throws {
        return try await PGConnection.using(connection, purpose: "sequences") { session in
            let selected = Self.regclasses(tables)
            let owned = try await session.query("""
                SELECT n.nspname, s.relname FROM pg_depend d
                JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
                WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                  AND d.deptype IN ('a', 'i') AND d.refobjid IN (\(selected))
                  AND NOT EXISTS (
                    SELECT 1 FROM pg_depend u JOIN pg_attrdef ad ON u.classid = 'pg_attrdef'::regclass AND ad.oid = u.objid
                    WHERE u.refobjid = s.oid AND ad.adrelid NOT IN (\(selected)))
                """)
            guard !owned.isEmpty else { return }
            // The archive's table of contents names each entry as "SEQUENCE SET <schema> <name> <owner>".
            let wanted = owned.map { "SEQUENCE SET \($0[0] ?? "") \($0[1] ?? "") " }
            let contents = restorer.scratchPath("contents.list")
            try await restorer.writeContents(to: contents)
            let entries = try String(contentsOfFile: contents, encoding: .utf8).split(separator: "\n")
                .filter { line in !line.hasPrefix(";") && wanted.contains { line.contains($0) } }
            guard !entries.isEmpty else { return }
            let list = restorer.scratchPath("sequences.list")
            try (entries.joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)
            try await restorer.run(list: list)
        }
    }
}
