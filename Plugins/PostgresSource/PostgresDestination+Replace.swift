import Foundation
import LifeboatCore
import Logging

extension PostgresDestination: ReplaceableDestination {
    public var databaseName: String { connection.database ?? connection.value("user") ?? "postgres" }

    public var serverAddress: String { connection.serverAddress }

    /// Where `CREATE`, `DROP` and `ALTER DATABASE` run: another database on the same server.
    var maintenance: ConnectionInfo {
        connection.with(database: databaseName == "postgres" ? "template1" : "postgres")
    }

    public func otherSessions() async throws -> [String] {
        try await PGConnection.using(connection, purpose: "sessions") { session in
            let query = Self.sessionsQuery(datname: "current_database()")
            var rows = try await session.query(query)
            if !rows.isEmpty {
                // A session that has just closed stays listed until its backend has exited: look again shortly.
                try await Task.sleep(for: .milliseconds(300))
                rows = try await session.query(query)
            }
            return rows.map { row in "pid \(row[0] ?? "?"): \(row[1] ?? "?")@\(row[2] ?? "local") (\(row[3] ?? ""))" }
        }
    }

    public func terminateOtherSessions() async throws -> Int {
        return try await PGConnection.using(connection, purpose: "terminate") { session in
            return try await Self.terminateSessions(on: session, datname: "current_database()", of: connection.display)
        }
    }

