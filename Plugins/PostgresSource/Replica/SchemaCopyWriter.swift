import LifeboatCore

/// Copies a backup's tables, as it is taken, into a schema of their own, `backup_<id>`: the runbook's manual
/// backup schema (`CREATE TABLE backup_... AS SELECT * FROM ...`), made consistent and checked.
///
/// Tables load into a staging schema, `lifeboat_new_<id>`, which the commit renames once every row count
/// matches the manifest, recording the backup in the schema's comment in the same transaction. Each table keeps
/// its columns and their types (`text` for a type the database does not have), and nothing else: no keys,
/// indexes, defaults or triggers. A table outside `public` is named `schema.table`.
actor SchemaCopyWriter: BackupWriter {
    private let sink: ReplicaSink
    private let id: String
    /// Creates the staging schema, and gives its claim, held until the schema is renamed or dropped.
    private var creatingSchema: Task<StagingClaim, any Error>?
    private var renamed = false
    /// Warnings for the log: the staging schemas of killed runs dropped before this backup began.
    private let reported: [String]

    init(sink: ReplicaSink, id: String, reported: [String]) {
        self.sink = sink
        self.id = id
        self.reported = reported
    }

    private var staging: String { "lifeboat_new_\(id)" }

    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
        throw sink.cannotCopy()
    }

    func makeArtifactWriter(name: String, for artifact: ArtifactPlan, of source: SourceInfo) async throws
        -> any ArtifactWriter
    {
        switch artifact.kind {
        case .schema:
            return DiscardingWriter()
        case .tableData:
            guard let table = artifact.table, let columns = artifact.columns else { throw sink.unknownArtifact(name) }
            let (schema, destination) = (staging, Self.copyName(of: table, in: staging))
            return TableCopyWriter(table: table, into: destination, columns: columns) {
                try await self.createSchema()
                let session = try await PGConnection.connect(self.sink.connection, purpose: "schema copy")
                do {
                    try await session.run(SessionSettings.data(encoding: source.encoding))
                    let create = try await Self.createTable(destination, artifact, on: session)
                    // One at a time, each committed at once: a new table's array type takes the name `_<table>`,
                    // and PostgreSQL moves it out of the way of a table of that name only once it is committed.
                    try await session.run(["BEGIN", Self.creatingTables(in: schema), create, "COMMIT"])
                    // The load truncates it, so that it can write the rows frozen (see TableCopyWriter).
                    try await session.run(["BEGIN", "TRUNCATE ONLY \(destination)"])
                } catch {
                    await session.close()
                    throw error
                }
                return session
            }
        default:
            throw sink.unknownArtifact(name)
        }
    }

    /// Takes the lock that lets one run create one table at a time in staging schema `schema`, until the
    /// transaction ends ("LBCT", a class of its own: the staging claim holds another lock on the schema's name).
    static func creatingTables(in schema: String) -> String {
        "SELECT pg_advisory_xact_lock(\(0x4C42_4354), hashtext(\(SQL.literal(schema))))"
    }

    /// Where a backup schema keeps a table: its name for a table in `public`, `schema.table` for others.
    static func copyName(of table: TableName, in schema: String) -> String {
        let name = table.schema == "public" ? table.name : "\(table.schema).\(table.name)"
        return SQL.identifier(schema) + "." + SQL.identifier(name)
    }

    /// Creates the staging schema, marked as Lifeboat's, once, however many tables ask at once, and gives its claim.
    @discardableResult
    private func createSchema() async throws -> StagingClaim {
        let (connection, name) = (sink.connection, staging)
        let comment = ReplicaRecord.stagingComment(of: "backup \(id)")
        let creating = creatingSchema ?? Task {
            let claim = try await StagingClaim.take(name, on: connection)
            do {
                try await PGConnection.using(connection, purpose: "schema copy") { session in
                    try await session.run([
                        "BEGIN", "CREATE SCHEMA \(SQL.identifier(name))",
                        "COMMENT ON SCHEMA \(SQL.identifier(name)) IS \(SQL.literal(comment))", "COMMIT",
                    ])
                }
            } catch {
                await claim.release()
                throw error
            }
            return claim
        }
        creatingSchema = creating
        return try await creating.value
    }

    func warnings() async -> [String] { reported }

    /// `CREATE TABLE` with the source's column types, or `text` for those the database does not know.
    private static func createTable(_ name: String, _ artifact: ArtifactPlan, on session: PGConnection) async throws
        -> String
    {
        let columns = artifact.columns ?? []
        let types = artifact.columnTypes ?? []
        var known: Set<String> = []
        if !types.isEmpty {
            let array = "ARRAY[" + Set(types).map(SQL.literal).joined(separator: ",") + "]::text[]"
            let rows = try await session.query("SELECT t FROM unnest(\(array)) t WHERE to_regtype(t) IS NOT NULL")
            known = Set(rows.compactMap { $0[0] })
        }
        let definitions = columns.enumerated().map { index, column in
            let type = index < types.count && known.contains(types[index]) ? types[index] : "text"
            return SQL.identifier(column) + " " + type
        }
        return "CREATE TABLE \(name) (\(definitions.joined(separator: ", ")))"
    }

    func commit(manifest bytes: [UInt8]) async throws {
        let manifest = try Manifest.decode(bytes, from: "the manifest")
        let claim = try await createSchema()
        try await claim.confirm()
        let (sink, staging, id) = (sink, staging, id)
        try await PGConnection.using(sink.connection, purpose: "schema copy") { session in
            try await sink.checkRowCounts(of: manifest, inSchema: staging, on: session)
            let backupSchema = SQL.identifier(ReplicaSink.backupSchema(id))
            try await session.run([
                "BEGIN", "ALTER SCHEMA \(SQL.identifier(staging)) RENAME TO \(backupSchema)",
                "COMMENT ON SCHEMA \(backupSchema) IS \(SQL.literal(ReplicaRecord.comment(id: id, manifest: bytes)))",
                "COMMIT",
            ])
        }
        renamed = true
        await claim.release()
    }

    func abort() async {
        creatingSchema?.cancel()
        let claim = try? await creatingSchema?.value
        let schemas = [staging] + (renamed ? [ReplicaSink.backupSchema(id)] : [])
        let connection = sink.connection
        // An unstructured task: the backup's own task may be cancelled.
        await Task {
            _ = try? await PGConnection.using(connection, purpose: "abort") { session in
                try await session.run(schemas.map { "DROP SCHEMA IF EXISTS \(SQL.identifier($0)) CASCADE" })
            }
            await claim?.release()
        }.value
    }
}
