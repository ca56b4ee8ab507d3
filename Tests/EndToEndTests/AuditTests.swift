import Foundation
import Testing

/// The audit log through the CLI: every operation appends a line, failures included, to the configured file and to
/// each target (a local folder and S3), with no secret; `lifeboat log` shows them.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct AuditTests {
    typealias Server = S3TargetTests.Server

    func entries(_ lifeboat: LifeboatRunner) throws -> [[String: Any]] {
        let log = try lifeboat.run(["log", "--json"])
        #expect(log.status == 0, "\(log.allOutput)")
        return log.stdout.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    @Test func everyOperationIsRecordedInTheFileAndOnEachTarget() throws {
        let source = try TestDatabase.create("audit_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let server = try Server()
        let prefix = "audit-\(UUID().uuidString.prefix(8))"
        try lifeboat.writeConfig("""
            environment: production
            audit_log: ./audit/lifeboat.jsonl
            targets:
              - name: primary
                url: ./backups
              - name: offsite
                url: s3://\(server.bucket)/\(prefix)
                endpoint: \(server.endpoint)
            """)
        let env = ["AWS_ACCESS_KEY_ID": server.key, "AWS_SECRET_ACCESS_KEY": server.secret]
        let backup = try lifeboat.run(["backup", "--label", "before-migration", "--operator", "alice"], environment: env)
        #expect(backup.status == 0, "\(backup.allOutput)")
        let id = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try lifeboat.run(["verify", "--from", "primary"], environment: env).status == 0)
        let missing = try lifeboat.run(["restore", "no-such-label", "--into", source.url], environment: env)
        #expect(missing.status == 66)

        let log = try entries(lifeboat)
        #expect(log.map { $0["operation"] as? String } == ["backup", "verify", "restore"])
        let first = log[0]
        #expect(first["operator"] as? String == "alice" && first["backup_id"] as? String == id)
        #expect(first["label"] as? String == "before-migration" && first["environment"] as? String == "production")
        #expect(first["targets"] as? [String] == ["primary", "offsite"] && first["status"] as? String == "success")
        let checksums = try #require(first["checksums"] as? [String: Any])
        #expect(checksums["artifacts"] as? Int == 3 && (checksums["digest"] as? String)?.count == 64)
        #expect((log[1]["checksums"] as? [String: Any])?["digest"] as? String == checksums["digest"] as? String)
        #expect(log[2]["status"] as? String == "failed")
        #expect((log[2]["error"] as? String)?.contains("no complete backup matches label 'no-such-label'") == true)
        #expect(log[1]["operator"] as? String == NSUserName(), "without --operator, the OS user")

        // The targets keep their own copy: the local folder a file, the bucket one object per entry.
        let local = try String(contentsOf: lifeboat.backups.appendingPathComponent("audit.jsonl"), encoding: .utf8)
        #expect(local.split(separator: "\n").count == 3)
        let objects = try server.aws(["ls", "s3://\(server.bucket)/\(prefix)/audit/"]).stdout
        #expect(objects.split(separator: "\n").count == 2, "backup and restore used the bucket: \(objects)")
        #expect(try lifeboat.run(["list"], environment: env).stdout.contains(id), "audit files are not backups")

        let table = try lifeboat.run(["log", "--last", "1"])
        #expect(table.stdout.contains("restore") && !table.stdout.contains("verify"), "\(table.stdout)")
    }

    @Test func hooksRunAfterSuccessAndFailureWithWhatHappened() throws {
        let source = try TestDatabase.create("audit_hooks")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig(#"""
            hooks:
              on_success: 'echo "ok $LIFEBOAT_OPERATION $LIFEBOAT_BACKUP_ID $LIFEBOAT_TARGETS" >> hooks.log'
              on_failure: 'echo "alert $LIFEBOAT_OPERATION $LIFEBOAT_STATUS: $LIFEBOAT_ERROR" >> hooks.log; exit 7'
            """#)
        let id = try lifeboat.backup()
        let missing = try lifeboat.run(["verify", "no-such-label"])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("the on_failure hook failed (exit code 7)"), "\(missing.stderr)")
        let log = try String(contentsOf: lifeboat.folder.appendingPathComponent("hooks.log"), encoding: .utf8)
        #expect(log == "ok backup \(id) primary\nalert verify failed: no complete backup matches label 'no-such-label' "
            + "on target 'primary' (\(lifeboat.backups.path)); run 'lifeboat list' to see the backups\n", "\(log)")
    }

    @Test func aFailureIsRecordedWithoutSecretsAndPartialRunsSaySo() throws {
        let lifeboat = try LifeboatRunner(source: "postgresql://app:hunter2-secret@127.0.0.1:1/app")
        defer { lifeboat.cleanUp() }
        let failed = try lifeboat.run(["backup"])
        #expect(failed.status == 69, "\(failed.allOutput)")
        let logged = try String(contentsOf: lifeboat.folder.appendingPathComponent("state/audit.jsonl"), encoding: .utf8)
        #expect(logged.contains("\"status\":\"failed\"") && !logged.contains("hunter2"), "\(logged)")

        let source = try TestDatabase.create("audit_partial")
        try source.execute(Fixtures.small)
        let partial = try LifeboatRunner(source: source.url)
        defer { partial.cleanUp() }
        let dedup = TestEnvironment.packageRoot.appendingPathComponent("examples/exec-sinks/dedup-sink.py").path
        try partial.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: offsite
                url: exec://\(dedup)
                required: false
            """)
        #expect(try partial.run(["backup"]).status == 3)
        let entry = try #require(try entries(partial).last)
        #expect(entry["status"] as? String == "partial" && entry["error"] as? String == "an optional target failed")
    }
}