    /// Terminates the client sessions of a database and waits (up to 10 s) until they are gone.
    private static func terminateSessions(on session: PGConnection, datname: String, of display: String) async throws -> Int {
        let query = sessionsQuery(datname: datname)
        let sessions = try await session.query(query)
        guard !sessions.isEmpty else { return 0 }
        try await session.run(sessions.compactMap { $0[0] }.map { "SELECT pg_terminate_backend(\($0))" })
        for _ in 0..<100 {
            if try await session.query(query).isEmpty { return sessions.count }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw LifeboatError(.targetInUse, "sessions of \(display) did not end within 10 s of being terminated")
    }

    /// A name for a staging (`new`) or replaced (`old`) database, e.g. `lifeboat_new_20250103143022_3fa9_app`:
    /// within PostgreSQL's 63 bytes, and telling which database it belongs to.
    private func scratchName(_ kind: String) -> String {
        let tag = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let database = databaseName.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        return "lifeboat_\(kind)_\(BackupID.make(Date()))_\(tag)_\(database.prefix(30))"
    }

    /// A name for a new staging database beside this one.
    func newStagingName() -> String { scratchName("new") }

    /// The client sessions connected to a database, other than the asking one.
    private static func sessionsQuery(datname: String) -> String {
        """
        SELECT pid, usename, client_addr, application_name FROM pg_stat_activity
        WHERE datname = \(datname) AND pid <> pg_backend_pid() AND backend_type = 'client backend' ORDER BY pid
        """
    }

    /// Whether runs claim the staging databases they swap in for this one (``StagingClaim``), so that a sweep can
    /// tell those of killed runs. Not for a database named `postgres`: the claim would hold a session on
    /// `template1`, the server's default template, for the whole load, and every `CREATE DATABASE` on the server
    /// would fail meanwhile. Such a staging database is not marked either: a marked one is always claimed.
    var claimsStaging: Bool { databaseName != "postgres" }

    public func makeStaging(logger: Logger) async throws -> any ReplaceableDestination {
        guard claimsStaging else { return try await makeStaging(ifMissing: nil) }
        return try await makeClaimedStaging(of: "restore " + databaseName, claimedOn: maintenance, logger: logger)
    }

    public func makeScratch(logger: Logger) async throws -> any ReplaceableDestination {
        // Never swapped in: beside `postgres`, the claim can live on that database itself.
        let place = databaseName == "postgres" ? connection : maintenance
        return try await makeClaimedStaging(of: "drill " + databaseName, claimedOn: place, logger: logger)
    }

    /// Drops the staging databases of `subject` (e.g. `restore app`) that killed runs left behind, then creates a
    /// new one, marked as staging `subject` and claimed through `place` until it is swapped in or dropped.
    private func makeClaimedStaging(of subject: String, claimedOn place: ConnectionInfo, logger: Logger)
        async throws -> PostgresDestination
    {
        for message in await dropAbandonedStaging(of: subject, claimedOn: place) { logger.warning("\(message)") }
        let name = newStagingName()
        let claim = try await StagingClaim.take(name, on: place)
        do {
            var staging = try await makeStaging(
                named: name, ifMissing: nil, comment: ReplicaRecord.stagingComment(of: subject))
            staging.claim = claim
            return staging
        } catch {
            await claim.release()
            throw error
        }
    }

    /// Drops the staging databases beside this one, marked as staging `subject`, whose claim (taken through
    /// `place`) no run holds, and says what it dropped or could not drop.
    func dropAbandonedStaging(of subject: String, claimedOn place: ConnectionInfo) async -> [String] {
        (try? await PGConnection.using(place, purpose: "staging") { session in
            await AbandonedStaging.dropDatabases(staging: subject, on: session)
        }) ?? []
    }

    /// Creates an empty staging database beside this one, like it; when this one does not exist yet and `encoding`
    /// is given, one of that encoding with the server's defaults. `name` defaults to a new ``newStagingName()``;
    /// `comment`, if any, marks the database at once.
    func makeStaging(named name: String? = nil, ifMissing encoding: String?, comment: String? = nil) async throws
        -> PostgresDestination
    {
        let name = name ?? newStagingName()
        return try await PGConnection.using(maintenance, purpose: "staging") { session in
            do {
                // As JSON: the locale columns differ between PostgreSQL versions.
                let rows = try await session.query("""
                    SELECT row_to_json(d)::text, pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), t.spcname
                    FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace
                    WHERE d.datname = \(SQL.literal(databaseName))
                    """)
                var create: String
                if rows.isEmpty, let encoding {
                    create = "CREATE DATABASE \(SQL.identifier(name)) TEMPLATE template0 ENCODING \(SQL.literal(encoding))"
                } else {
                    guard let row = rows.first, let json = row[0],
                        let fields = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
                    else { throw LifeboatError(.databaseMissing, "database \(connection.display) does not exist") }
                    create = "CREATE DATABASE \(SQL.identifier(name)) OWNER \(SQL.identifier(row[1] ?? "postgres")) "
                        + "TEMPLATE template0 ENCODING \(SQL.literal(row[2] ?? "UTF8")) TABLESPACE \(SQL.identifier(row[3] ?? "pg_default"))"
                    for (option, column) in [("LC_COLLATE", "datcollate"), ("LC_CTYPE", "datctype")] {
                        if let value = fields[column] as? String { create += " \(option) \(SQL.literal(value))" }
                    }
                    if fields["datlocprovider"] as? String == "i",
                        let icu = (fields["daticulocale"] ?? fields["datlocale"]) as? String
                    {
                        create += " LOCALE_PROVIDER icu ICU_LOCALE \(SQL.literal(icu))"
                    }
                }
                try await session.run([create])
                if let comment {
                    do {
                        try await session.run(["COMMENT ON DATABASE \(SQL.identifier(name)) IS \(SQL.literal(comment))"])
                    } catch {  // unmarked, no sweep would ever find it
                        _ = try? await session.query("DROP DATABASE IF EXISTS \(SQL.identifier(name))")
                        throw error
                    }
                }
            } catch let error as PostgresServerError where !Task.isCancelled {
                throw LifeboatError(
                    .restoreFailed,
                    "cannot create a staging database beside \(connection.display): \(error)"
                        + (error.sqlState == "42501" ? "; the role needs CREATEDB and to own the database" : ""),
                    cause: error)
            } catch where Task.isCancelled {
                let staging = PostgresDestination(
                    connection: connection.with(database: name), options: options, tools: tools)
                await staging.discard()
                throw LifeboatError(.interrupted, "restore interrupted")
            }
            return PostgresDestination(connection: connection.with(database: name), options: options, tools: tools)
        }
    }

    public func discard() async {
        // A task of its own: not cancelled with its caller.
        let (maintenance, name, claim) = (maintenance, databaseName, claim)
        await Task {
            if let session = try? await PGConnection.connect(maintenance, purpose: "discard") {
                _ = try? await session.query("DROP DATABASE IF EXISTS \(SQL.identifier(name)) WITH (FORCE)")
                await session.close()
            }
            await claim?.release()
        }.value
    }

    public func swap(in staging: any ReplaceableDestination, terminatingSessions: Bool) async throws -> SwapOutcome {
        let claim = (staging as? PostgresDestination)?.claim
        try await claim?.confirm()
        // Once started, the swap runs to its end: a task of its own is not cancelled with its caller.
        let stagingName = staging.databaseName
        let outcome = try await Task {
            try await performSwap(stagingName, terminatingSessions: terminatingSessions)
        }.value
        await claim?.release()
        return outcome
    }

    /// Puts `staging` in this database's place as ``swap(in:terminatingSessions:)`` does, but with `comment` as the
    /// database's comment; when this database does not exist, renames `staging` to it.
    func replace(with staging: PostgresDestination, comment: String, terminatingSessions: Bool) async throws
        -> SwapOutcome
    {
        let stagingName = staging.databaseName
        return try await Task {
            try await performSwap(stagingName, terminatingSessions: terminatingSessions, comment: comment)
        }.value
    }

    private func performSwap(_ stagingName: String, terminatingSessions: Bool, comment: String? = nil)
        async throws -> SwapOutcome
    {
        let target = SQL.identifier(databaseName)
        let old = scratchName("old")
        return try await PGConnection.using(maintenance, purpose: "swap") { session in
            if let comment,
                try await session.query("SELECT 1 FROM pg_database WHERE datname = \(SQL.literal(databaseName))").isEmpty
            {
                try await session.run([
                    "BEGIN", "COMMENT ON DATABASE \(SQL.identifier(stagingName)) IS \(SQL.literal(comment))",
                    "ALTER DATABASE \(SQL.identifier(stagingName)) RENAME TO \(target)", "COMMIT",
                ])
                return SwapOutcome(terminatedSessions: 0, warning: nil)
            }
            // From here no session can join; every way out below allows connections again, or swaps.
            try await session.run(["ALTER DATABASE \(target) ALLOW_CONNECTIONS false"])
            let terminated: Int
            do {
                let others = try await session.query(Self.sessionsQuery(datname: SQL.literal(databaseName)))
                guard others.isEmpty || terminatingSessions else {
                    throw LifeboatError(
                        .targetInUse,
                        "\(others.count) session(s) connected to \(connection.display) while it was being restored; stop "
                            + "them, or " + (comment == nil ? "pass --force" : "set terminate_sessions: true on the target")
                            + " to terminate them")
                }
                terminated = try await Self.terminateSessions(
                    on: session, datname: SQL.literal(databaseName), of: connection.display)
                var settings = try await DatabaseSettings.read(databaseName, on: session)
                // A replica's record names the backup it held; what is swapped in now is another.
                settings.comment = comment ?? (ReplicaRecord.id(in: settings.comment) == nil ? settings.comment : nil)
                // One transaction: a run killed before its end leaves the staging database as it was (marked).
                try await session.run(["BEGIN"] + settings.statements(for: stagingName) + [
                    "ALTER DATABASE \(target) RENAME TO \(SQL.identifier(old))",
                    "ALTER DATABASE \(SQL.identifier(stagingName)) RENAME TO \(target)", "COMMIT",
                ])
            } catch {
                _ = try? await session.query("ROLLBACK")
                _ = try? await session.query("ALTER DATABASE \(target) ALLOW_CONNECTIONS true")
                throw error
            }
            do {
                try await session.run(["DROP DATABASE \(SQL.identifier(old)) WITH (FORCE)"])
                return SwapOutcome(terminatedSessions: terminated, warning: nil)
            } catch {
                return SwapOutcome(
                    terminatedSessions: terminated,
                    warning: "the restored database is in place, but the replaced one, \(old), could not be dropped "
                        + "(\(error)); drop it by hand")
            }
        }
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

    /// Settings whose values are lists of quoted names (PostgreSQL's GUC_LIST_QUOTE).
    static let listSettings: Set = [
        "search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries",
        "shared_preload_libraries", "unix_socket_directories",
    ]

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
            // List settings (search_path = "$user", public) are stored as SQL list syntax: keep them as they are.
            let listed = Self.listSettings.contains(key.lowercased())
            statements.append("ALTER \(scope) SET \(SQL.identifier(key)) = \(listed ? value : SQL.literal(value))")
        }
        // Also without a comment: the staging database's mark must not stay.
        statements.append("COMMENT ON DATABASE \(database) IS \(comment.map(SQL.literal) ?? "NULL")")
        statements.append("ALTER DATABASE \(database) CONNECTION LIMIT \(connectionLimit)")
        return statements
    }
}
