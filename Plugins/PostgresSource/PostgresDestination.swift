import Foundation
import LifeboatCore
import Logging

/// Restores a Lifeboat backup into an empty PostgreSQL database: `pg_restore` creates the schema, parallel
/// `COPY` loads the tables, `pg_restore` then restores sequences and large objects, and builds indexes,
/// constraints and triggers last.
public struct PostgresDestination: RestoreDestination {
    let connection: ConnectionInfo
    let options: DestinationOptions
    let tools: ClientTools
    /// A staging database's claim, held until it is swapped in or dropped (see ``makeStaging(logger:)``).
    var claim: StagingClaim?

    /// Creates a destination for `--into URL`.
    public init(url: String, options: DestinationOptions) throws {
        connection = try ConnectionInfo(url: url, place: "--into")
        self.options = options
        tools = ClientTools(directory: options.toolDirectory)
    }

    init(connection: ConnectionInfo, options: DestinationOptions, tools: ClientTools, claim: StagingClaim? = nil) {
        self.connection = connection
        self.options = options
        self.tools = tools
        self.claim = claim
    }

    public var location: String { connection.display }

    public func checkEmpty() async throws {
        let found = try await PGConnection.using(connection, purpose: "check") { session in
            try await session.query(DatabaseContents.summary).compactMap { $0[0] }
        }
        guard found.isEmpty else {
            throw LifeboatError(
                .targetNotEmpty,
                "target database \(connection.display) is not empty (it has \(found.prefix(3).joined(separator: ", "))"
                    + "\(found.count > 3 ? ", ..." : "")); restore into a new empty database (createdb NAME)")
        }
    }

    public func restore(_ manifest: Manifest, from artifacts: ArtifactStore, logger: Logger) async throws
        -> [TableName: Int]
    {
        let restorer = try await step("reading the schema", logger) { try await schemaRestorer(manifest, artifacts) }
        defer { restorer.remove() }
        try await step("creating the schema", logger) { try await restorer.run(section: "pre-data") }
        let tables = manifest.artifacts.filter { $0.kind == .tableData }
        try await step("loading table data", logger) {
            try await TableLoader(connection: connection, jobs: options.jobs, store: artifacts)
                .load(tables, encoding: manifest.source.encoding)
        }
        // Before post-data, which enables row security: its policies could hide rows from the restoring role.
        let counts = try await step("counting rows", logger) { try await countRows(tables.compactMap(\.table)) }
        try await step("restoring sequences and large objects", logger) { try await restorer.run(section: "data") }
        try await step("creating indexes, constraints and triggers", logger) {
            try await restorer.run(section: "post-data", jobs: options.jobs)
        }
        return counts
    }

    /// The backup's schema archive, decoded for a `pg_restore` as new as the backup's server and `pg_dump`. The
    /// caller removes it when done.
    func schemaRestorer(_ manifest: Manifest, _ artifacts: ArtifactStore) async throws -> SchemaRestorer {
        let server = Int(manifest.source.serverVersion.prefix { $0.isNumber }) ?? 0
        let major = max(server, manifest.source.dumpToolMajorVersion ?? 0)
        let pgRestore = try await tools.locate(
            "pg_restore", minimumMajor: major, requiredBy: "the backup's server and pg_dump").path
        guard let schema = manifest.artifacts.first(where: { $0.kind == .schema }) else {
            throw LifeboatError(.restoreFailed, "backup \(manifest.id) has no schema artifact; it cannot be restored")
        }
        return try await SchemaRestorer.extract(
            schema, from: artifacts, pgRestore: pgRestore, connection: connection, noOwner: options.noOwner)
    }

    /// Runs one restore step, naming it in any error.
    func step<T>(_ name: String, _ logger: Logger, _ body: () async throws -> T) async throws -> T {
        logger.info("restore: \(name)")
        do {
            return try await body()
        } catch let error as LifeboatError {
            throw LifeboatError(error.code, "restore failed while \(name): \(error.message)", cause: error.cause)
        } catch {
            throw LifeboatError(.restoreFailed, "restore failed while \(name): \(error)", cause: error)
        }
    }

