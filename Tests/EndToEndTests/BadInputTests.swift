import Foundation
import Testing

/// Every bad input gives one line on stderr, a specific exit code, and never a password.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct BadInputTests {
    static let password = "s3cret-Pa55word"

    /// Checks the shape every failure must have.
    func expectOneLineFailure(_ result: CommandResult, code: Int32, mentioning text: String) {
        #expect(result.status == code, "exit \(result.status): \(result.stderr)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("lifeboat: error: "))
        #expect(result.stderr.contains(text), "\(result.stderr)")
        #expect(!result.allOutput.contains(Self.password))
        #expect(!result.allOutput.contains("Fatal error"))
    }

    func serverURL(password: String? = nil, port: Int? = nil, database: String = "postgres") throws -> String {
        var components = URLComponents(string: try TestEnvironment.requireServer())!
        if let password { components.password = password }
        if let port { components.port = port }
        components.path = "/" + database
        return components.string!
    }

    @Test func unreachableServer() throws {
        let lifeboat = try LifeboatRunner(source: try serverURL(password: Self.password, port: 1))
        defer { lifeboat.cleanUp() }
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 69, mentioning: "cannot reach")
    }

    @Test func wrongPassword() throws {
        let lifeboat = try LifeboatRunner(source: try serverURL(password: Self.password))
        defer { lifeboat.cleanUp() }
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 77, mentioning: "password")
    }

    @Test func missingDatabase() throws {
        let lifeboat = try LifeboatRunner(source: try serverURL(database: "no_such_database"))
        defer { lifeboat.cleanUp() }
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 69, mentioning: "no_such_database")
    }

    @Test func missingSourceURL() throws {
        let lifeboat = try LifeboatRunner()
        defer { lifeboat.cleanUp() }
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 78, mentioning: "DATABASE_URL")
    }

    @Test func missingPgDump() throws {
        let source = try TestDatabase.create("nodump")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("source:\n  pg_bin_dir: /nonexistent/bin\n")
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 72, mentioning: "pg_dump not found")
        #expect(!FileManager.default.fileExists(atPath: lifeboat.backups.path))
    }

    /// Points the runner's config at a folder holding a fake `tool` that reports PostgreSQL 14.
    func useOldTool(_ tool: String, in lifeboat: LifeboatRunner) throws {
        let bin = lifeboat.folder.appendingPathComponent("oldbin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        _ = try lifeboat.writeProgram("oldbin/\(tool)", "#!/bin/sh\necho '\(tool) (PostgreSQL) 14.9'\n")
        try lifeboat.writeConfig("source:\n  pg_bin_dir: \(bin.path)\n")
    }

    @Test func pgDumpOlderThanServer() throws {
        let source = try TestDatabase.create("olddump")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try useOldTool("pg_dump", in: lifeboat)
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 72, mentioning: "older than the server")
    }

    @Test func pgRestoreOlderThanTheArchiveIsRefused() throws {
        let source = try TestDatabase.create("oldrestore")
        try source.execute("CREATE TABLE t (v int);")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        try useOldTool("pg_restore", in: lifeboat)
        let target = try TestDatabase.create("oldrestore_dst")
        expectOneLineFailure(
            try lifeboat.run(["restore", "--into", target.url]), code: 72, mentioning: "older than the backup's server")
        #expect(try target.isEmpty())
    }

    @Test func unknownBackupID() throws {
        let source = try TestDatabase.create("unknown_id")
        try source.execute("CREATE TABLE t (v int);")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        expectOneLineFailure(try lifeboat.run(["verify", "20000101000000"]), code: 66, mentioning: "20000101000000")
        expectOneLineFailure(try lifeboat.run(["verify", "no-such-label"]), code: 66, mentioning: "no-such-label")
        let target = try TestDatabase.create("unknown_dst")
        expectOneLineFailure(
            try lifeboat.run(["restore", "19990101000000", "--into", target.url]), code: 66, mentioning: "lifeboat list")
    }

    @Test func unreadableAndInvalidConfig() throws {
        let lifeboat = try LifeboatRunner()
        defer { lifeboat.cleanUp() }
        expectOneLineFailure(
            try lifeboat.run(["list", "--config", "/nonexistent/lifeboat.yml"]), code: 78, mentioning: "cannot read")
        try lifeboat.writeConfig("source:\n  url: postgresql://x@127.0.0.1/db\n  jbos: 2\n")
        expectOneLineFailure(try lifeboat.run(["list"]), code: 78, mentioning: "source.jbos")
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ${LIFEBOAT_UNSET_VARIABLE}\n")
        expectOneLineFailure(try lifeboat.run(["list"]), code: 78, mentioning: "LIFEBOAT_UNSET_VARIABLE")
        try lifeboat.writeConfig("source: [unclosed\n")
        expectOneLineFailure(try lifeboat.run(["list"]), code: 78, mentioning: "not valid YAML")
    }

    @Test func passwordInConfigNeverLeaks() throws {
        let lifeboat = try LifeboatRunner()
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("source:\n  url: \(try serverURL(password: Self.password, port: 1))\n")
        expectOneLineFailure(try lifeboat.run(["backup", "--log-level", "trace"]), code: 69, mentioning: "127.0.0.1")
    }

    @Test func brokenYAMLNeverEchoesThePassword() throws {
        let lifeboat = try LifeboatRunner()
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("source:\n  url: \"postgresql://app:\(Self.password)@db/app\n")
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 78, mentioning: "not valid YAML (line")
    }

    @Test func unencodedAtSignInPasswordIsExplained() throws {
        let lifeboat = try LifeboatRunner(source: "postgresql://app:\(Self.password)@x@127.0.0.1:1/app")
        defer { lifeboat.cleanUp() }
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 78, mentioning: "percent-encode")
    }

    /// A table that cannot be read fails the backup at once, with more tables queued than connections.
    @Test func unreadableTableFailsTheBackupPromptly() throws {
        let source = try TestDatabase.create("rls_src")
        let role = "lb_reader_\(UUID().uuidString.prefix(8).lowercased())"
        try source.execute("""
            CREATE ROLE \(role) LOGIN PASSWORD '\(Self.password)';
            CREATE TABLE big AS SELECT g, md5(g::text) AS m FROM generate_series(1, 400000) g;
            CREATE TABLE guarded (v int);
            INSERT INTO guarded VALUES (1);
            ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
            CREATE POLICY nobody ON guarded USING (false);
            CREATE TABLE t3 (v int); CREATE TABLE t4 (v int); CREATE TABLE t5 (v int);
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO \(role);
            """)
        var url = URLComponents(string: source.url)!
        url.user = role
        url.password = Self.password
        let lifeboat = try LifeboatRunner(source: url.string!)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("source:\n  jobs: 1\n")
        let started = Date()
        let result = try lifeboat.run(["backup"])
        #expect(Date().timeIntervalSince(started) < 60)
        expectOneLineFailure(result, code: 1, mentioning: "copying table public.guarded failed")
        #expect(result.stderr.contains("row-level security"))
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: lifeboat.backups.path)) ?? []
        #expect(folders == ["audit.jsonl"], "a failed backup leaves nothing but its audit entry: \(folders)")
    }

    @Test func targetFolderNotWritable() throws {
        let source = try TestDatabase.create("unwritable")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let file = lifeboat.folder.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: \(file.path)/backups\n")
        expectOneLineFailure(try lifeboat.run(["backup"]), code: 73, mentioning: "target 'primary'")
    }

    @Test func restoreIntoNonEmptyDatabaseIsRefused() throws {
        let source = try TestDatabase.create("busy_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        let target = try TestDatabase.create("busy_dst")
        try target.execute("CREATE TABLE keep_me (v int); INSERT INTO keep_me VALUES (42);")
        expectOneLineFailure(try lifeboat.run(["restore", "--into", target.url]), code: 75, mentioning: "not empty")
        #expect(try target.value("SELECT v FROM keep_me") == "42")
    }

    @Test func invalidLabelIsAUsageError() throws {
        let lifeboat = try LifeboatRunner()
        defer { lifeboat.cleanUp() }
        let result = try lifeboat.run(["backup", "--label", "../bad"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("invalid label"))
    }
}
