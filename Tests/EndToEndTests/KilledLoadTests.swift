import Foundation
import Testing

/// A run killed outright (`SIGKILL`, the out-of-memory killer) while loading a `postgresql://` target cannot drop
/// its staging copy; the next backup into that target does, and leaves other runs' alone.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct KilledLoadTests {
    let admin = TestDatabase(name: "postgres", url: TestEnvironment.serverURL ?? "")

    /// A source whose load takes a moment, and a runner backing it up to `./backups` and to `target`.
    func setUp(_ prefix: String, target: (TestDatabase) throws -> String) throws -> (TestDatabase, LifeboatRunner) {
        let source = try TestDatabase.create(prefix)
        try source.execute("""
            CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a FROM generate_series(1, 300000) g;
            CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 100) g;
            """)
        let lifeboat = try LifeboatRunner(source: source.url)
        try lifeboat.writeConfig("targets:\n  - url: ./backups\n  - name: copy\n    url: \(try target(source))\n")
        return (source, lifeboat)
    }

    /// Starts `lifeboat backup`, kills it with `SIGKILL` as soon as `loading` holds, then waits until the server
    /// has ended the sessions of the killed run (and of the `pg_restore` it may have left running) on `database`.
    func killBackup(_ lifeboat: LifeboatRunner, on database: String, once loading: () throws -> Bool) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestEnvironment.lifeboatBinary())
        process.arguments = ["backup"]
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in lifeboat.environment { environment[key] = value }
        process.environment = environment
        process.currentDirectoryURL = lifeboat.folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = false
        for _ in 0..<3000 where process.isRunning {
            seen = try loading()
            if seen { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(seen, "the backup ended before its load was seen")
        let sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE \(database) AND pid <> pg_backend_pid()"
        for _ in 0..<200 where try admin.value(sessions) != "0" { Thread.sleep(forTimeInterval: 0.1) }
    }

    @Test func aStagingDatabaseOfAKilledRunIsDroppedByTheNextBackup() throws {
        var replica = ""
        let (source, lifeboat) = try setUp("kill_replica") { source in
            replica = source.name + "_rep"
            return try TestDatabase.url(try TestEnvironment.requireServer(), database: replica)
        }
        defer { lifeboat.cleanUp() }
        let staging = "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(replica)' ORDER BY datname"
        // Staging databases of runs that are not dead, or not ours to judge: a live one on this machine, and one
        // on another machine.
        let live = "lifeboat_new_20200101000000_0001_\(replica)", away = "lifeboat_new_20200101000000_0002_\(replica)"
        for (name, run) in [(live, "by pid \(getpid()) on \(ProcessInfo.processInfo.hostName)"), (away, "by pid 1 on elsewhere")] {
            try admin.execute("CREATE DATABASE \(name)")
            try admin.execute("COMMENT ON DATABASE \(name) IS E'Lifeboat staging of replica \(replica)\\n\(run)'")
        }

        // Loading: the run's staging database exists and is marked (CREATE DATABASE cannot share a transaction).
        try killBackup(lifeboat, on: "'lifeboat\\_new\\_%\\_\(replica)'") {
            try admin.value("""
                SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(replica)'
                AND shobj_description(oid, 'pg_database') IS NOT NULL
                """) == "3"
        }
        let left = try admin.value(staging).split(separator: "\n").map(String.init).filter { ![live, away].contains($0) }
        #expect(left.count == 1, "the killed run left no staging database: \(left)")
        #expect(try admin.value("SELECT count(*) FROM pg_database WHERE datname = '\(replica)'") == "0")

        let next = try lifeboat.run(["backup"])
        #expect(next.status == 0, "\(next.allOutput)")
        for name in left {
            #expect(next.stderr.contains("dropped staging database \(name), left behind by a killed run (by pid "), "\(next.stderr)")
        }
        #expect(try admin.value(staging).split(separator: "\n").map(String.init) == [live, away])
        #expect(try TestDatabase(name: replica, url: try TestDatabase.url(try TestEnvironment.requireServer(), database: replica))
            .value("SELECT count(*) FROM big") == (try source.value("SELECT count(*) FROM big")))
        for name in [live, away] { try admin.execute("DROP DATABASE \(name)") }
    }

    @Test func aStagingSchemaOfAKilledRunIsDroppedByTheNextBackup() throws {
        let (source, lifeboat) = try setUp("kill_schemas") { "\($0.url)\n    mode: schema" }
        defer { lifeboat.cleanUp() }
        let schemas = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'backup%' OR nspname LIKE 'lifeboat%' ORDER BY nspname"

        try killBackup(lifeboat, on: "'\(source.name)'") { try source.value(schemas).hasPrefix("lifeboat_new_") }
        let left = try source.value(schemas)
        #expect(left.hasPrefix("lifeboat_new_") && !left.contains("\n"), "\(left)")

        let next = try lifeboat.run(["backup"])
        #expect(next.status == 0, "\(next.allOutput)")
        let id = next.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(next.stderr.contains("dropped staging schema \(left), left behind by a killed run (by pid "), "\(next.stderr)")
        #expect(try source.value(schemas) == "backup_\(id)")
    }
}
