import Foundation
import LifeboatCore
import Testing

/// A run killed outright (`SIGKILL`, the out-of-memory killer) while loading a `postgresql://` target, or while
/// restoring with `--clean`, cannot drop its staging copy; the next backup into that target (the next restore into
/// that database) does, and leaves alone those whose run still holds them and those it cannot tell are Lifeboat's.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct KilledLoadTests {
    let admin = TestDatabase(name: "postgres", url: TestEnvironment.serverURL ?? "")

    /// A source whose load takes a moment, and a runner backing it up to `./backups` and, if given, to `target`.
    func setUp(_ prefix: String, target: ((TestDatabase) throws -> String)? = nil) throws -> (TestDatabase, LifeboatRunner) {
        let source = try TestDatabase.create(prefix)
        try source.execute("""
            CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 300000) g;
            CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 100) g;
            """)
        let lifeboat = try LifeboatRunner(source: source.url)
        let copy = try target.map { "  - name: copy\n    url: \(try $0(source))\n" } ?? ""
        try lifeboat.writeConfig("targets:\n  - url: ./backups\n" + copy)
        return (source, lifeboat)
    }

    /// Starts `lifeboat` with `arguments`, its stderr going to `errors`, and returns once `loading` holds.
    func start(
        _ lifeboat: LifeboatRunner, _ arguments: [String] = ["backup"], errors: URL? = nil,
        once loading: () throws -> Bool
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestEnvironment.lifeboatBinary())
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in lifeboat.environment { environment[key] = value }
        process.environment = environment
        process.currentDirectoryURL = lifeboat.folder
        process.standardOutput = FileHandle.nullDevice
        if let errors {
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errors)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        var seen = false
        for _ in 0..<3000 where process.isRunning && !seen {
            seen = try loading()
            if !seen { Thread.sleep(forTimeInterval: 0.01) }
        }
        if !seen { process.terminate() }
        try #require(seen, "lifeboat \(arguments[0]) ended before its load was seen")
        return process
    }

    /// Starts `lifeboat` with `arguments`, kills it with `SIGKILL` as soon as `loading` holds, then waits until the
    /// server has ended the sessions of the killed run (and of the `pg_restore` it may have left running) on the
    /// databases `database` matches.
    func killRun(
        _ lifeboat: LifeboatRunner, _ arguments: [String] = ["backup"], on database: String,
        once loading: () throws -> Bool
    ) throws {
        let process = try start(lifeboat, arguments, once: loading)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let sessions = """
            SELECT count(*) FROM pg_stat_activity WHERE datname LIKE \(database) AND pid <> pg_backend_pid()
            """
        try waitUntil("the killed run's sessions end") { try admin.value(sessions) == "0" }
    }

    /// Waits until no session holds the claim on staging copy `name` in `database`: the killed run's goes with
    /// its connection, once the server notices.
    func waitUntilUnclaimed(_ name: String, in database: String) throws {
        let claims = """
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 1279415124
            AND objid::bigint = (hashtext('\(name)')::bigint & 4294967295)
            AND database = (SELECT oid FROM pg_database WHERE datname = '\(database)')
            """
        try waitUntil("the killed run's claim on \(name) ends") { try admin.value(claims) == "0" }
    }

    /// Polls `done` for up to 20 s; fails the test if it never holds.
    func waitUntil(_ what: String, _ done: () throws -> Bool) throws {
        var met = false
        for _ in 0..<200 where !met {
            met = try done()
            if !met { Thread.sleep(forTimeInterval: 0.1) }
        }
        try #require(met, "waited 20 s for \(what)")
    }

    /// Holds the advisory lock a run loading staging copy `name` holds (on the server's `postgres` database), as a
    /// live run would, until the returned closure ends the session.
    func claim(_ name: String) throws -> () -> Void {
        let application = "claim_\(UUID().uuidString.prefix(8))"
        let psql = try ChildProcess(
            executable: TestEnvironment.pgBin + "/psql",
            arguments: [
                "-X", "-q", "-d", admin.url, "-c", "SELECT pg_advisory_lock(1279415124, hashtext('\(name)'))",
                "-c", "SELECT pg_sleep(3600)",
            ],
            environment: ["PGAPPNAME": application], output: .discard)
        let session = "FROM pg_stat_activity WHERE application_name = '\(application)'"
        try waitUntil("the test's claim on \(name) is taken") {
            try admin.value("SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
                + "WHERE locktype = 'advisory' AND granted AND application_name = '\(application)'") != "0"
        }
        return {
            _ = try? admin.value("SELECT count(pg_terminate_backend(pid)) \(session)")  // pg_sleep does not notice psql go
            psql.terminate()
        }
    }

    @Test func aStagingDatabaseOfAKilledRunIsDroppedByTheNextBackup() throws {
        var replica = ""
        let (source, lifeboat) = try setUp("kill_replica") { source in
            replica = source.name + "_rep"
            return try TestDatabase.url(try TestEnvironment.requireServer(), database: replica)
        }
        defer { lifeboat.cleanUp() }
        let staging = "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(replica)' ORDER BY datname"
        // Staging databases that are not a killed run's: one whose run holds its claim (whatever its comment
        // says of pids and hosts), and one without Lifeboat's mark.
        let live = "lifeboat_new_20200101000000_0001_\(replica)", unmarked = "lifeboat_new_20200101000000_0002_\(replica)"
        try admin.execute("CREATE DATABASE \(live); CREATE DATABASE \(unmarked)")
        try admin.execute("COMMENT ON DATABASE \(live) IS E'Lifeboat staging of replica \(replica)\\nby pid 1 on elsewhere'")
        defer { for name in [live, unmarked] { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name)") } }
        let release = try claim(live)
        defer { release() }

        // Loading: the run's staging database exists and is marked (CREATE DATABASE cannot share a transaction).
        try killRun(lifeboat, on: "'lifeboat\\_new\\_%\\_\(replica)'") {
            try admin.value("""
                SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(replica)'
                AND shobj_description(oid, 'pg_database') IS NOT NULL
                """) == "2"
        }
        let left = try admin.value(staging).split(separator: "\n").map(String.init).filter { ![live, unmarked].contains($0) }
        try #require(left.count == 1, "the killed run left no staging database: \(left)")
        #expect(try admin.value("SELECT count(*) FROM pg_database WHERE datname = '\(replica)'") == "0")
        try waitUntilUnclaimed(left[0], in: "postgres")

        let next = try lifeboat.run(["backup"])
        #expect(next.status == 0, "\(next.allOutput)")
        for name in left {
            #expect(next.stderr.contains("dropped staging database \(name), left behind by a killed run (by pid "), "\(next.stderr)")
        }
        #expect(try admin.value(staging).split(separator: "\n").map(String.init) == [live, unmarked])
        #expect(try TestDatabase(name: replica, url: try TestDatabase.url(try TestEnvironment.requireServer(), database: replica))
            .value("SELECT count(*) FROM big") == (try source.value("SELECT count(*) FROM big")))
    }

    @Test func aStagingSchemaOfAKilledRunIsDroppedByTheNextBackup() throws {
        let (source, lifeboat) = try setUp("kill_schemas") { "\($0.url)\n    mode: schema" }
        defer { lifeboat.cleanUp() }
        let schemas = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'backup%' OR nspname LIKE 'lifeboat%' ORDER BY nspname"
        // As Lifeboat versions that did not claim their staging schemas marked them: never dropped unasked.
        let old = "lifeboat_new_20200101000000"
        try source.execute("CREATE SCHEMA \(old); COMMENT ON SCHEMA \(old) IS 'Lifeboat staging of backup 20200101000000'")

        try killRun(lifeboat, on: "'\(source.name)'") { try source.value(schemas).split(separator: "\n").count == 2 }
        let left = try source.value(schemas).split(separator: "\n").map(String.init).filter { $0 != old }
        try #require(left.count == 1 && left[0].hasPrefix("lifeboat_new_2"), "\(left)")
        try waitUntilUnclaimed(left[0], in: source.name)

        let next = try lifeboat.run(["backup"])
        #expect(next.status == 0, "\(next.allOutput)")
        let id = next.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(next.stderr.contains("dropped staging schema \(left[0]), left behind by a killed run (by pid "), "\(next.stderr)")
        #expect(next.stderr.contains("staging schema \(old) was left behind by an older version of Lifeboat; drop it by hand"))
        #expect(try source.value(schemas) == "backup_\(id)\n\(old)")
    }

    /// A `restore --clean` (its staging database) or a `drill` (its throwaway database, beside the source or on a
    /// server's `postgres` database) killed outright: the next run of the same kind for the same database drops
    /// what it left, and only that.
    @Test(arguments: ["restore", "drill", "drill --server"])
    func aStagingDatabaseOfAKilledRestoreIsDroppedByTheNextOne(run: String) throws {
        let command = String(run.prefix { $0 != " " })
        let (source, lifeboat) = try setUp("kill_\(command)")
        defer { lifeboat.cleanUp() }
        #expect(try lifeboat.run(["backup"]).status == 0)
        let target = try TestDatabase.create("kill_\(command)_dst")
        try target.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
        let (arguments, base) =
            switch run {
            case "drill": (["drill"], source.name)
            case "drill --server": (["drill", "--server", admin.url], "postgres")  // the claim lives on `postgres`
            default: (["restore", "--into", target.url, "--clean"], target.name)
            }
        let staging = "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(base)'"
        // Not this kind of run's to drop: one whose run holds its claim, and a replica's staging database of the
        // same name (its own sweep's to drop).
        let live = "lifeboat_new_20200101000000_0001_\(base)", replicas = "lifeboat_new_20200101000000_0002_\(base)"
        try admin.execute("CREATE DATABASE \(live); CREATE DATABASE \(replicas)")
        defer { for name in [live, replicas] { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name)") } }
        try admin.execute("""
            COMMENT ON DATABASE \(live) IS E'Lifeboat staging of \(command) \(base)\\nby pid 1 on elsewhere';
            COMMENT ON DATABASE \(replicas) IS E'Lifeboat staging of replica \(base)\\nby pid 1 on elsewhere'
            """)
        let release = try claim(live)
        defer { release() }

        // Loading: the run's staging database exists and is marked.
        try killRun(lifeboat, arguments, on: "'lifeboat\\_new\\_%\\_\(base)'") {
            try admin.value(staging + " AND shobj_description(oid, 'pg_database') IS NOT NULL").split(separator: "\n")
                .count == 3
        }
        let left = try admin.value(staging).split(separator: "\n").map(String.init).filter { ![live, replicas].contains($0) }
        try #require(left.count == 1, "the killed \(command) left no staging database: \(left)")
        #expect(try target.value("SELECT count(*) FROM kept") == "1", "the killed restore touched its target")
        try waitUntilUnclaimed(left[0], in: "postgres")

        let next = try lifeboat.run(arguments)
        #expect(next.status == 0, "\(next.allOutput)")
        #expect(next.stderr.contains("dropped staging database \(left[0]), left behind by a killed run (by pid "),
                "\(next.stderr)")
        #expect(try admin.value(staging + " ORDER BY 1").split(separator: "\n").map(String.init) == [live, replicas])
        guard command == "restore" else { return }
        #expect(try target.value("SELECT count(*) FROM big") == (try source.value("SELECT count(*) FROM big")))
        // The staging database's mark went with the swap: the target had no comment, and has none.
        #expect(try admin.value(
            "SELECT shobj_description(oid, 'pg_database') IS NULL FROM pg_database WHERE datname = '\(target.name)'") == "t")
    }

    /// The safety backup's target is written to only while the safety backup runs: a restore that is still loading
    /// (here held with `SIGSTOP`) keeps no backup of that target waiting.
    @Test func backupsRunBesideARestoreOnceItsSafetyBackupIsTaken() throws {
        let (_, lifeboat) = try setUp("pause_restore")
        defer { lifeboat.cleanUp() }
        #expect(try lifeboat.run(["backup"]).status == 0)
        let target = try TestDatabase.create("pause_restore_dst")
        try target.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
        let staging = "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(target.name)'"
        let errors = lifeboat.folder.appendingPathComponent("restore.err")
        let restore = try start(lifeboat, ["restore", "--into", target.url, "--clean"], errors: errors) {
            try admin.value(staging) == "1"
        }
        kill(restore.processIdentifier, SIGSTOP)
        var resumed = false
        defer { if !resumed { kill(restore.processIdentifier, SIGCONT) } }
        let backup = try lifeboat.run(["backup"])
        #expect(restore.isRunning, "the restore ended before the backup ran")
        kill(restore.processIdentifier, SIGCONT)
        resumed = true
        restore.waitUntilExit()
        #expect(backup.status == 0, "\(backup.allOutput)")
        #expect(restore.terminationStatus == 0, "\((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        #expect(try target.value("SELECT count(*) FROM big") == "300000")
    }

    @Test func aLoadWhoseClaimWasCutIsNotPutInPlace() throws {
        var replica: TestDatabase?
        let (source, lifeboat) = try setUp("cut_claim") { source in
            replica = TestDatabase(
                name: source.name + "_rep",
                url: try TestDatabase.url(try TestEnvironment.requireServer(), database: source.name + "_rep"))
            return replica!.url
        }
        defer { lifeboat.cleanUp() }
        let copy = try #require(replica)
        #expect(try lifeboat.run(["backup"]).status == 0)
        try source.execute("DELETE FROM big WHERE id % 2 = 0")
        let staging = "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(copy.name)'"

        // An administrator, or a firewall, ends the session holding the run's claim during the load: another
        // run's sweep could now drop the copy, so it must not be put in place.
        let errors = lifeboat.folder.appendingPathComponent("backup.err")
        let backup = try start(lifeboat, errors: errors) { try admin.value(staging) != "" }
        let cut = try admin.value("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_locks
            WHERE locktype = 'advisory' AND classid = 1279415124
              AND database = (SELECT oid FROM pg_database WHERE datname = 'postgres')
              AND objid::bigint IN (SELECT hashtext(datname)::bigint & 4294967295 FROM pg_database
                                    WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(copy.name)')
            """)
        backup.waitUntilExit()
        let stderr = try String(contentsOf: errors, encoding: .utf8)
        #expect(cut == "1")
        #expect(backup.terminationStatus != 0, "\(stderr)")
        #expect(stderr.contains("failed while checking the claim on the staging database: the connection holding "
            + "the claim on the staging copy ended during the load"), "\(stderr)")
        #expect(try copy.value("SELECT count(*) FROM big") == "300000", "the previous copy was replaced")
        #expect(try admin.value(staging) == "", "the staging database was left behind")
    }
}
