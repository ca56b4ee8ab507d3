import LifeboatCore

/// A `postgresql://` target: each backup, as it is taken, becomes a live database.
///
/// - `mode: database` (the default) keeps a standby copy of the whole source database in the database the URL
///   names, replaced atomically by each backup (see ``DatabaseReplicaWriter``). The role needs `CREATEDB` and to
///   own that database (or be allowed to create it on the first backup).
/// - `mode: schema` copies the tables into a `backup_<id>` schema of the database the URL names, one schema per
///   backup, pruned by the target's retention like any backups (see ``SchemaCopyWriter``).
///
/// Either way the copy records which backup it holds, with the backup's manifest, in its comment (database or
/// schema), written in the transaction that puts it in place: `lifeboat list` shows it, and a copy without it is
/// not listed.
public struct ReplicaSink: DatabaseTarget {
    /// What the target keeps.
    public enum Mode: String, Sendable {
        /// A standby copy of the whole database.
        case database
        /// The tables of each backup, in a schema of their own.
        case schema
    }

    public let name: String
    let connection: ConnectionInfo
    let mode: Mode
    /// Sessions building indexes and constraints at once (`jobs:`, default 2).
    let jobs: Int
    /// Skip ownership and privileges (`no_owner: true`), for a server without the source's roles.
    let noOwner: Bool
    /// End sessions connected to the replica to swap a new copy in (`terminate_sessions:`, default true); without
    /// it, a replica in use keeps its previous copy and the backup reports the target failed.
    let terminateSessions: Bool
    let tools: ClientTools
    /// The URL as configured, password included, for a source reading the replica; never shown.
    private let url: String

    /// The target's keys besides the common ones.
    static let keys: Set = ["mode", "jobs", "no_owner", "terminate_sessions", "pg_bin_dir"]

    /// Creates a target from its configuration.
    public init(target: TargetConfig) throws {
        try target.checkOptions(known: Self.keys)
        name = target.name
        url = target.url
        connection = try ConnectionInfo(url: target.url, place: "target '\(target.name)'")
        guard let mode = Mode(rawValue: target.options["mode"]?.lowercased() ?? "database") else {
            throw LifeboatError(
                .configInvalid,
                "target '\(target.name)': mode must be database (a standby copy) or schema (backup_<id> schemas)")
        }
        self.mode = mode
        guard let jobs = Int(target.options["jobs"] ?? "2"), (1...64).contains(jobs) else {
            throw LifeboatError(.configInvalid, "target '\(target.name)': jobs must be a number from 1 to 64")
        }
        self.jobs = jobs
        noOwner = try Self.flag("no_owner", of: target, default: false)
        terminateSessions = try Self.flag("terminate_sessions", of: target, default: true)
        tools = ClientTools(directory: target.options["pg_bin_dir"])
    }

    private static func flag(_ key: String, of target: TargetConfig, default value: Bool) throws -> Bool {
        switch target.options[key]?.lowercased() {
        case nil: return value
        case "true", "yes": return true
        case "false", "no": return false
        default: throw LifeboatError(.configInvalid, "target '\(target.name)': \(key) must be true or false")
        }
    }

    public var replacesEachBackup: Bool { mode == .database }

    public var location: String { connection.display + (mode == .schema ? " (backup schemas)" : "") }

    /// The database the replica lives in.
    var replica: PostgresDestination {
        PostgresDestination(
            connection: connection, options: DestinationOptions(jobs: jobs, toolDirectory: nil, noOwner: noOwner),
            tools: tools)
    }

    /// The schema holding backup `id` in schema mode.
    static func backupSchema(_ id: String) -> String { "backup_\(id)" }

    public func beginBackup(id: String) async throws -> (any BackupWriter)? {
        guard try await !listBackups().contains(id) else { return nil }
        // Before the source streams: DROP DATABASE waits for every backend of the server, and a source backend
        // blocked writing to this very run would never answer.
        let dropped = await dropAbandonedStaging()
        switch mode {
        case .database: return DatabaseReplicaWriter(sink: self, replica: replica, reported: dropped)
        case .schema: return SchemaCopyWriter(sink: self, id: id, reported: dropped)
        }
    }

