import Foundation
import LifeboatCore
import Testing

/// Restores over live databases: replace and roll back, a failure half-way, single tables, busy databases.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct SafeRestoreTests {
    let admin = TestDatabase(name: "postgres", url: TestEnvironment.serverURL ?? "")

    /// Databases left by a replace of `database`: staging (`lifeboat_new_...`) or replaced (`lifeboat_old_...`).
    func scratchDatabases(of database: TestDatabase) throws -> String {
        try admin.value("""
            SELECT string_agg(datname, ',') FROM pg_database
            WHERE datname LIKE 'lifeboat\\_%' AND datname LIKE '%\\_' || \(quoted(database.name))
            """)
    }

    func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    /// Database-level settings a replace must carry over.
    func settings(of database: TestDatabase) throws -> String {
        try admin.value("""
            SELECT d.datacl::text || ' ' || coalesce(shobj_description(d.oid, 'pg_database'), '') || ' '
                   || d.datconnlimit || ' ' || coalesce((SELECT array_agg(x ORDER BY x)::text FROM pg_db_role_setting s,
                   unnest(s.setconfig) x WHERE s.setdatabase = d.oid), '')
            FROM pg_database d WHERE d.datname = \(quoted(database.name))
            """)
    }

    @Test func replaceALiveDatabaseThenRollBack() throws {
        let live = try TestDatabase.create("safe_live")
        try live.execute(Fixtures.small)
        try admin.execute("""
            ALTER DATABASE \(live.name) SET work_mem = '7MB';
            ALTER DATABASE \(live.name) SET search_path = "$user", public, "Odd Schema";
            COMMENT ON DATABASE \(live.name) IS 'the app''s data';
            REVOKE ALL ON DATABASE \(live.name) FROM PUBLIC;
            GRANT CONNECT ON DATABASE \(live.name) TO pg_monitor;
            ALTER DATABASE \(live.name) CONNECTION LIMIT 50;
            """)
        let databaseSettings = try settings(of: live)
        let lifeboat = try LifeboatRunner(source: live.url)
        defer { lifeboat.cleanUp() }
        let before = try live.dump()
        let beforeMigration = try lifeboat.backup(["--label", "before-migration"])

        // A migration that goes wrong.
        try live.execute("""
            ALTER TABLE accounts ADD COLUMN risk int DEFAULT 3;
            DELETE FROM notes WHERE id % 2 = 0;
            CREATE TABLE audit (id int);
            """)
        let migrated = try live.dump()

        let restore = try lifeboat.run(["restore", "before-migration", "--into", live.url, "--clean"])
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(restore.stdout.contains("safety backup "), "\(restore.stdout)")
        #expect(try live.dump() == before)
        #expect(try settings(of: live) == databaseSettings)
        #expect(try scratchDatabases(of: live) == "")
        let list = try lifeboat.run(["list"])
        #expect(list.stdout.contains(SafetyBackup.labelPrefix), "\(list.stdout)")
        // `latest` is still the newest regular backup, not the safety backup just taken.
        let copy = try TestDatabase.create("safe_live_copy")
        let latest = try lifeboat.run(["restore", "--into", copy.url])
        #expect(latest.stdout.contains("restored backup \(beforeMigration)"), "\(latest.allOutput)")

        let rollback = try lifeboat.run(["rollback", "--into", live.url])
        #expect(rollback.status == 0, "\(rollback.allOutput)")
        #expect(try live.dump() == migrated)
        #expect(try settings(of: live) == databaseSettings)
    }

    @Test func aReplaceFailingHalfWayLeavesTheDatabaseAsItWas() throws {
        let live = try TestDatabase.create("safe_half")
        // The view refreshes in the live database but not in a staging one: the restore fails in its last step.
        try live.execute(Fixtures.small + "\n" + Fixtures.viewFailingInDatabases(like: "lifeboat\\_new\\_%"))
        let lifeboat = try LifeboatRunner(source: live.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        try live.execute("UPDATE accounts SET balance = -1 WHERE id < 10;")
        let current = try live.dump()

        let restore = try lifeboat.run(["restore", "--into", live.url, "--clean"])
        #expect(restore.status == 1, "\(restore.allOutput)")
        #expect(restore.stderr.contains("division by zero"), "\(restore.stderr)")
        #expect(restore.stderr.contains("was left as it was"), "\(restore.stderr)")
        #expect(try live.dump() == current)
        #expect(try scratchDatabases(of: live) == "")
    }

    @Test func someTablesAreRestoredInOneTransactionWithTheirSequences() throws {
        let live = try TestDatabase.create("safe_tables")
        try live.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: live.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        try live.execute("""
            DELETE FROM notes WHERE id > 100;
            SELECT setval('notes_id_seq', 5);
            UPDATE accounts SET balance = 0;
            """)

        let restore = try lifeboat.run(["restore", "--into", live.url, "--table", "public.notes"])
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(restore.stdout.contains("public.notes"))
        #expect(!restore.stdout.contains("public.accounts"))
        #expect(restore.stdout.contains("safety backup "))
        #expect(try live.value("SELECT count(*) FROM notes") == "2000")
        #expect(try live.value("SELECT last_value FROM notes_id_seq") == "2000")
        #expect(try live.value("SELECT sum(balance) FROM accounts") == "0.00", "other tables are not touched")

        // A whole schema: accounts is loaded before notes, which references it. A trigger added since the backup
        // stays silent during the load and enabled after it; a disabled one stays disabled.
        try live.execute("""
            CREATE TABLE audit (note_id int);
            CREATE FUNCTION audit_note() RETURNS trigger LANGUAGE plpgsql AS
              $$ BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END $$;
            CREATE TRIGGER audited AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION audit_note();
            CREATE TRIGGER dormant AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION audit_note();
            ALTER TABLE notes DISABLE TRIGGER dormant;
            DELETE FROM notes; DELETE FROM accounts;
            """)
        let schema = try lifeboat.run(["restore", "--into", live.url, "--schema", "public", "--no-safety-backup"])
        #expect(schema.status == 0, "\(schema.allOutput)")
        #expect(try live.value("SELECT count(*) FROM accounts") == "500")
        #expect(try live.value("SELECT count(*) FROM audit") == "0")
        #expect(try live.value("SELECT string_agg(tgname || '=' || tgenabled::text, ',' ORDER BY tgname) FROM pg_trigger "
            + "WHERE tgrelid = 'notes'::regclass AND NOT tgisinternal") == "audited=O,dormant=D")
        try live.execute("UPDATE accounts SET balance = 0;")

        // accounts is referenced by notes: it cannot be truncated alone, and nothing changes.
        let refused = try lifeboat.run(["restore", "--into", live.url, "--table", "public.accounts", "--no-safety-backup"])
        #expect(refused.status == 1, "\(refused.allOutput)")
        #expect(refused.stderr.contains("foreign key"), "\(refused.stderr)")
        #expect(try live.value("SELECT sum(balance) FROM accounts") == "0.00")

        let unknown = try lifeboat.run(["restore", "--into", live.url, "--table", "public.nosuch"])
        #expect(unknown.status == 78 && unknown.stderr.contains("has no table public.nosuch"), "\(unknown.allOutput)")
    }

    @Test func aDatabaseInUseIsReplacedOnlyWithForce() async throws {
        let live = try TestDatabase.create("safe_busy")
        try live.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: live.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        let client = try ChildProcess(
            executable: TestEnvironment.pgBin + "/psql", arguments: ["-X", "-d", live.url, "-c", "SELECT pg_sleep(3600)"],
            output: .discard)
        defer { client.terminate() }
        let sleeping = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            + "AND query LIKE '%pg_sleep(3600)%' AND pid <> pg_backend_pid()"
        for _ in 0..<100 {
            if try live.value(sleeping) != "0" { break }
            try await Task.sleep(for: .milliseconds(100))
        }

        let refused = try lifeboat.run(["restore", "--into", live.url, "--clean"])
        #expect(refused.status == 75, "\(refused.allOutput)")
        #expect(refused.stderr.contains("1 other session is connected"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--force"))

        let forced = try lifeboat.run(["restore", "--into", live.url, "--clean", "--force"])
        #expect(forced.status == 0, "\(forced.allOutput)")
        #expect(forced.stdout.contains("terminated 1 other session"), "\(forced.stdout)")
        #expect(await client.wait().succeeded == false, "the session was ended")
        #expect(try live.value("SELECT count(*) FROM notes") == "2000")
    }
}
