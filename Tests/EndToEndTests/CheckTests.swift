import Foundation
import Testing

/// `lifeboat check`: one line per check, a probe on every target that is never listed, and failures for a role
/// that cannot read everything and a target that cannot be written.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct CheckTests {
    @Test func everythingInOrderPasses() throws {
        let source = try TestDatabase.create("check_ok")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let replica = try TestDatabase.url(try TestEnvironment.requireServer(), database: source.name + "_rep")
        let check = try lifeboat.run(["check"], environment: ["DATABASE_BACKUP_URL": replica])
        #expect(check.status == 0, "\(check.allOutput)")
        let lines = check.stdout.split(separator: "\n")
        #expect(lines.count == 6 && lines.allSatisfy { $0.hasPrefix("ok    ") }, "\(check.stdout)")
        #expect(check.stdout.contains(
            "/\(source.name)_rep): the role may create the staging database; pg_restore 15 found; holds no backup yet"),
            "\(check.stdout)")
        #expect(check.stdout.contains("can read every table and sequence"))
        #expect(check.stdout.contains("target 'primary' (\(lifeboat.backups.path)): wrote, read back and removed a probe"))
        #expect(try lifeboat.run(["list"]).stdout == "no backups\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: lifeboat.backups.path)
        #expect(left.isEmpty, "the probe stayed: \(left)")
    }

    @Test func aRoleThatCannotReadEverythingAndAnUnwritableTargetFail() throws {
        let source = try TestDatabase.create("check_fail")
        let role = "check_\(UUID().uuidString.prefix(8).lowercased())"
        try source.execute("""
            CREATE TABLE open (id int); CREATE TABLE closed (id int);
            CREATE ROLE \(role) LOGIN PASSWORD 'check-pw'; GRANT SELECT ON open TO \(role);
            """)
        defer { _ = try? source.execute("DROP OWNED BY \(role); DROP ROLE \(role)") }
        var url = try #require(URLComponents(string: source.url))
        url.user = role
        url.password = "check-pw"
        let lifeboat = try LifeboatRunner(source: url.string!)
        defer { lifeboat.cleanUp() }
        _ = FileManager.default.createFile(atPath: lifeboat.folder.appendingPathComponent("a-file").path, contents: Data())
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: broken
                url: ./a-file/backups
              - name: standby
                url: \(url.string!)_rep
              - name: snapshots
                url: \(url.string!)
                mode: schema
            """)

        let check = try lifeboat.run(["check"])
        #expect(check.status == 1, "\(check.allOutput)")
        #expect(check.stdout.contains("FAIL  source: role \(role) cannot read 1 relation a backup needs: public.closed (no SELECT privilege)"),
                "\(check.stdout)")
        #expect(check.stdout.contains("FAIL  cannot create a backup folder in target 'broken'"), "\(check.stdout)")
        #expect(check.stdout.contains("ok    target 'primary'"))
        #expect(check.stdout.contains("FAIL  target 'standby' (\(role)@"), "\(check.stdout)")
        #expect(check.stdout.contains("the role cannot create databases; a replica loads into a staging database"))
        #expect(check.stdout.contains("FAIL  target 'snapshots' (\(role)@"), "\(check.stdout)")
        #expect(check.stdout.contains("the role cannot create schemas in"))
        #expect(check.stderr.hasPrefix("lifeboat: error: 4 checks failed; first: source: role \(role) cannot read"), "\(check.stderr)")
        #expect(!check.allOutput.contains("check-pw"))
    }
}
