import Foundation
import Testing

/// Retention through the CLI: `prune` (dry run and real), `backup --prune` with an environment's default, a prune
/// whose target dies half-way, and the locks that keep runs of one target apart.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct PruneTests {
    /// A source with the small fixture, a runner, and one real backup.
    func setUp(_ prefix: String) throws -> (LifeboatRunner, String) {
        let source = try TestDatabase.create(prefix)
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        return (lifeboat, try lifeboat.backup())
    }

    /// Copies backup `id` in `folder` to an older `newID`, as a backup taken then (with `label`) would be.
    func fabricate(_ folder: URL, from id: String, as newID: String, label: String? = nil) throws {
        let copy = folder.appendingPathComponent(newID)
        try FileManager.default.copyItem(at: folder.appendingPathComponent(id), to: copy)
        let file = copy.appendingPathComponent("manifest.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        manifest["id"] = newID
        manifest["label"] = label
        try JSONSerialization.data(withJSONObject: manifest).write(to: file)
    }

    /// The backup folders in a target folder (leaving out its audit log).
    func ids(_ folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "audit.jsonl" }.sorted()
    }

    @Test func pruneDeletesWhatRetentionLetsGoAndKeepsPinnedAndNewest() throws {
        let (lifeboat, newest) = try setUp("prune_gfs")
        defer { lifeboat.cleanUp() }
        let old = ["20250101020000", "20250102020000", "20250103020000", "20250103140000"]
        for id in old { try fabricate(lifeboat.backups, from: newest, as: id) }
        try fabricate(lifeboat.backups, from: newest, as: "20241201020000", label: "before-migration-41")
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
                retention: {daily: 2, pin: ["before-migration*"]}
            """)

        let dry = try lifeboat.run(["prune", "--dry-run"])
        #expect(dry.status == 0, "\(dry.allOutput)")
        #expect(dry.stdout.contains("20250102020000  -                    would delete  -"), "\(dry.stdout)")
        #expect(dry.stdout.contains("before-migration-41  keep          pinned by 'before-migration*'"))
        #expect(try ids(lifeboat.backups).count == 6, "a dry run deleted something")

        let prune = try lifeboat.run(["prune"])
        #expect(prune.status == 0, "\(prune.allOutput)")
        #expect(prune.stderr.contains("pruned 3 backups from target 'primary'"))
        #expect(try ids(lifeboat.backups) == ["20241201020000", "20250103140000", newest])
        let verify = try lifeboat.run(["verify", "20250103140000"])
        #expect(verify.status == 0, "\(verify.allOutput)")
    }

    @Test func backupPruneAppliesTheEnvironmentsDefault() throws {
        let (lifeboat, first) = try setUp("prune_env")
        defer { lifeboat.cleanUp() }
        try fabricate(lifeboat.backups, from: first, as: "20200101000000")
        Thread.sleep(forTimeInterval: 1.1)
        let backup = try lifeboat.run(["backup", "--prune"], environment: ["LIFEBOAT_ENV": "production"])
        #expect(backup.status == 0, "\(backup.allOutput)")
        let id = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 14, "stdout holds only the new id: \(backup.stdout)")
        #expect(try ids(lifeboat.backups) == [first, id], "production keeps 30 days")
        let manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: lifeboat.backups.appendingPathComponent("\(id)/manifest.json"))) as! [String: Any]
        #expect(manifest["environment"] as? String == "production")
    }

    @Test func aPruneWhoseTargetDiesHalfWayLeavesNothingThatLooksComplete() throws {
        let (lifeboat, newest) = try setUp("prune_crash")
        defer { lifeboat.cleanUp() }
        // A program target that stores in ./store like the dedup example, but dies in delete once the manifest
        // is gone: the moment a crash is most likely to hurt.
        let dedup = TestEnvironment.packageRoot.appendingPathComponent("examples/exec-sinks/dedup-sink.py").path
        let program = try lifeboat.writeProgram("dying-sink", """
            #!/bin/sh
            if [ "$1" = delete ]; then rm "$LIFEBOAT_OPTION_PATH/backups/$2/manifest.json"; kill -9 $$; fi
            exec \(dedup) "$@"

            """)
        try lifeboat.writeConfig("""
            targets:
              - name: nas
                url: exec://\(program)
                path: \(lifeboat.folder.appendingPathComponent("store").path)
                retention: {keep_last: 1}
            """)
        let first = try lifeboat.backup()
        Thread.sleep(forTimeInterval: 1.1)
        let second = try lifeboat.backup()
        _ = newest

        let prune = try lifeboat.run(["prune"])
        #expect(prune.status == 73, "\(prune.allOutput)")
        #expect(prune.stderr.contains("backup could not be pruned, the first \(first) from target 'nas'"), "\(prune.stderr)")
        #expect(prune.stderr.contains("'\(program) delete' was killed by signal 9"))
        let list = try lifeboat.run(["list"])
        #expect(!list.stdout.contains(first) && list.stdout.contains(second), "\(list.allOutput)")
        #expect(try lifeboat.run(["verify", second]).status == 0)
    }

    @Test func aTargetThatCannotBeListedIsSkippedAndTheOthersArePruned() throws {
        let (lifeboat, first) = try setUp("prune_down")
        defer { lifeboat.cleanUp() }
        let program = try lifeboat.writeProgram(
            "down-sink",
            "#!/bin/sh\ncase \"$1\" in hello) echo lifeboat-exec-protocol 1 ;; *) echo 'remote unreachable' >&2; exit 1 ;; esac\n")
        try lifeboat.writeConfig("""
            targets:
              - name: primary
                url: ./backups
                retention: {keep_last: 1}
              - name: offsite
                url: exec://\(program)
                required: false
                retention: {keep_last: 1}
            """)
        Thread.sleep(forTimeInterval: 1.1)
        let backup = try lifeboat.run(["backup", "--prune"])
        #expect(backup.status == 3, "the optional target failed, nothing else: \(backup.allOutput)")
        #expect(backup.stderr.contains("target 'offsite' is not pruned, it cannot be listed"), "\(backup.stderr)")
        let second = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try ids(lifeboat.backups) == [second], "primary was pruned all the same (\(first) went)")

        let prune = try lifeboat.run(["prune"])
        #expect(prune.status == 73 && prune.stderr.contains("target 'offsite' could not be pruned"), "\(prune.allOutput)")
    }

    @Test func runsOfOneTargetAreKeptApartAndACrashedRunIsExplained() throws {
        let (lifeboat, _) = try setUp("prune_lock")
        defer { lifeboat.cleanUp() }
        let write = try #require(try FileManager.default.contentsOfDirectory(atPath: lifeboat.locks.path)
            .first { $0.hasSuffix(".write") })
        let lockFile = lifeboat.locks.appendingPathComponent(write).path

        // Another run holds the target: flock(1), turned into the sleep that holds the lock. SIGKILL, since a
        // child of Foundation's Process inherits a blocked SIGTERM.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["--no-fork", "--exclusive", lockFile, "sleep", "60"]
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL) }
        var refused: CommandResult?
        for _ in 0..<50 {
            refused = try lifeboat.run(["backup"])
            if refused?.status != 0 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(refused?.status == 75, "\(refused?.allOutput ?? "")")
        #expect(refused?.stderr.contains("target 'primary' is in use by another Lifeboat run; wait for it") == true)
        let prune = try lifeboat.run(["prune"], environment: ["LIFEBOAT_ENV": "production"])
        #expect(prune.status == 75, "\(prune.allOutput)")
        kill(holder.processIdentifier, SIGKILL)
        Thread.sleep(forTimeInterval: 0.3)  // a killed process's descriptors, and its lock, are gone once it exits

        // A run killed while holding the lock leaves its record behind.
        try "backup by pid 4242 on db1, started 2026-01-02T03:04:05Z\n".write(toFile: lockFile, atomically: false, encoding: .utf8)
        let next = try lifeboat.run(["backup"])
        #expect(next.status == 0, "\(next.allOutput)")
        #expect(next.stderr.contains(
            "target 'primary': backup by pid 4242 on db1, started 2026-01-02T03:04:05Z ended without releasing its lock"))
        let after = try String(contentsOfFile: lockFile, encoding: .utf8)
        #expect(after.isEmpty, "a finished run clears its record")
    }
}