    public func listBackups() async throws -> [String] {
        try await records().compactMap { ReplicaRecord.id(in: $0) }
    }

    public func readManifest(backupID: String) async throws -> [UInt8] {
        guard let manifest = try await records().first(where: { ReplicaRecord.id(in: $0) == backupID })
            .flatMap(ReplicaRecord.manifest(in:))
        else {
            throw LifeboatError(.backupNotFound, "target '\(name)' (\(location)) does not hold backup \(backupID)")
        }
        return manifest
    }

    /// The comments that may record backups: the replica database's, or those of the `backup_<id>` schemas that
    /// record backup `<id>` (a renamed schema is not that backup).
    private func records() async throws -> [String?] {
        do {
            switch mode {
            case .database:
                return try await PGConnection.using(replica.maintenance, purpose: "list") { session in
                    try await session.query("""
                        SELECT shobj_description(oid, 'pg_database') FROM pg_database
                        WHERE datname = \(SQL.literal(replica.databaseName))
                        """).map { $0[0] }
                }
            case .schema:
                let rows = try await PGConnection.using(connection, purpose: "list") { session in
                    try await session.query("""
                        SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace
                        WHERE nspname LIKE 'backup\\_%'
                        """)
                }
                return rows.filter { row in ReplicaRecord.id(in: row[1]).map(Self.backupSchema) == row[0] }.map { $0[1] }
            }
        } catch let error as PostgresServerError {
            throw LifeboatError(.targetUnwritable, "target '\(name)' (\(location)) cannot be read: \(error)", cause: error)
        }
    }

    public func openArtifact(backupID: String, name artifact: String) async throws -> any ArtifactReader {
        throw LifeboatError(
            .artifactMissing,
            "target '\(name)' holds backup \(backupID) as a live database, not as artifacts; "
                + (mode == .database ? "restore from it with --from \(name)" : "read the other targets"))
    }

    /// Drops a backup schema. A replica database holds a single backup, its newest, which retention never removes.
    public func deleteBackup(id: String) async throws {
        guard try await listBackups().contains(id) else {
            throw LifeboatError(.backupNotFound, "target '\(name)' (\(location)) does not hold backup \(id)")
        }
        guard mode == .schema else {
            throw LifeboatError(
                .targetUnwritable, "target '\(name)' keeps one standby copy, replaced by each backup; it is not pruned")
        }
        try await PGConnection.using(connection, purpose: "prune") { session in
            try await session.run(["DROP SCHEMA \(SQL.identifier(Self.backupSchema(id))) CASCADE"])
        }
    }

    public func makeSource(jobs: Int) throws -> any Source {
        guard mode == .database else {
            throw LifeboatError(
                .configInvalid,
                "target '\(name)' keeps backup schemas, not a database to restore; restore from another target, or "
                    + "copy rows back by hand (INSERT INTO ... SELECT * FROM backup_<id>....)")
        }
        return try PostgresSource(config: SourceConfig(url: url, jobs: jobs, pgBinDir: tools.directory))
    }

    public func checkRowCounts(of manifest: Manifest) async throws -> Int {
        let tables = manifest.artifacts.filter { $0.kind == .tableData }
        guard try await listBackups().contains(manifest.id) else {
            throw LifeboatError(.backupNotFound, "target '\(name)' (\(location)) does not hold backup \(manifest.id)")
        }
        do {
            switch mode {
            case .database: try await checkRowCounts(of: manifest, in: replica)
            case .schema:
                try await PGConnection.using(connection, purpose: "count") { session in
                    try await checkRowCounts(of: manifest, inSchema: Self.backupSchema(manifest.id), on: session)
                }
            }
        } catch let error as PostgresServerError {
            // A table or schema dropped since is damage; other errors (connection, rights) are not.
            let missing = ["42P01", "3F000"].contains(error.sqlState)
            throw LifeboatError(
                missing ? .checksumMismatch : .targetUnwritable,
                "target '\(name)': the rows of backup \(manifest.id) cannot be counted: \(error)", cause: error)
        }
        return tables.count
    }

