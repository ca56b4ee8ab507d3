import Foundation
import LifeboatCore
import Logging

/// Backs up a PostgreSQL database: `pg_dump` for the schema and everything that is not table data, and `COPY`
/// for the tables, in parallel, all under one exported snapshot.
public struct PostgresSource: Source {
    let connection: ConnectionInfo
    let jobs: Int
    let tools: ClientTools

    /// Creates a source from the `source:` configuration.
    public init(config: SourceConfig) throws {
        connection = try ConnectionInfo(url: try config.requireURL(), place: "source.url")
        jobs = config.jobs
        tools = ClientTools(directory: config.pgBinDir)
    }

    public func openSnapshot(logger: Logger) async throws -> any SourceSnapshot {
        let coordinator = try await PGConnection.connect(connection, purpose: "snapshot")
        let major = try await coordinator.serverVersion() / 10_000
        let pgDump = try await tools.locate("pg_dump", minimumMajor: major)
        do {
            try await coordinator.run(SessionSettings.common)
            try await coordinator.run(["BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"])
            var info = try await describe(coordinator)
            info.dumpToolMajorVersion = pgDump.major
            info.server = connection.serverAddress
            // Backup schemas of a `mode: schema` target on this database are not part of its backups.
            let ownSchemas = try await coordinator.query(ReplicaRecord.ownSchemasQuery).compactMap { $0[0] }
            let tables = try await listTables(coordinator).filter { !ownSchemas.contains($0.name.schema) }
            if !tables.isEmpty {
                try await coordinator.query(
                    "LOCK TABLE " + tables.map { SQL.table($0.name) }.joined(separator: ", ") + " IN ACCESS SHARE MODE")
            }
            var workers: [PGConnection] = []
            for index in 0..<jobs {
                let worker = try await PGConnection.connect(connection, purpose: "copy\(index)")
                try await worker.run(SessionSettings.data(encoding: info.encoding) + [
                    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                    "SET TRANSACTION SNAPSHOT " + SQL.literal(info.snapshot),
                ])
                workers.append(worker)
            }
            logger.info(
                "snapshot \(info.snapshot) of \(connection.display)",
                metadata: ["server": "\(info.serverVersion)", "tables": "\(tables.count)", "bytes": "\(info.sizeBytes)"])
            return PostgresSnapshot(
                info: info, tables: tables, excludedSchemas: ownSchemas, coordinator: coordinator,
                pool: ConnectionPool(workers), connection: connection, pgDump: pgDump.path)
        } catch let error as PostgresServerError {
            throw LifeboatError(
                .backupFailed, "cannot open a snapshot of \(connection.display): \(error)", cause: error)
        }
    }

    private func describe(_ connection: PGConnection) async throws -> SourceInfo {
        let row = try await connection.query("""
            SELECT pg_export_snapshot(), current_database(), current_setting('server_version'),
                   pg_database_size(current_database()), pg_encoding_to_char(encoding), \(DatabaseIdentity.expression)
            FROM pg_database WHERE datname = current_database()
            """)[0]
        var info = SourceInfo(
            kind: "postgresql", serverVersion: row[2] ?? "", database: row[1] ?? "", sizeBytes: Int(row[3] ?? "") ?? 0,
            snapshot: row[0] ?? "", encoding: row[4] ?? "UTF8")
        info.identity = row[5]
        return info
    }

    /// Tables whose rows Lifeboat copies itself: ordinary tables and leaf partitions, outside system schemas and
    /// extensions (pg_dump handles extension configuration tables). Largest first, so parallel copies finish
    /// together.
    private func listTables(_ connection: PGConnection) async throws -> [CopiedTable] {
        try await connection.query("""
            SELECT n.nspname, c.relname,
                   (SELECT coalesce(json_agg(attname ORDER BY attnum), '[]') FROM pg_attribute
                    WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped AND attgenerated = ''),
                   (SELECT coalesce(json_agg(format_type(atttypid, atttypmod) ORDER BY attnum), '[]')
                    FROM pg_attribute
                    WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND c.relpersistence <> 't'
              AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d
                              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY pg_relation_size(c.oid) DESC, n.nspname, c.relname
            """).map { row in
            let columns = try JSONDecoder().decode([String].self, from: Data((row[2] ?? "[]").utf8))
            let types = try JSONDecoder().decode([String].self, from: Data((row[3] ?? "[]").utf8))
            return CopiedTable(
                name: TableName(schema: row[0] ?? "", name: row[1] ?? ""), columns: columns, columnTypes: types)
        }
    }
}

/// A table whose rows Lifeboat copies, with its columns in the order `COPY` writes them.
struct CopiedTable: Sendable {
    let name: TableName
    let columns: [String]
    /// The columns' types, as `format_type` names them.
    let columnTypes: [String]
}

/// Settings every Lifeboat session uses, so that COPY text round-trips exactly and long runs are not cut off.
enum SessionSettings {
    static let common = [
        "SET DateStyle = ISO", "SET IntervalStyle = postgres", "SET extra_float_digits = 3",
        "SET statement_timeout = 0", "SET lock_timeout = 0", "SET idle_in_transaction_session_timeout = 0",
        "SET row_security = off", "SET search_path = pg_catalog",
    ]
    /// Sessions that move table data also speak the database's own encoding, so nothing is converted.
    static func data(encoding: String) -> [String] {
        common + ["SET client_encoding = " + SQL.literal(encoding)]
    }
}
