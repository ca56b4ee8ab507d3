import LifeboatCore

extension PostgresSource {
    public func preflight() async throws -> [String] {
        try await PGConnection.using(connection, purpose: "check") { session in
            let version = try await session.serverVersion()
            let row = try await session.query(
                "SELECT current_user, current_setting('server_version'), pg_size_pretty(pg_database_size(current_database()))")[0]
            var passed = ["source: \(connection.display) answers as \(row[0] ?? "?"): PostgreSQL \(row[1] ?? "?"), \(row[2] ?? "?")"]
            let pgDump = try await tools.locate("pg_dump", minimumMajor: version / 10_000)
            passed.append("source: \(pgDump.path) is version \(pgDump.major), new enough for the server")
            let unreadable = try await session.query(Self.unreadableRelations).map { "\($0[0] ?? "").\($0[1] ?? "") (\($0[2] ?? ""))" }
            guard unreadable.isEmpty else {
                throw LifeboatError(
                    .backupFailed,
                    "source: role \(row[0] ?? "?") cannot read \(unreadable.count) relation\(unreadable.count == 1 ? "" : "s") a "
                        + "backup needs: \(unreadable.prefix(5).joined(separator: ", "))\(unreadable.count > 5 ? ", ..." : ""); "
                        + "GRANT SELECT on them, or back up as a role that can read everything (e.g. the owner)")
            }
            passed.append("source: role \(row[0] ?? "?") can read every table and sequence")
            return passed
        }
    }

    /// Relations a backup reads that the current role may not: no SELECT privilege, or row-level security that
    /// would hide rows (pg_dump refuses those).
    static let unreadableRelations = """
        WITH me AS (SELECT oid, rolsuper OR rolbypassrls AS bypass FROM pg_roles WHERE rolname = current_user)
        SELECT n.nspname, c.relname,
               CASE WHEN NOT (CASE c.relkind WHEN 'S' THEN has_sequence_privilege(c.oid, 'SELECT')
                                             ELSE has_table_privilege(c.oid, 'SELECT') END)
                    THEN 'no SELECT privilege' ELSE 'row-level security' END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, me
        WHERE c.relkind IN ('r', 'p', 'm', 'S')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND (NOT (CASE c.relkind WHEN 'S' THEN has_sequence_privilege(c.oid, 'SELECT')
                                   ELSE has_table_privilege(c.oid, 'SELECT') END)
               OR (c.relrowsecurity AND (c.relowner <> me.oid OR c.relforcerowsecurity) AND NOT me.bypass))
        ORDER BY 1, 2
        """
}