    /// Compares every table's rows in `database` with `manifest`.
    func checkRowCounts(of manifest: Manifest, in database: PostgresDestination) async throws {
        let tables = manifest.artifacts.filter { $0.kind == .tableData }
        let counts = try await database.countRows(tables.compactMap(\.table))
        for artifact in tables {
            guard let table = artifact.table else { continue }
            try check(table, rows: counts[table] ?? -1, of: artifact, in: manifest)
        }
    }

    /// Compares every table's rows in a backup schema (or its staging schema) with `manifest`.
    func checkRowCounts(of manifest: Manifest, inSchema schema: String, on session: PGConnection) async throws {
        for artifact in manifest.artifacts where artifact.kind == .tableData {
            guard let table = artifact.table else { continue }
            let counted = try await session.query("SELECT count(*) FROM \(SchemaCopyWriter.copyName(of: table, in: schema))")
            try check(table, rows: Int(counted.first?.first.flatMap { $0 } ?? "") ?? -1, of: artifact, in: manifest)
        }
    }

    private func check(_ table: TableName, rows: Int, of artifact: Artifact, in manifest: Manifest) throws {
        guard rows != artifact.rows ?? 0 else { return }
        throw LifeboatError(
            .checksumMismatch,
            "target '\(name)': table \(table) has \(rows) rows where backup \(manifest.id) has \(artifact.rows ?? 0)")
    }

    public func preflight() async throws -> [String] {
        do {
            return try await checkRights()
        } catch let error as LifeboatError {
            throw LifeboatError(error.code, "target '\(name)' (\(location)): \(error.message)", cause: error.cause)
        }
    }

    private func checkRights() async throws -> [String] {
        var passed: [String] = []
        let database = mode == .database ? replica.maintenance : connection
        let replicaName = SQL.literal(replica.databaseName)
        try await PGConnection.using(database, purpose: "check") { session in
            let rows = try await session.query("""
                SELECT r.rolcreatedb OR r.rolsuper, has_database_privilege(current_database(), 'CREATE'),
                       (SELECT pg_has_role(current_user, datdba, 'USAGE') FROM pg_database WHERE datname = \(replicaName))
                FROM pg_roles r WHERE r.rolname = current_user
                """)
            let (createDB, createSchema, owns) = (rows.first?[0] == "t", rows.first?[1] == "t", rows.first?[2] ?? nil)
            switch mode {
            case .database:
                guard createDB else {
                    throw LifeboatError(
                        .targetUnwritable,
                        "the role cannot create databases; a replica loads into a staging database "
                            + "(ALTER ROLE ... CREATEDB)")
                }
                guard owns != "f" else {
                    throw LifeboatError(
                        .targetUnwritable,
                        "the role does not own database \(replica.databaseName), so it cannot replace it "
                            + "(ALTER DATABASE ... OWNER TO ...)")
                }
                passed.append("the role may create the staging database" + (owns == nil ? "" : " and replace the replica"))
            case .schema:
                guard createSchema else {
                    throw LifeboatError(
                        .targetUnwritable,
                        "the role cannot create schemas in \(connection.display) (GRANT CREATE ON DATABASE ...)")
                }
                passed.append("the role may create backup schemas")
            }
        }
        if mode == .database {
            let pgRestore = try await tools.locate("pg_restore", minimumMajor: 0)
            passed.append("pg_restore \(pgRestore.major) found")
        }
        passed.append("holds \(try await listBackups().sorted().last.map { "backup \($0)" } ?? "no backup yet")")
        return passed
    }

    /// Copying a stored backup into a replica would need it decoded; the next backup loads one anyway.
    func cannotCopy() -> LifeboatError {
        LifeboatError(
            .targetUnwritable,
            "target '\(name)' is a database and loads backups as they are taken; it cannot take a copy of a stored "
                + "one (the next backup updates it)")
    }

    func unknownArtifact(_ artifact: String) -> LifeboatError {
        LifeboatError(
            .targetUnwritable,
            "target '\(name)' can load only a PostgreSQL source's schema and table data, not artifact \(artifact)")
    }
}
