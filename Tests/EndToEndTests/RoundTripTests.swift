import Foundation
import Testing

@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct RoundTripTests {
    @Test func richDatabaseRestoresIndistinguishable() throws {
        let source = try TestDatabase.create("rich_src")
        try source.execute(Fixtures.richSchema)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }

        let id = try lifeboat.backup(["--label", "before-migration"])
        #expect(id.count == 14 && id.allSatisfy(\.isNumber))

        let target = try TestDatabase.create("rich_dst")
        let restore = try lifeboat.run(["restore", "before-migration", "--into", target.url])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("row counts match"))
        #expect(restore.stdout.contains("app.orders_2026"))

        // What a pg_dump/pg_restore round trip keeps, Lifeboat keeps: the restored database matches one restored
        // by pg_restore (which, too, moves a column added to an inheritance parent ahead of the child's own).
        let reference = try TestDatabase.create("rich_ref").restoring(from: source)
        #expect(try target.dump(["--schema-only"]) == reference.dump(["--schema-only"]))
        #expect(try target.dump() == reference.dump())
        let dogs = "SELECT string_agg(concat_ws(',', id, name, good, legs), ';' ORDER BY id) FROM app.dogs"
        #expect(try target.value(dogs) == source.value(dogs))
        let sequence = "SELECT last_value || ' ' || is_called FROM app.ticket_seq"
        #expect(try target.value(sequence) == source.value(sequence))
        #expect(try target.value("SELECT count(*) FROM app.order_totals") == "200")
        #expect(try target.value("SELECT length(lo_get(max(body))) FROM app.documents") == "100000")

        // Loaded frozen: no vacuum of the restored database has to visit its pages (pg_restore's are not).
        #expect(try target.unfrozenTables() == "")
    }

    /// A table whose row security policies hide rows from its owner (`FORCE ROW LEVEL SECURITY`) restores whole
    /// when that owner restores it, into a database or a replica: its rows are counted before the policies exist.
    @Test func rowSecurityHidesNoRowsFromTheOwnerRestoringIt() throws {
        let server = try TestEnvironment.requireServer()
        let role = "rls_\(UUID().uuidString.prefix(8).lowercased())", password = UUID().uuidString
        let admin = TestDatabase(name: "postgres", url: server)
        try admin.execute("CREATE ROLE \(role) LOGIN CREATEDB PASSWORD '\(password)'")
        var components = try #require(URLComponents(string: server))
        (components.user, components.password) = (role, password)
        func asOwner(_ database: String) -> String {
            components.path = "/" + database
            return components.string!
        }
        let source = try TestDatabase.create("rls_src")
        let (target, replica) = try (
            TestDatabase(name: source.name + "_dst", url: TestDatabase.url(server, database: source.name + "_dst")),
            TestDatabase(name: source.name + "_rep", url: TestDatabase.url(server, database: source.name + "_rep")))
        try admin.execute("CREATE DATABASE \(target.name) OWNER \(role)")
        defer {
            for database in [target.name, replica.name] {
                _ = try? admin.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            }
            _ = try? source.execute("DROP OWNED BY \(role)")
            _ = try? admin.execute("DROP ROLE IF EXISTS \(role)")
        }
        try source.execute("""
            CREATE TABLE hidden AS SELECT g FROM generate_series(1, 10) g;
            ALTER TABLE hidden OWNER TO \(role);
            ALTER TABLE hidden ENABLE ROW LEVEL SECURITY;
            ALTER TABLE hidden FORCE ROW LEVEL SECURITY;
            CREATE POLICY upper_half ON hidden USING (g > 5);
            """)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("targets:\n  - url: ./backups\n  - name: replica\n    url: \(asOwner(replica.name))\n")

        let backup = try lifeboat.run(["backup"])
        #expect(backup.status == 0, "\(backup.allOutput)")
        #expect(try replica.value("SELECT count(*) FROM hidden") == "10")
        let restore = try lifeboat.run(["restore", "--from", "primary", "--into", asOwner(target.name)])
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(try target.value("SELECT count(*) FROM hidden") == "10")
        let secured = "SELECT relforcerowsecurity AND relrowsecurity FROM pg_class WHERE relname = 'hidden'"
        #expect(try target.value(secured) == "t")
    }

    @Test func backupFolderHoldsPrivateFilesAndAManifestWrittenLast() throws {
        let source = try TestDatabase.create("layout_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()

        let folder = lifeboat.backups.appendingPathComponent(id)
        let manager = FileManager.default
        let files = try manager.subpathsOfDirectory(atPath: folder.path)
        #expect(files.contains("manifest.json"))
        #expect(files.contains("schema.pgdump.zst"))
        #expect(!files.contains { $0.hasSuffix(".partial") })
        for file in files + [""] {
            let attributes = try manager.attributesOfItem(atPath: folder.appendingPathComponent(file).path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            let isFolder = attributes[.type] as? FileAttributeType == .typeDirectory
            #expect(mode == (isFolder ? 0o700 : 0o600), "\(file) has mode \(String(mode, radix: 8))")
        }

        let backup = try BackupFolder(folder)
        let manifest = backup.manifest
        #expect(manifest["format_version"] as? Int == 2)
        #expect(manifest["id"] as? String == id)
        let source_ = try #require(manifest["source"] as? [String: Any])
        #expect(source_["database"] as? String == source.name)
        #expect((source_["server_version"] as? String)?.hasPrefix("15.") == true)
        #expect(source_["snapshot"] as? String != nil)
        #expect(source_["dump_tool_major_version"] as? Int == 15)
        let target = try #require(backup.targets.first)
        #expect(target["name"] as? String == "primary" && target["status"] as? String == "complete")
        #expect(target["location"] as? String == lifeboat.backups.path)
        let artifacts = backup.artifacts
        let accounts = try #require(artifacts.first { ($0["table"] as? [String: String])?["name"] == "accounts" })
        #expect(accounts["rows"] as? Int == 500)
        #expect((accounts["sha256"] as? String)?.count == 64)
        // The manifest's checksum matches the file on disk.
        let data = try Data(contentsOf: folder.appendingPathComponent(accounts["name"] as! String))
        #expect(data.count == accounts["stored_bytes"] as? Int)
    }

    @Test func selectorsFindBackupsByLatestIdAndLabel() throws {
        let source = try TestDatabase.create("select_src")
        try source.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1);")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let first = try lifeboat.backup(["--label", "one"])
        try source.execute("INSERT INTO t VALUES (2);")
        let second = try lifeboat.backup()
        #expect(second > first)

        let list = try lifeboat.run(["list", "--json"])
        #expect(list.status == 0)
        let entries = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [[String: Any]]
        #expect(entries.map { $0["id"] as? String } == [first, second])
        #expect(entries[0]["label"] as? String == "one")

        for (selector, rows) in [("latest", "2"), (first, "1"), ("one", "1")] {
            let target = try TestDatabase.create("select_dst")
            let result = try lifeboat.run(["restore", selector, "--into", target.url])
            #expect(result.status == 0, "\(selector): \(result.stderr)")
            #expect(try target.value("SELECT count(*) FROM t") == rows, "\(selector)")
        }
        #expect(try lifeboat.run(["verify", second]).stdout.contains("intact"))
    }

    @Test func restoreByHandRecipeFromTheReadmeWorks() throws {
        let source = try TestDatabase.create("hand_src")
        try source.execute(Fixtures.richSchema)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()
        let target = try TestDatabase.create("hand_dst")

        let script = TestEnvironment.packageRoot.appendingPathComponent("examples/restore-by-hand.sh").path
        let result = try Command.run(
            "/bin/bash", [script, lifeboat.backups.appendingPathComponent(id).path, target.url],
            environment: ["PATH": TestEnvironment.pgBin + ":" + (TestEnvironment.environment["PATH"] ?? "")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try target.dump() == TestDatabase.create("hand_ref").restoring(from: source).dump())
    }
}
