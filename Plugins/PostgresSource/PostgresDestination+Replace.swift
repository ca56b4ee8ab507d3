import Foundation
import LifeboatCore
import Logging

extension PostgresDestination: ReplaceableDestination {
    public var databaseName: String { connection.database ?? connection.value("user") ?? "postgres" }

    /// Where `CREATE`, `DROP` and `ALTER DATABASE` run: another database on the same server.
    private var maintenance: ConnectionInfo {
        connection.with(database: databaseName == "postgres" ? "template1" : "postgres")
    }

    public func otherSessions() async throws -> [String] {
        let session = try await PGConnection.connect(connection, purpose: "sessions")
        defer { Task { await session.close() } }
        return try await session.query(Self.sessionsQuery(datname: "current_database()")).map { row in
            "pid \(row[0] ?? "?"): \(row[1] ?? "?")@\(row[2] ?? "local") (\(row[3] ?? ""))"
        }
    }

    /// A name for a staging (`new`) or replaced (`old`) database, e.g. `lifeboat_new_20250103143022_3fa9_app`:
    /// within PostgreSQL's 63 bytes, and telling which database it belongs to.
    private func scratchName(_ kind: String) -> String {
        let tag = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let database = databaseName.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        return "lifeboat_\(kind)_\(BackupID.make(Date()))_\(tag)_\(database.prefix(30))"
    }

    /// The client sessions connected to a database, other than the asking one.
    private static func sessionsQuery(datname: String) -> String {
        """
        SELECT pid, usename, client_addr, application_name FROM pg_stat_activity
        WHERE datname = \(datname) AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid
        """
    }

    public func makeStaging() async throws -> any ReplaceableDestination {
        let name = scratchName("new")
        let session = try await PGConnection.connect(maintenance, purpose: "staging")
        do {
            let rows = try await session.query("""
                SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype, datlocprovider,
                       daticulocale
                FROM pg_database WHERE datname = \(SQL.literal(databaseName))
                """)
            guard let row = rows.first else {
                throw LifeboatError(.databaseMissing, "database \(connection.display) does not exist")
            }
            var create = "CREATE DATABASE \(SQL.identifier(name)) OWNER \(SQL.identifier(row[0] ?? "postgres")) "
                + "TEMPLATE template0 ENCODING \(SQL.literal(row[1] ?? "UTF8")) "
                + "LC_COLLATE \(SQL.literal(row[2] ?? "C")) LC_CTYPE \(SQL.literal(row[3] ?? "C"))"
            if row[4] == "i", let icu = row[5] { create += " LOCALE_PROVIDER icu ICU_LOCALE \(SQL.literal(icu))" }
            try await session.run([create])
        } catch let error as PostgresServerError {
            await session.close()
            throw LifeboatError(
                .restoreFailed,
                "cannot create a staging database beside \(connection.display) (\(error)); --clean needs a role "
                    + "with CREATEDB that owns the database",
                cause: error)
        } catch {
            await session.close()
            throw error
        }
        await session.close()
        return PostgresDestination(connection: connection.with(database: name), options: options, tools: tools)
    }

    public func discard() async {
        guard let session = try? await PGConnection.connect(maintenance, purpose: "discard") else { return }
        _ = try? await session.query("DROP DATABASE IF EXISTS \(SQL.identifier(databaseName)) WITH (FORCE)")
        await session.close()
    }

