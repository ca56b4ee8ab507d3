import Foundation
import LifeboatCore
import Testing

@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct ConsistencyTests {
    /// pgbench moves money between accounts, tellers and branches in transactions; a backup that mixed instants
    /// would show totals that disagree.
    @Test func backupUnderConcurrentWritesRestoresOneInstant() async throws {
        let source = try TestDatabase.create("bench_src")
        let initialize = try Command.run(TestEnvironment.pgBin + "/pgbench", ["-i", "-q", "-s", "2", source.url])
        #expect(initialize.status == 0, "\(initialize.stderr)")

        let writers = try ChildProcess(
            executable: TestEnvironment.pgBin + "/pgbench", arguments: ["-c", "4", "-j", "2", "-T", "300", "-n", source.url],
            output: .discard)
        try await Task.sleep(for: .seconds(2))

        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()
        #expect(try await writers.isRunning(), "pgbench must still be writing when the backup ends")
        writers.terminate()
        _ = await writers.wait()

        let target = try TestDatabase.create("bench_dst")
        let restore = try lifeboat.run(["restore", id, "--into", target.url])
        #expect(restore.status == 0, "\(restore.stderr)")
        let history = try target.value("SELECT count(*) FROM pgbench_history")
        #expect(Int(history) ?? 0 > 0, "the backup must have caught transactions in flight")
        let totals = try target.value("""
            SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' || (SELECT sum(bbalance) FROM pgbench_branches)
                || ' ' || (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' || (SELECT sum(delta) FROM pgbench_history)
            """).split(separator: " ")
        #expect(totals.count == 4)
        #expect(Set(totals).count == 1, "balances disagree: \(totals)")
    }

    /// Killing a backup at any moment leaves nothing that claims to be complete.
    @Test func killedBackupLeavesNoCompleteBackup() throws {
        let source = try TestDatabase.create("kill_src")
        try source.execute("""
            CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a, md5((g + 1)::text) AS b
            FROM generate_series(1, 600000) g;
            """)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        var killedMidway = 0
        for delay in [0.05, 0.15, 0.3] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try TestEnvironment.lifeboatBinary())
            process.arguments = ["backup"]
            process.currentDirectoryURL = lifeboat.folder
            process.environment = TestEnvironment.environment.merging(["DATABASE_URL": source.url]) { _, new in new }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killedMidway += 1
            }
            process.waitUntilExit()
        }
        #expect(killedMidway > 0)
        let list = try lifeboat.run(["list", "--json"])
        let listed = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [[String: Any]]
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: lifeboat.backups.path)) ?? []
        let complete = folders.filter {
            FileManager.default.fileExists(atPath: lifeboat.backups.appendingPathComponent("\($0)/manifest.json").path)
        }
        #expect(listed.count == complete.count)
        #expect(listed.count <= 3 - killedMidway)
        for entry in listed {
            #expect(try lifeboat.run(["verify", entry["id"] as! String]).status == 0)
        }
    }
}
