/// Drops the staging copies that killed runs left behind: those whose ``StagingClaim`` no one holds. A failed or
/// interrupted load drops its own; a `SIGKILL`, an out-of-memory kill or a power cut cannot, and a staging
/// database is as large as the replica.
enum AbandonedStaging {
    /// How long dropping one copy may take: `DROP DATABASE` waits for every backend of the server to take note,
    /// and one blocked writing to a stalled client would hold it up indefinitely.
    private static let timeout = "60s"

    /// Drops the abandoned staging databases marked as staging `subject` (`replica app`, `restore app`), through
    /// `session` on another database of their server, and says what it dropped or could not drop.
    static func dropDatabases(staging subject: String, on session: PGConnection) async -> [String] {
        await drop(
            "staging database",
            listedBy: """
                SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database
                WHERE datname LIKE 'lifeboat\\_new\\_%'
                  AND \(ReplicaRecord.stagingCondition(on: "shobj_description(oid, 'pg_database')", of: SQL.literal(subject)))
                """,
            statement: { "DROP DATABASE IF EXISTS \(SQL.identifier($0))" }, on: session)
    }

    /// Drops the abandoned staging schemas of backup schema copies in the database `session` is on, and says what
    /// it dropped or could not drop.
    static func dropSchemas(on session: PGConnection) async -> [String] {
        await drop(
            "staging schema",
            listedBy: """
                SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace
                WHERE nspname LIKE 'lifeboat\\_new\\_%'
                  AND \(ReplicaRecord.stagingCondition(on: "obj_description(oid, 'pg_namespace')", of: ReplicaRecord.stagingSchemaSubject))
                """,
            statement: { "DROP SCHEMA IF EXISTS \(SQL.identifier($0)) CASCADE" }, on: session)
    }

    /// Drops each copy `query` lists (name, comment) whose claim can be taken. Without `FORCE`: a database
    /// someone is connected to stays, and is reported. `IF EXISTS`: a run may have renamed its copy and released
    /// its claim since the list was read. The locks taken go with the session.
    private static func drop(
        _ kind: String, listedBy query: String, statement: (String) -> String, on session: PGConnection
    ) async -> [String] {
        // Housekeeping: a copy that cannot be listed now is found by the next backup.
        guard (try? await session.run(["SET statement_timeout = '\(timeout)'"])) != nil,
            let rows = try? await session.query(query)
        else { return [] }
        var said: [String] = []
        for row in rows {
            guard let name = row[0] else { continue }
            guard let run = row[1]?.split(separator: "\n").dropFirst().first, run.hasPrefix("by pid ") else {
                said.append("\(kind) \(name) was left behind by an older version of Lifeboat; drop it by hand")
                continue
            }
            let free = try? await session.query("SELECT pg_try_advisory_lock(\(StagingClaim.lockKey(name)))")
            guard free?.first?.first == "t" else { continue }  // its run is loading it
            do {
                try await session.run([statement(name)])
                said.append("dropped \(kind) \(name), left behind by a killed run (\(run))")
            } catch {
                said.append("cannot drop \(kind) \(name), left behind by a killed run (\(run)): \(error); drop it by hand")
            }
        }
        return said
    }
}

extension ReplicaSink {
    /// Whether runs claim their staging copies, so that a sweep can tell those of killed runs: always for
    /// schemas, for databases as ``PostgresDestination/claimsStaging`` says.
    var claimsStaging: Bool { mode == .schema || replica.claimsStaging }

    /// Drops the staging copies killed runs left in this target (databases or schemas, as its mode makes them), and
    /// says what it dropped or could not drop.
    func dropAbandonedStaging() async -> [String] {
        guard claimsStaging else { return [] }
        switch mode {
        case .database:
            return await replica.dropAbandonedStaging(of: "replica " + replica.databaseName, claimedOn: replica.maintenance)
        case .schema:
            let dropped = try? await PGConnection.using(connection, purpose: "staging") { session in
                await AbandonedStaging.dropSchemas(on: session)
            }
            return dropped ?? []
        }
    }
}
