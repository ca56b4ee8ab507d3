import Foundation
import Testing

/// A fresh database on the test server, with helpers to fill and inspect it.
struct TestDatabase {
    let name: String
    let url: String

    /// Creates an empty database named `<prefix>_<random>`.
    static func create(_ prefix: String) throws -> TestDatabase {
        let server = try TestEnvironment.requireServer()
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        let admin = TestDatabase(name: "postgres", url: server)
        try admin.execute("CREATE DATABASE \(name)")
        return TestDatabase(name: name, url: try Self.url(server, database: name))
    }

    /// `server` pointing at another database.
    static func url(_ server: String, database: String) throws -> String {
        guard var components = URLComponents(string: server) else { throw TestFailure("bad server URL") }
        components.path = "/" + database
        return components.string!
    }

    /// Runs SQL through psql, stopping at the first error.
    @discardableResult
    func execute(_ sql: String) throws -> String {
        let result = try Command.run(
            TestEnvironment.pgBin + "/psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"], input: sql)
        guard result.status == 0 else { throw TestFailure("psql failed on \(name): \(result.stderr)") }
        return result.stdout
    }

    /// The single value a query returns.
    func value(_ sql: String) throws -> String {
        let result = try Command.run(
            TestEnvironment.pgBin + "/psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        guard result.status == 0 else { throw TestFailure("psql failed on \(name): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `pg_dump` of the database as plain SQL, without the random `\restrict` keys, for comparisons.
    func dump(_ options: [String] = []) throws -> String {
        let result = try Command.run(TestEnvironment.pgBin + "/pg_dump", options + ["-d", url])
        guard result.status == 0 else { throw TestFailure("pg_dump failed on \(name): \(result.stderr)") }
        return result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }
            .joined(separator: "\n")
    }

    /// Fills this (empty) database from `source` with `pg_dump | pg_restore`: the reference for what a logical
    /// round trip keeps.
    func restoring(from source: TestDatabase) throws -> TestDatabase {
        let result = try Command.run(
            "/bin/sh", ["-c", "\"$0/pg_dump\" -Fc -d \"$1\" | \"$0/pg_restore\" --exit-on-error -d \"$2\"",
                        TestEnvironment.pgBin, source.url, url])
        guard result.status == 0 else { throw TestFailure("pg_dump | pg_restore failed: \(result.stderr)") }
        return self
    }

    /// The tables (of `schema`, or of every schema but the system's) with a page not marked all-frozen, e.g.
    /// `app.dogs, public.notes`; creates the `pg_visibility` extension first.
    func unfrozenTables(in schema: String? = nil) throws -> String {
        try execute("CREATE EXTENSION IF NOT EXISTS pg_visibility")
        let schemas = schema.map { "n.nspname = '\($0)'" }
            ?? "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'"
        return try value("""
            SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY 1) FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace, LATERAL pg_visibility_map_summary(c.oid) v
            WHERE c.relkind = 'r' AND \(schemas)
              AND v.all_frozen < pg_relation_size(c.oid) / current_setting('block_size')::int
            """)
    }

    /// Whether the database holds no user tables.
    func isEmpty() throws -> Bool {
        try value("""
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            """) == "0" && value("SELECT count(*) FROM pg_largeobject_metadata") == "0"
    }
}

/// The CLI under test, run in a scratch folder of its own.
struct LifeboatRunner {
    let folder: URL
    /// What every run gets in its environment (`nil` removes a variable).
    var environment: [String: String?]

    /// A runner with a new scratch folder, which also holds its lock files; `DATABASE_URL` is `source` when given,
    /// and no environment is named (so no retention applies unless a test asks for it).
    init(source: String? = nil) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        environment = [
            "DATABASE_URL": source, "LIFEBOAT_STATE_DIR": folder.appendingPathComponent("state").path,
            "LIFEBOAT_ENV": nil, "NODE_ENV": nil,
        ]
    }

    /// The folder holding the lock files of this runner's targets.
    var locks: URL { folder.appendingPathComponent("state/locks") }

    /// The default target folder, `./backups`.
    var backups: URL { folder.appendingPathComponent("backups") }

    /// Runs `lifeboat` with `arguments`.
    func run(_ arguments: [String], environment extra: [String: String?] = [:]) throws -> CommandResult {
        try Command.run(
            try TestEnvironment.lifeboatBinary(), arguments,
            environment: environment.merging(extra) { _, new in new }, directory: folder)
    }

    /// Runs `lifeboat backup` and returns the new id, failing the test if it fails.
    func backup(_ extra: [String] = []) throws -> String {
        let result = try run(["backup"] + extra)
        guard result.status == 0 else { throw TestFailure("backup failed (\(result.status)): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes `lifeboat.yml` in the scratch folder.
    func writeConfig(_ yaml: String) throws {
        try yaml.write(to: folder.appendingPathComponent("lifeboat.yml"), atomically: true, encoding: .utf8)
    }

    /// Writes an executable `text` as `name` in the scratch folder and returns its path. The file is open
    /// close-on-exec, so that no program another test starts meanwhile keeps it open for writing: running it would
    /// then fail with "Text file busy" for as long as that program runs.
    func writeProgram(_ name: String, _ text: String) throws -> String {
        let path = folder.appendingPathComponent(name).path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw TestFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TestFailure("cannot write \(path)")
        }
        return path
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }
}
