import Foundation
import Testing

/// `lifeboat drill`: a restore into a throwaway database, timed against the recovery objectives, and dropped.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct DrillTests {
    func scratchDatabases(of source: TestDatabase) throws -> String {
        try source.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_%\\_\(source.name)'")
    }

    @Test func aDrillRestoresChecksTimesAndDropsItsDatabase() throws {
        let source = try TestDatabase.create("drill_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup(["--label", "daily"])

        let drill = try lifeboat.run(["drill"])
        #expect(drill.status == 0, "\(drill.allOutput)")
        #expect(drill.stdout.hasPrefix("drill of backup \(id) (daily), taken "), "\(drill.stdout)")
        for step in ["backup", "verify", "restore"] {
            #expect(drill.stdout.split(separator: "\n").contains { $0.hasPrefix(step) && $0.hasSuffix("yes") },
                    "\(step): \(drill.stdout)")
        }
        #expect(drill.stdout.contains("tables,") && drill.stdout.contains("every count matches the manifest"))
        #expect(try scratchDatabases(of: source) == "0", "the throwaway database was not dropped")
        let audit = try lifeboat.run(["log", "--last", "1"])
        #expect(audit.stdout.contains("drill") && audit.stdout.contains(id) && audit.stdout.contains("success"))

        // A backup that took longer than its objective fails the drill, which still cleans up.
        let file = lifeboat.backups.appendingPathComponent("\(id)/manifest.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
        manifest["duration_seconds"] = 999.0
        try JSONSerialization.data(withJSONObject: manifest).write(to: file)
        let slow = try lifeboat.run(["drill", id])
        #expect(slow.status == 1, "\(slow.allOutput)")
        #expect(slow.stdout.contains("NO"))
        #expect(slow.stderr.contains("drill: the backup took 16m 39s, over its 5m 0s objective"), "\(slow.stderr)")
        #expect(try scratchDatabases(of: source) == "0")
    }
}
