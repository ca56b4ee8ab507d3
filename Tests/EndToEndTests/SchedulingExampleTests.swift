import Foundation
import Testing

/// `examples/scheduling/before-migration.sh`: a labelled backup before a migration, and the database put back as
/// it was when the migration fails.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct SchedulingExampleTests {
    static let script = TestEnvironment.packageRoot.appendingPathComponent("examples/scheduling/before-migration.sh").path

    /// Runs the script in the runner's folder with `migration` as the command it guards.
    func migrate(_ lifeboat: LifeboatRunner, _ database: TestDatabase, _ migration: String) throws -> CommandResult {
        let binaries = URL(fileURLWithPath: try TestEnvironment.lifeboatBinary()).deletingLastPathComponent().path
        var environment = lifeboat.environment
        environment["DATABASE_URL"] = database.url
        environment["PATH"] = binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        return try Command.run(
            "/bin/bash", [Self.script, "/bin/bash", "-c", migration], environment: environment, directory: lifeboat.folder)
    }

    @Test func aFailedMigrationIsUndoneAndASuccessfulOneKeepsItsBackup() throws {
        let source = try TestDatabase.create("migration")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let before = try source.dump()
        let psql = TestEnvironment.pgBin + "/psql"

        let failed = try migrate(
            lifeboat, source,
            "'\(psql)' -q -d \"$DATABASE_URL\" -c 'ALTER TABLE accounts ADD COLUMN tier int' -c 'DELETE FROM notes' && exit 4")
        #expect(failed.status == 4, "\(failed.allOutput)")
        #expect(failed.stderr.contains("the migration failed (exit 4); restoring backup"), "\(failed.stderr)")
        #expect(try source.dump() == before, "the database is not as it was before the migration")

        let succeeded = try migrate(lifeboat, source, "'\(psql)' -q -d \"$DATABASE_URL\" -c 'CREATE TABLE added (id int)'")
        #expect(succeeded.status == 0, "\(succeeded.allOutput)")
        let list = try lifeboat.run(["list"])
        #expect(list.stdout.components(separatedBy: "before-migration-").count - 1 == 2, "\(list.stdout)")
        #expect(try source.value("SELECT count(*) FROM pg_tables WHERE tablename = 'added'") == "1")
    }
}
