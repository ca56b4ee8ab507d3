import Foundation
import LifeboatCore
import Testing

/// SIGTERM (or Ctrl-C) at any moment leaves nothing partial: no backup folder, no half-restored database.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct InterruptTests {
    /// A source large enough to interrupt, a runner, and the path of its config (an absolute target folder).
    func setUp(_ prefix: String) throws -> (TestDatabase, LifeboatRunner, String) {
        let source = try bigSource(prefix)
        let lifeboat = try LifeboatRunner(source: source.url)
        try lifeboat.writeConfig("targets:\n  - url: \(lifeboat.backups.path)\n")
        return (source, lifeboat, lifeboat.folder.appendingPathComponent("lifeboat.yml").path)
    }

    func bigSource(_ prefix: String) throws -> TestDatabase {
        let source = try TestDatabase.create(prefix)
        try source.execute("""
            CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a, md5((g + 1)::text) AS b FROM generate_series(1, 800000) g;
            CREATE INDEX big_a ON big (a);
            CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 1000) g;
            """)
        return source
    }

    /// Starts the CLI with a clean signal mask, lets it run for `delay` seconds once `started` says it has got
    /// going (on a busy machine a process can take a while to start), then sends SIGTERM.
    ///
    /// The clock runs on a thread of its own: other tests block threads of Swift's pool while their programs run,
    /// and a sleeping task could wake only once the run it was to interrupt had finished.
    func interrupt(
        _ arguments: [String], after delay: Double, config: String, source: String,
        started: @escaping @Sendable () -> Bool = { true }
    ) async throws -> ChildProcess.Status {
        let child = try ChildProcess(
            executable: try TestEnvironment.lifeboatBinary(), arguments: arguments + ["--config", config],
            environment: ["DATABASE_URL": source], output: .discard)
        await withCheckedContinuation { (signalled: CheckedContinuation<Void, Never>) in
            Thread {
                var polls = 0
                while polls < 1000 && !started() {
                    usleep(10_000)
                    polls += 1
                }
                usleep(UInt32(delay * 1_000_000))
                child.terminate()
                signalled.resume()
            }.start()
        }
        return await child.wait()
    }

    /// A `started` condition for a backup: a folder appeared in `lifeboat`'s target folder.
    func reservesAFolder(_ lifeboat: LifeboatRunner) -> @Sendable () -> Bool {
        let path = lifeboat.backups.path
        let folders: @Sendable () -> Set<String> = {
            Set((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
        }
        let before = folders()
        return { !folders().subtracting(before).isEmpty }
    }

    @Test func interruptedRestoreReturnsTheTargetToEmpty() async throws {
        let (source, lifeboat, config) = try setUp("int_restore")
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        var interrupted = 0
        for delay in [0.4, 0.8, 1.5] {
            let target = try TestDatabase.create("int_restore_dst")
            let status = try await interrupt(
                ["restore", "--into", target.url], after: delay, config: config, source: source.url)
            if status.code == 130 {
                interrupted += 1
                #expect(status.errorOutput.contains("interrupted"), "\(status.errorOutput)")
                #expect(status.errorOutput.contains("returned to empty"), "\(status.errorOutput)")
                #expect(try target.isEmpty())
            } else {
                #expect(status.code == 0, "finished before the signal, or failed: \(status.errorOutput)")
            }
        }
        #expect(interrupted > 0, "no restore was still running when interrupted")
    }

    @Test func interruptedDrillDropsItsThrowawayDatabase() async throws {
        let (source, lifeboat, config) = try setUp("int_drill")
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()
        let admin = TestDatabase(name: "postgres", url: try TestEnvironment.requireServer())
        let scratch = "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(source.name)'"
        var interrupted = 0
        for delay in [0.1, 0.4, 1.0] {
            // Started: the throwaway database exists.
            let status = try await interrupt(["drill"], after: delay, config: config, source: source.url) {
                (try? admin.value(scratch)) == "1"
            }
            if status.code == 130 {
                interrupted += 1
                #expect(status.errorOutput.contains("interrupted"), "\(status.errorOutput)")
            } else {
                #expect(status.code == 0, "finished before the signal, or failed: \(status.errorOutput)")
            }
            #expect(try admin.value(scratch) == "0", "the throwaway database was left behind")
        }
        #expect(interrupted > 0, "no drill was still running when interrupted")
    }

    @Test func interruptedBackupKeepsNothing() async throws {
        let (source, lifeboat, config) = try setUp("int_backup")
        defer { lifeboat.cleanUp() }
        var interrupted = 0
        for delay in [0.05, 0.2, 0.5] {
            let status = try await interrupt(
                ["backup"], after: delay, config: config, source: source.url, started: reservesAFolder(lifeboat))
            if status.code == 130 {
                interrupted += 1
                #expect(status.errorOutput.contains("interrupted"), "\(status.errorOutput)")
            } else {
                #expect(status.code == 0, "\(status.errorOutput)")
            }
        }
        #expect(interrupted > 0, "no backup was still running when interrupted")
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: lifeboat.backups.path)) ?? []
        for folder in folders where folder != "audit.jsonl" {
            #expect(FileManager.default.fileExists(atPath: "\(lifeboat.backups.path)/\(folder)/manifest.json"),
                    "\(folder) has no manifest: an interrupted backup left it behind")
        }
    }

    @Test func interruptedReplicaLoadKeepsThePreviousCopy() async throws {
        let source = try bigSource("int_replica")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let replica = TestDatabase(
            name: source.name + "_rep", url: try TestDatabase.url(try TestEnvironment.requireServer(), database: source.name + "_rep"))
        try lifeboat.writeConfig("targets:\n  - url: \(lifeboat.backups.path)\n  - name: replica\n    url: \(replica.url)\n")
        let config = lifeboat.folder.appendingPathComponent("lifeboat.yml").path
        #expect(try lifeboat.run(["backup"]).status == 0)
        let contents = "SELECT count(*) || ' ' || sum(hashtext(a)) FROM big"
        var held = try replica.value(contents)
        var backups = 1
        try source.execute("DELETE FROM big WHERE id % 2 = 0")
        let admin = TestDatabase(name: "postgres", url: TestEnvironment.serverURL ?? "")
        var interrupted = 0
        for delay in [0.3, 0.8, 1.5] {
            let status = try await interrupt(["backup"], after: delay, config: config, source: source.url)
            if status.code == 130 {
                interrupted += 1
                #expect(try replica.value(contents) == held, "\(status.errorOutput)")
            } else {
                #expect(status.code == 0, "finished before the signal, or failed: \(status.errorOutput)")
                (held, backups) = (try replica.value(contents), backups + 1)
            }
            let list = try lifeboat.run(["list"])
            #expect(list.stdout.split(separator: "\n").count == 1 + backups, "\(list.allOutput)")
            let scratch = try admin.value(
                "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%\\_\(replica.name)'")
            #expect(scratch == "0", "a staging database was left behind")
        }
        #expect(interrupted > 0, "no replica load was still running when interrupted")
    }

    @Test func interruptedSchemaCopyLeavesNoSchema() async throws {
        let source = try bigSource("int_schemas")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig(
            "targets:\n  - url: \(lifeboat.backups.path)\n  - name: snapshots\n    url: \(source.url)\n    mode: schema\n")
        let config = lifeboat.folder.appendingPathComponent("lifeboat.yml").path
        let schemas = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'backup%' OR nspname LIKE 'lifeboat%'"
        var backups = 0
        var interrupted = 0
        for delay in [0.05, 0.2, 0.5] {
            let status = try await interrupt(
                ["backup"], after: delay, config: config, source: source.url, started: reservesAFolder(lifeboat))
            if status.code == 130 {
                interrupted += 1
            } else {
                #expect(status.code == 0, "finished before the signal, or failed: \(status.errorOutput)")
                backups += 1
            }
            #expect(try source.value(schemas) == String(backups), "a staging schema was left behind")
        }
        #expect(interrupted > 0, "no schema copy was still running when interrupted")
    }
}
