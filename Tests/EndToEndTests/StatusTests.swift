import Foundation
import Testing

/// `lifeboat status` for monitoring: ages per target, exit code 1 when a target's newest backup is too old or
/// missing, failed runs since the last success, JSON, and the Prometheus metrics file.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct StatusTests {
    @Test func aBackupWarnsWhenATargetDiskIsLowOnSpace() throws {
        let source = try TestDatabase.create("space_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n    min_free_percent: 99\n")
        let backup = try lifeboat.run(["backup"])
        #expect(backup.status == 0, "\(backup.allOutput)")
        let warnings = backup.stderr.split(separator: "\n").filter { $0.contains("below min_free_percent 99%") }
        #expect(warnings.count == 2, "one before the backup, one after: \(backup.stderr)")
        #expect(warnings.first?.contains("target 'primary' has ") == true)
    }

    @Test func aTargetThatCannotBeSetUpIsUnhealthyAndAQuietBackupStillPrintsItsID() throws {
        let source = try TestDatabase.create("status_setup")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let quiet = try lifeboat.run(["backup", "--log-level", "warning"])
        #expect(quiet.status == 0 && quiet.stdout.count == 15, "\(quiet.allOutput)")
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n  - name: offsite\n    url: s3://b/p\n")
        let status = try lifeboat.run(
            ["status", "--metrics-file", "m.prom"],
            environment: ["AWS_ACCESS_KEY_ID": nil, "AWS_SECRET_ACCESS_KEY": nil, "AWS_PROFILE": nil])
        #expect(status.status == 1, "\(status.allOutput)")
        #expect(status.stdout.contains("offsite") && status.stdout.contains("UNREADABLE"), "\(status.stdout)")
        #expect(status.stderr.contains("lifeboat: error: target 'offsite' cannot be read: "), "\(status.stderr)")
        let metrics = try String(contentsOf: lifeboat.folder.appendingPathComponent("m.prom"), encoding: .utf8)
        #expect(metrics.contains("lifeboat_target_readable{target=\"offsite\"} 0"))
    }

    @Test func statusReportsAgesFailuresAndMetrics() throws {
        let source = try TestDatabase.create("status_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n  - name: spare\n    url: ./spare\n")
        let id = try lifeboat.backup()

        let healthy = try lifeboat.run(["status", "--metrics-file", "lifeboat.prom"])
        #expect(healthy.status == 0, "\(healthy.allOutput)")
        #expect(healthy.stdout.contains("primary  \(id)") && healthy.stdout.contains(" ok"), "\(healthy.stdout)")
        let metrics = try String(contentsOf: lifeboat.folder.appendingPathComponent("lifeboat.prom"), encoding: .utf8)
        #expect(metrics.contains("# TYPE lifeboat_last_success_timestamp_seconds gauge"))
        #expect(metrics.contains("lifeboat_backups{target=\"spare\"} 1"))
        #expect(metrics.contains("lifeboat_failed_since_last_success{target=\"primary\"} 0"))

        // A target whose newest backup is old: too old for --max-age, which fails the check and names it.
        try FileManager.default.removeItem(at: lifeboat.folder.appendingPathComponent("spare/\(id)"))
        let stale = try lifeboat.run(["status", "--max-age", "1h"])
        #expect(stale.status == 1, "\(stale.allOutput)")
        #expect(stale.stderr == "lifeboat: error: target 'spare' has no backup\n", "\(stale.stderr)")
        #expect(stale.stdout.contains("NO BACKUP"))

        // A backup run that fails after the newest backup is shown beside it.
        try lifeboat.writeConfig("""
            source:
              url: postgresql://nobody@127.0.0.1:1/none
            targets:
              - name: primary
                url: ./backups
            """)
        #expect(try lifeboat.run(["backup"]).status == 69)
        let json = try lifeboat.run(["status", "--json"])
        #expect(json.status == 0, "the newest backup is still young: \(json.allOutput)")
        let entries = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        let failed = try #require(entries.first?["failed_since"] as? [String: String])
        #expect(failed["error"]?.hasPrefix("cannot reach the PostgreSQL server for nobody@127.0.0.1:1/none") == true, "\(failed)")
        #expect((entries.first?["latest"] as? [String: Any])?["id"] as? String == id)
    }
}