    /// Counts each table's rows (without rows of child tables), `options.jobs` tables at once, in the order given
    /// (largest first counts fastest). Row security policies apply: count before they are created.
    func countRows(_ tables: [TableName]) async throws -> [TableName: Int] {
        let queue = WorkQueue(tables)
        return try await withThrowingTaskGroup(of: [TableName: Int].self) { group in
            for index in 0..<min(max(1, options.jobs), tables.count) {
                group.addTask {
                    try await PGConnection.using(connection, purpose: "count\(index)") { session in
                        var counts: [TableName: Int] = [:]
                        while let table = await queue.next() {
                            let row = try await session.query("SELECT count(*) FROM ONLY \(SQL.table(table))")
                            counts[table] = Int(row.first?.first.flatMap { $0 } ?? "") ?? 0
                        }
                        return counts
                    }
                }
            }
            return try await group.reduce(into: [:]) { all, counts in all.merge(counts) { first, _ in first } }
        }
    }

    public func reset() async throws {
        try await PGConnection.using(connection, purpose: "reset") { session in
            try await session.run(["BEGIN"])
            for query in DatabaseContents.dropStatements {
                let statements = try await session.query(query).compactMap { $0[0] }
                try await session.run(statements)
            }
            try await session.run(DatabaseContents.recreatePublicSchema + ["COMMIT"])
        }
    }
}

/// SQL that inspects and clears what a restore can create in a database.
enum DatabaseContents {
    /// One row per kind of user object present, e.g. `4 tables`; no rows for an empty database.
    static let summary = """
        SELECT n || ' ' || kind FROM (
          SELECT count(*), 'schemas' FROM pg_namespace
            WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
          UNION ALL SELECT count(*), 'relations' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public'
          UNION ALL SELECT count(*), 'functions' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public'
          UNION ALL SELECT count(*), 'types' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = 'public'
          UNION ALL SELECT count(*), 'extensions' FROM pg_extension WHERE extname <> 'plpgsql'
          UNION ALL SELECT count(*), 'large objects' FROM pg_largeobject_metadata
          UNION ALL SELECT count(*), 'event triggers' FROM pg_event_trigger
          UNION ALL SELECT count(*), 'publications' FROM pg_publication
          UNION ALL SELECT count(*), 'foreign data wrappers' FROM pg_foreign_data_wrapper
          UNION ALL SELECT count(*), 'casts' FROM pg_cast WHERE oid >= 16384
        ) AS counts(n, kind) WHERE n > 0
        """

    /// Queries that each return the statements dropping one kind of object, in a safe order.
    static let dropStatements = [
        "SELECT 'DROP EXTENSION IF EXISTS ' || quote_ident(extname) || ' CASCADE' FROM pg_extension "
            + "WHERE extname <> 'plpgsql'",
        "SELECT 'DROP EVENT TRIGGER ' || quote_ident(evtname) FROM pg_event_trigger",
        "SELECT 'DROP PUBLICATION ' || quote_ident(pubname) FROM pg_publication",
        "SELECT 'DROP FOREIGN DATA WRAPPER ' || quote_ident(fdwname) || ' CASCADE' FROM pg_foreign_data_wrapper",
        "SELECT 'DROP SCHEMA ' || quote_ident(nspname) || ' CASCADE' FROM pg_namespace "
            + "WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\\_%'",
        "SELECT 'DROP CAST (' || format_type(castsource, NULL) || ' AS ' || format_type(casttarget, NULL) || ')' "
            + "FROM pg_cast WHERE oid >= 16384",
        "SELECT 'SELECT lo_unlink(' || oid || ')' FROM pg_largeobject_metadata",
    ]

    /// PostgreSQL 15's default `public` schema.
    static let recreatePublicSchema = [
        "CREATE SCHEMA public AUTHORIZATION pg_database_owner",
        "GRANT USAGE ON SCHEMA public TO PUBLIC",
        "COMMENT ON SCHEMA public IS 'standard public schema'",
    ]
}
