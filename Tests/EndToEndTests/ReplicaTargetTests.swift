import Foundation
import LifeboatCore
import LifeboatLocalSink
import LifeboatPostgres
import Logging
import Testing

/// `postgresql://` targets: a standby replica database replaced by every backup, restores from it, and backup
/// schemas with retention.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct ReplicaTargetTests {
    let admin = TestDatabase(name: "postgres", url: TestEnvironment.serverURL ?? "")

    /// A database on the test server that need not exist yet.
    func database(_ name: String) throws -> TestDatabase {
        TestDatabase(name: name, url: try TestDatabase.url(try TestEnvironment.requireServer(), database: name))
    }

    /// Staging or replaced databases a replica load left behind.
    func scratchDatabases(of replica: TestDatabase) throws -> String {
        try admin.value("""
            SELECT coalesce(string_agg(datname, ','), '') FROM pg_database
            WHERE datname LIKE 'lifeboat\\_%' AND datname LIKE '%\\_' || '\(replica.name)'
            """)
    }

    /// `source` as `pg_dump | pg_restore` copies it.
    func reference(of source: TestDatabase) throws -> String {
        try TestDatabase.create("rep_ref").restoring(from: source).dump()
    }

    /// A source filled with `schema`, and a runner backing it up to `./backups` and to a replica that does not
    /// exist yet (`DATABASE_BACKUP_URL`, set for every run).
    func setUp(_ prefix: String, schema: String = Fixtures.small) throws -> (TestDatabase, TestDatabase, LifeboatRunner) {
        let source = try TestDatabase.create(prefix)
        try source.execute(schema)
        let replica = try database(source.name + "_rep")
        var lifeboat = try LifeboatRunner(source: source.url)
        lifeboat.environment["DATABASE_BACKUP_URL"] = replica.url
        return (source, replica, lifeboat)
    }

    @Test func replicaEqualsTheSourceAfterEveryBackup() throws {
        let (source, replica, lifeboat) = try setUp("rep_rich", schema: Fixtures.richSchema)
        defer { lifeboat.cleanUp() }

        let first = try lifeboat.run(["backup"])
        #expect(first.status == 0, "\(first.allOutput)")
        // As pg_dump | pg_restore would copy it (an inherited column's position is the one thing that differs).
        #expect(try replica.dump() == reference(of: source), "the replica database differs from the source")
        #expect(try scratchDatabases(of: replica) == "")

        try source.execute("""
            DELETE FROM app.orders WHERE id % 3 = 0;
            CREATE TABLE app.added (id int PRIMARY KEY, note text);
            INSERT INTO app.added SELECT g, 'n' || g FROM generate_series(1, 50) g;
            REFRESH MATERIALIZED VIEW app.order_totals;
            """)
        let second = try lifeboat.run(["backup"])
        #expect(second.status == 0, "\(second.allOutput)")
        let secondID = second.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try replica.dump() == reference(of: source), "the replica database did not follow the second backup")
        #expect(try scratchDatabases(of: replica) == "")
        #expect(try replica.unfrozenTables() == "", "loaded unfrozen: a vacuum would have to visit every page")

        let list = try lifeboat.run(["list"])
        #expect(list.status == 0, "\(list.allOutput)")
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.last?.hasSuffix("primary,replica") == true, "\(list.stdout)")
        #expect(lines.dropLast().last?.hasSuffix("primary,replica(replaced)") == true, "\(list.stdout)")
        #expect(try replica.value("SELECT split_part(shobj_description(oid, 'pg_database'), E'\\n', 1) FROM pg_database WHERE datname = '\(replica.name)'")
            == "Lifeboat backup \(secondID)")

        let verify = try lifeboat.run(["verify"])
        #expect(verify.status == 0, "\(verify.allOutput)")
        #expect(verify.stdout.contains("target 'replica': backup \(secondID) is held as a live database"), "\(verify.stdout)")

        // Someone changes the replica: verify says so.
        try replica.execute("DELETE FROM app.added WHERE id > 40")
        let damaged = try lifeboat.run(["verify", "--from", "replica"])
        #expect(damaged.status == 65, "\(damaged.allOutput)")
        #expect(damaged.stdout.contains("table app.added has 40 rows where backup \(secondID) has 50"), "\(damaged.stdout)")

        // A restore over the replica puts another backup in place: the replica no longer claims one.
        let firstID = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let over = try lifeboat.run(
            ["restore", firstID, "--from", "primary", "--into", replica.url, "--clean", "--no-safety-backup"])
        #expect(over.status == 0, "\(over.allOutput)")
        let after = try lifeboat.run(["list"]).stdout
        #expect(after.split(separator: "\n").last?.hasSuffix("primary,replica(missing)") == true, "\(after)")
    }

    @Test func aFailedLoadKeepsThePreviousCopy() throws {
        let (source, replica, lifeboat) = try setUp("rep_fail")
        defer { lifeboat.cleanUp() }
        let first = try lifeboat.run(["backup"])
        #expect(first.status == 0, "\(first.allOutput)")
        let held = try replica.dump()
        #expect(held == (try source.dump()))

        // The new copy fails in its last step (a materialized view that cannot refresh in a staging database).
        try source.execute(Fixtures.viewFailingInDatabases(like: "lifeboat_new%") + "DELETE FROM notes WHERE id > 100;")
        let required = try lifeboat.run(["backup"])
        #expect(required.status == 73, "\(required.allOutput)")
        #expect(required.stderr.contains("division by zero"), "\(required.stderr)")
        #expect(required.stderr.contains("the previous copy is kept"), "\(required.stderr)")
        #expect(try replica.dump() == held, "a failed load changed the replica")
        #expect(try scratchDatabases(of: replica) == "")

        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: replica
                url: ${DATABASE_BACKUP_URL}
                required: false
            """)
        let optional = try lifeboat.run(["backup"])
        #expect(optional.status == 3, "\(optional.allOutput)")
        #expect(try replica.dump() == held, "a failed load changed the replica")
        #expect(try scratchDatabases(of: replica) == "")
        let list = try lifeboat.run(["list"])
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 3, "\(list.stdout)")
        #expect(lines.last?.hasSuffix("primary,replica(failed)") == true, "\(list.stdout)")
        #expect(lines.dropLast().last?.hasSuffix("primary,replica") == true, "\(list.stdout)")
    }

    @Test func aReplicaSwapsOnlyOnceEveryOtherRequiredTargetHasCommitted() async throws {
        let (source, replica, lifeboat) = try setUp("rep_order")
        defer { lifeboat.cleanUp() }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let sink = try ReplicaSink(target: TargetConfig(name: "replica", url: replica.url))
        func engine(_ other: BackupTarget) throws -> BackupEngine {
            BackupEngine(
                source: try PostgresSource(config: SourceConfig(url: source.url)),
                targets: [BackupTarget(sink: sink, compression: .none, codec: nil), other], logger: logger)
        }
        let local = try LocalSink(target: TargetConfig(name: "local", url: lifeboat.backups.path))
        _ = try await engine(BackupTarget(sink: local, compression: .none, codec: nil)).run(label: nil)
        let held = try replica.dump()
        try source.execute("DELETE FROM notes WHERE id > 100")

        // The replica comes first and its commit takes longer; the other target's manifest fails.
        let failing = try ScriptedSink(
            name: "scripted", folder: lifeboat.folder.appendingPathComponent("scripted"), fault: .failAtCommit)
        await #expect(throws: LifeboatError.self) {
            try await engine(BackupTarget(sink: failing, compression: .none, codec: nil)).run(label: nil)
        }
        #expect(try replica.dump() == held, "the replica was replaced by a backup that was not kept")
        #expect(try await sink.listBackups().count == 1)
        #expect(try scratchDatabases(of: replica) == "")
    }

    @Test func aReplicaInUseIsSwappedOnlyWhenAllowed() throws {
        let (source, replica, lifeboat) = try setUp("rep_busy")
        defer { lifeboat.cleanUp() }
        #expect(try lifeboat.run(["backup"]).status == 0)
        let held = try replica.dump()
        try source.execute("DELETE FROM notes WHERE id > 100")

        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: TestEnvironment.pgBin + "/psql")
        reader.arguments = ["-X", "-q", "-d", replica.url, "-c", "SELECT pg_sleep(30)"]
        reader.standardOutput = FileHandle.nullDevice
        reader.standardError = FileHandle.nullDevice
        try reader.run()
        defer { reader.terminate() }
        for _ in 0..<50 {
            if try admin.value("SELECT count(*) FROM pg_stat_activity WHERE datname = '\(replica.name)'") != "0" { break }
            Thread.sleep(forTimeInterval: 0.1)
        }

        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: replica
                url: ${DATABASE_BACKUP_URL}
                terminate_sessions: false
            """)
        let refused = try lifeboat.run(["backup"])
        #expect(refused.status == 75, "\(refused.allOutput)")
        #expect(refused.stderr.contains("set terminate_sessions: true on the target"), "\(refused.stderr)")
        #expect(try replica.dump() == held)

        try FileManager.default.removeItem(at: lifeboat.folder.appendingPathComponent("lifeboat.yml"))
        let swapped = try lifeboat.run(["backup"])
        #expect(swapped.status == 0, "\(swapped.allOutput)")
        #expect(swapped.stderr.contains("warning target 'replica': ended 1 session connected to "), "\(swapped.stderr)")
        #expect(try replica.dump() == source.dump())
        reader.waitUntilExit()
        #expect(reader.terminationStatus != 0, "the session on the replica was not ended")
    }

    @Test func restoreFromTheReplicaDumpsItAfresh() throws {
        let (source, replica, lifeboat) = try setUp("rep_restore", schema: Fixtures.richSchema)
        defer { lifeboat.cleanUp() }
        let backup = try lifeboat.run(["backup"])
        #expect(backup.status == 0, "\(backup.allOutput)")
        let id = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = try reference(of: source)
        try source.execute("DROP SCHEMA app CASCADE")  // the disaster

        let into = try TestDatabase.create("rep_into")
        let restore = try lifeboat.run(["restore", "latest", "--from", "replica", "--into", into.url])
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(restore.stdout.contains("dumped target 'replica', which holds backup \(id), as "), "\(restore.stdout)")
        #expect(restore.stdout.contains("row counts match"), "\(restore.stdout)")
        #expect(try into.dump() == expected)

        // Only the backup it holds, and only as it was loaded.
        let other = try lifeboat.run(["restore", "20200101000000", "--from", "replica", "--into", into.url])
        #expect(other.status == 66, "\(other.allOutput)")
        #expect(other.stderr.contains("holds no backup matching 20200101000000; it holds \(id)"), "\(other.stderr)")
        try replica.execute("INSERT INTO app.customers (email) VALUES ('late@example.com')")
        let empty = try TestDatabase.create("rep_into2")
        let changed = try lifeboat.run(["restore", "--from", "replica", "--into", empty.url])
        #expect(changed.status == 65, "\(changed.allOutput)")
        #expect(changed.stderr.contains("no longer holds backup \(id) as it was loaded: table app.customers has 201 rows"), "\(changed.stderr)")
        #expect(try empty.isEmpty())

        // Restores read stored copies, never the replica, even when it comes first.
        try lifeboat.writeConfig("""
            targets:
              - name: replica
                url: ${DATABASE_BACKUP_URL}
              - name: primary
                url: ./backups
            """)
        let stored = try lifeboat.run(["restore", id, "--into", empty.url])
        #expect(stored.status == 0, "\(stored.allOutput)")
        #expect(try empty.dump() == expected)
    }

    @Test func schemaModeKeepsBackupSchemasUnderRetention() throws {
        let source = try TestDatabase.create("rep_schemas")
        try source.execute(Fixtures.small + """
            CREATE SCHEMA extra;
            CREATE TYPE extra.mood AS ENUM ('ok', 'sad');
            CREATE TABLE extra.moods (m extra.mood, tags text[], at timestamptz);
            INSERT INTO extra.moods VALUES ('ok', '{a,b}', '2026-01-02 03:04:05+00'), ('sad', NULL, NULL);
            -- Loaded at once: a table's array type is named like the other table (_pair), and must not clash.
            CREATE TABLE pair AS SELECT g AS n FROM generate_series(1, 100000) g;
            CREATE TABLE _pair AS SELECT g AS n FROM generate_series(1, 100000) g;
            CREATE SCHEMA lifeboat_new_payroll;  -- a user's schema, named like Lifeboat's staging ones
            CREATE TABLE lifeboat_new_payroll.pay (n int);
            INSERT INTO lifeboat_new_payroll.pay VALUES (1), (2);
            """)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: snapshots
                url: ${DATABASE_URL}
                mode: schema
                retention:
                  keep_last: 2
            """)
        var ids: [String] = []
        for round in 1...3 {
            try source.execute("DELETE FROM notes WHERE id > \(2000 - round * 100)")
            ids.append(try lifeboat.backup(["--prune"]))
            Thread.sleep(forTimeInterval: 1)
        }
        let schemas = try source.value(
            "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'backup%' OR nspname LIKE 'lifeboat%'")
        #expect(schemas == "backup_\(ids[1]),backup_\(ids[2]),lifeboat_new_payroll")
        let newest = "backup_\(ids[2])"
        #expect(try source.value("SELECT count(*) FROM \(newest).notes") == "1700")
        #expect(try source.value("SELECT string_agg(format('%s|%s|%s', m, tags, at), ';') FROM \(newest).\"extra.moods\"")
            == (try source.value("SELECT string_agg(format('%s|%s|%s', m, tags, at), ';') FROM extra.moods")))
        #expect(try source.value("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(newest).accounts'::regclass AND attname = 'balance'")
            == "numeric(12,2)")
        #expect(try source.value("SELECT sum(balance) FROM \(newest).accounts") == (try source.value("SELECT sum(balance) FROM accounts")))
        #expect(try source.value("SELECT count(*) FROM \(newest)._pair") == "100000")
        #expect(try source.unfrozenTables(in: newest) == "", "copied unfrozen: a vacuum would have to visit every page")

        // Backup schemas are not part of the database's own backups.
        let list = try lifeboat.run(["list", "--json"])
        #expect(list.status == 0, "\(list.allOutput)")
        let entries = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(entries.map { $0["tables"] as? Int } == [6, 6, 6], "\(list.stdout)")
        #expect(try source.value("SELECT count(*) FROM \(newest).\"lifeboat_new_payroll.pay\"") == "2")
        #expect(list.stdout.contains("\"snapshots\""))

        let verify = try lifeboat.run(["verify", "--from", "snapshots"])
        #expect(verify.status == 0, "\(verify.allOutput)")
        #expect(verify.stdout.contains("backup \(ids[2]) is held as a live database: 6 tables, row counts match"), "\(verify.stdout)")
        try source.execute("DROP TABLE \(newest).notes")
        let damaged = try lifeboat.run(["verify", "--from", "snapshots"])
        #expect(damaged.status == 65, "\(damaged.allOutput)")
        #expect(damaged.stdout.contains("DAMAGED: target 'snapshots': the rows of backup \(ids[2]) cannot be counted"), "\(damaged.stdout)")
        let restore = try lifeboat.run(["restore", "--from", "snapshots", "--into", source.url])
        #expect(restore.status == 78, "\(restore.allOutput)")
        #expect(restore.stderr.contains("keeps backup schemas"), "\(restore.stderr)")
    }

    @Test func latestMeansTheNewestBackupATargetStores() throws {
        let (_, _, lifeboat) = try setUp("rep_latest")
        defer { lifeboat.cleanUp() }
        let stored = try lifeboat.run(["backup"])
        #expect(stored.status == 0, "\(stored.allOutput)")
        try lifeboat.writeConfig("targets:\n  - name: replica\n    url: ${DATABASE_BACKUP_URL}\n")
        let replicaOnly = try lifeboat.run(["backup"])
        #expect(replicaOnly.status == 0, "\(replicaOnly.allOutput)")
        try FileManager.default.removeItem(at: lifeboat.folder.appendingPathComponent("lifeboat.yml"))

        let into = try TestDatabase.create("rep_latest_into")
        let restore = try lifeboat.run(["restore", "--into", into.url])
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(restore.stdout.contains("restored backup \(stored.stdout.trimmingCharacters(in: .whitespacesAndNewlines))"),
                "\(restore.stdout)")

    }

    @Test func tableLoadsWaitingForTheSchemaFailWhenItIsAbandoned() async throws {
        let replica = try database("rep_gate_\(UUID().uuidString.prefix(8).lowercased())")
        let sink = try ReplicaSink(target: TargetConfig(name: "replica", url: replica.url))
        let writer = try #require(try await sink.beginBackup(id: "20260101000000"))
        let source = SourceInfo(
            kind: "postgresql", serverVersion: "15.18", database: "elsewhere", sizeBytes: 0, snapshot: "", encoding: "UTF8")
        let plan = ArtifactPlan(
            name: "data/000001-public.t.copy", kind: .tableData, table: TableName(schema: "public", name: "t"), columns: ["a"])
        let table = try await writer.makeArtifactWriter(name: plan.name, for: plan, of: source)
        let waiting = Task { try await table.write(Array("1\n".utf8)) }
        try await Task.sleep(for: .milliseconds(200))
        let schema = try await writer.makeArtifactWriter(
            name: ArtifactName.schema, for: ArtifactPlan(name: ArtifactName.schema, kind: .schema), of: source)
        await schema.abort()  // e.g. its temporary file could not be written
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask {
                do { try await waiting.value } catch { return "\(error)" }
                return "written"
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                return "still waiting"
            }
            let first = await group.next() ?? ""
            waiting.cancel()
            group.cancelAll()
            return first
        }
        #expect(outcome.contains("the schema was not received"), "\(outcome)")
        await table.abort()
        await writer.abort()
        #expect(try admin.value("SELECT count(*) FROM pg_database WHERE datname LIKE '%\(replica.name)'") == "0")
    }

    @Test func badReplicaSettingsAreRefusedClearly() throws {
        let source = try TestDatabase.create("rep_bad")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }

        let oid = try source.value("SELECT oid FROM pg_database WHERE datname = current_database()")
        for spelling in [source.url, source.url.replacingOccurrences(of: "127.0.0.1", with: "localhost")] {
            let itself = try lifeboat.run(["backup"], environment: ["DATABASE_BACKUP_URL": spelling])
            #expect(itself.status == 78, "\(itself.allOutput)")
            #expect(itself.stderr.contains("names the source database"), "\(itself.stderr)")
        }
        #expect(try source.value("SELECT oid FROM pg_database WHERE datname = current_database()") == oid)
        let itself = try lifeboat.run(["backup"], environment: ["DATABASE_BACKUP_URL": source.url])
        let password = try #require(URLComponents(string: source.url)?.password)
        #expect(!itself.allOutput.contains(password))

        try lifeboat.writeConfig("""
            targets:
              - name: standby
                url: \(source.url)_copy
                mode: mirror
            """)
        let mode = try lifeboat.run(["backup"])
        #expect(mode.status == 78, "\(mode.allOutput)")
        #expect(mode.stderr.contains("target 'standby': mode must be database"), "\(mode.stderr)")
        #expect(mode.stderr.split(separator: "\n").count == 1, "\(mode.stderr)")
    }
}
