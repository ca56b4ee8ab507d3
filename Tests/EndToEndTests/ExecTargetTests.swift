import Foundation
import Testing

/// Backups through external programs (`exec://` targets), driven through the CLI: the Python example beside a
/// local folder, restore from it alone, and a program that fails or crashes.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct ExecTargetTests {
    static let dedup = TestEnvironment.packageRoot.appendingPathComponent("examples/exec-sinks/dedup-sink.py").path

    /// A source with the small fixture, a runner, and the folder the dedup program stores into.
    func setUp(_ prefix: String) throws -> (TestDatabase, LifeboatRunner, URL) {
        let source = try TestDatabase.create(prefix)
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        return (source, lifeboat, lifeboat.folder.appendingPathComponent("nas"))
    }

    @Test func aBackupGoesThroughTheProgramAndRestoresFromItAlone() throws {
        let (source, lifeboat, nas) = try setUp("exec_src")
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: nas
                url: exec://\(Self.dedup)
                path: \(nas.path)
            """)
        let id = try lifeboat.backup()
        let stored = try String(contentsOf: nas.appendingPathComponent("backups/\(id)/manifest.json"), encoding: .utf8)
        let local = try String(contentsOf: lifeboat.backups.appendingPathComponent("\(id)/manifest.json"), encoding: .utf8)
        #expect(stored == local)
        let record = try BackupFolder(lifeboat.backups.appendingPathComponent(id), target: "nas").targets[1]
        #expect(record["location"] as? String == "exec://" + Self.dedup)
        #expect(record["status"] as? String == "complete")

        let list = try lifeboat.run(["list"])
        #expect(list.stdout.contains("primary,nas"), "\(list.allOutput)")
        let verify = try lifeboat.run(["verify", "--from", "nas"])
        #expect(verify.status == 0 && verify.stdout.contains("target 'nas': backup \(id) is intact"), "\(verify.allOutput)")

        // A second backup of the unchanged database adds no objects: every artifact is stored once.
        let objects = nas.appendingPathComponent("objects")
        let before = try FileManager.default.contentsOfDirectory(atPath: objects.path).filter { !$0.hasPrefix(".") }
        Thread.sleep(forTimeInterval: 1.1)
        _ = try lifeboat.backup()
        let after = try FileManager.default.contentsOfDirectory(atPath: objects.path).filter { !$0.hasPrefix(".") }
        #expect(Set(after).subtracting(before).count == 1, "only the schema archive (it records the time) is new")

        try FileManager.default.removeItem(at: lifeboat.backups)
        let target = try TestDatabase.create("exec_dst")
        let restore = try lifeboat.run(["restore", id, "--from", "nas", "--into", target.url])
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(try target.dump() == source.dump())
    }

    @Test func aProgramThatCrashesAtCommitLeavesNoCompleteBackup() throws {
        let (_, lifeboat, nas) = try setUp("exec_crash")
        defer { lifeboat.cleanUp() }
        // The example, except that its commit dies.
        let program = try lifeboat.writeProgram("crashing-sink", """
            #!/bin/sh
            [ "$1" = commit ] && { echo "tape robot jammed" >&2; kill -9 $$; }
            exec \(Self.dedup) "$@"

            """)
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: tape
                url: exec://\(program)
                path: \(nas.path)
            """)
        let backup = try lifeboat.run(["backup"])
        #expect(backup.status != 0 && backup.status != 3)
        #expect(backup.stderr.contains("target 'tape': '\(program) commit' was killed by signal 9: tape robot jammed"), "\(backup.stderr)")
        #expect(!backup.stderr.contains("Fatal error") && !backup.stderr.contains("Stack"))
        let list = try lifeboat.run(["list"])
        #expect(list.stdout.contains("no backups"), "\(list.allOutput)")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: nas.appendingPathComponent("backups").path)) ?? []
        #expect(leftovers.isEmpty, "the aborted backup stayed in the program's store: \(leftovers)")
    }

    @Test func anOptionalProgramThatFailsIsRecordedAndTheBackupCompletes() throws {
        let (_, lifeboat, _) = try setUp("exec_optional")
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
              - name: offsite
                url: exec://\(Self.dedup)
                required: false
            """)
        let backup = try lifeboat.run(["backup"])
        #expect(backup.status == 3, "\(backup.allOutput)")
        #expect(backup.stderr.contains("set path: in the target's configuration"), "\(backup.stderr)")
        let verify = try lifeboat.run(["verify", "--from", "primary"])
        #expect(verify.status == 0, "\(verify.allOutput)")
    }
}