    public func swap(in staging: any ReplaceableDestination, terminatingSessions: Bool) async throws -> Int {
        let target = SQL.identifier(databaseName)
        let old = SQL.identifier(scratchName("old"))
        let session = try await PGConnection.connect(maintenance, purpose: "swap")
        defer { Task { await session.close() } }
        // From here no session can join; every way out below allows connections again or drops the database.
        try await session.run(["ALTER DATABASE \(target) ALLOW_CONNECTIONS false"])
        let terminated: Int
        do {
            terminated = try await endSessions(on: session, terminating: terminatingSessions)
            let settings = try await DatabaseSettings.read(databaseName, on: session)
            try await session.run(settings.statements(for: staging.databaseName))
            try await session.run([
                "BEGIN", "ALTER DATABASE \(target) RENAME TO \(old)",
                "ALTER DATABASE \(SQL.identifier(staging.databaseName)) RENAME TO \(target)", "COMMIT",
            ])
        } catch {
            _ = try? await session.query("ROLLBACK")
            _ = try? await session.query("ALTER DATABASE \(target) ALLOW_CONNECTIONS true")
            throw error
        }
        do {
            try await session.run(["DROP DATABASE \(old) WITH (FORCE)"])
        } catch {
            throw LifeboatError(
                .restoreFailed,
                "the restored database is in place, but dropping the replaced one (now \(old)) failed: \(error); "
                    + "drop it by hand")
        }
        return terminated
    }

    /// Ends the other sessions of the (no longer connectable) target, or fails when there are any and
    /// `terminating` is off.
    private func endSessions(on session: PGConnection, terminating: Bool) async throws -> Int {
        let query = Self.sessionsQuery(datname: SQL.literal(databaseName))
        let sessions = try await session.query(query)
        guard !sessions.isEmpty else { return 0 }
        guard terminating else {
            throw LifeboatError(
                .targetInUse,
                "\(sessions.count) session(s) connected to \(connection.display) while it was being replaced; "
                    + "stop them, or pass --force to terminate them")
        }
        try await session.run(sessions.compactMap { $0[0] }.map { "SELECT pg_terminate_backend(\($0))" })
        for _ in 0..<100 {
            if try await session.query(query).isEmpty { return sessions.count }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LifeboatError(.targetInUse, "sessions of \(connection.display) did not end within 10 s of being terminated")
    }
}

/// The settings of a database that belong to the database rather than to its contents: privileges,
/// `ALTER DATABASE ... SET` parameters, comment and connection limit.
struct DatabaseSettings {
    var acl: [(grantee: String?, privilege: String, grantable: Bool)]?
    var parameters: [(role: String?, setting: String)]
    var comment: String?
    var connectionLimit: String

    static func read(_ database: String, on session: PGConnection) async throws -> DatabaseSettings {
        let name = SQL.literal(database)
        let acl = try await session.query("""
            SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type,
                   a.is_grantable
            FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = \(name)
            """)
        let hasACL = try await session.query("SELECT datacl IS NOT NULL FROM pg_database WHERE datname = \(name)")
        let parameters = try await session.query("""
            SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, unnest(s.setconfig)
            FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = \(name)
            """)
        let rest = try await session.query("""
            SELECT shobj_description(oid, 'pg_database'), datconnlimit FROM pg_database WHERE datname = \(name)
            """)
        return DatabaseSettings(
            acl: hasACL.first?.first == "t" ? acl.map { ($0[0], $0[1] ?? "", $0[2] == "t") } : nil,
            parameters: parameters.map { ($0[0], $0[1] ?? "") },
            comment: rest.first?[0] ?? nil, connectionLimit: rest.first?[1] ?? "-1")
    }

    /// The statements giving database `name` these settings.
    func statements(for name: String) -> [String] {
        let database = SQL.identifier(name)
        var statements: [String] = []
        if let acl {
            statements.append("REVOKE ALL ON DATABASE \(database) FROM PUBLIC")
            statements += acl.map { grant in
                "GRANT \(grant.privilege) ON DATABASE \(database) TO "
                    + (grant.grantee.map(SQL.identifier) ?? "PUBLIC") + (grant.grantable ? " WITH GRANT OPTION" : "")
            }
        }
        for parameter in parameters {
            let parts = parameter.setting.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let (key, value) = (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            let scope = parameter.role.map { "ROLE \(SQL.identifier($0)) IN DATABASE \(database)" }
                ?? "DATABASE \(database)"
            statements.append("ALTER \(scope) SET \(SQL.identifier(key)) = \(SQL.literal(value))")
        }
        if let comment { statements.append("COMMENT ON DATABASE \(database) IS \(SQL.literal(comment))") }
        statements.append("ALTER DATABASE \(database) CONNECTION LIMIT \(connectionLimit)")
        return statements
    }
}
