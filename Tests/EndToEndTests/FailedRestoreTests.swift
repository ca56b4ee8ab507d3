import Foundation
import Testing

@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct FailedRestoreTests {
    /// The source's materialized view refreshes fine at home but fails in a database whose name ends in
    /// `_refuse`: so the restore fails in its last step, after all data is loaded.
    @Test func failureInTheLastStepReturnsTargetToEmpty() throws {
        let source = try TestDatabase.create("late_src")
        try source.execute(
            Fixtures.small + "\n" + Fixtures.viewFailingInDatabases(like: "%\\_refuse") + "\nSELECT lo_from_bytea(0, 'blob');")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        _ = try lifeboat.backup()

        let server = try TestEnvironment.requireServer()
        let name = "late_\(UUID().uuidString.prefix(8).lowercased())_refuse"
        try TestDatabase(name: "postgres", url: server).execute("CREATE DATABASE \(name)")
        let target = TestDatabase(name: name, url: try TestDatabase.url(server, database: name))

        let result = try lifeboat.run(["restore", "--into", target.url])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line, no server notices: \(result.stderr)")
        #expect(result.stderr.contains("creating indexes, constraints and triggers"))
        #expect(result.stderr.contains("division by zero"))
        #expect(result.stderr.contains("returned to empty"))
        #expect(try target.isEmpty())

        // Empty again: a second attempt is not refused as "not empty"; it gets as far as the same step.
        let again = try lifeboat.run(["restore", "--into", target.url])
        #expect(again.status == 1)
        #expect(again.stderr.contains("creating indexes, constraints and triggers"))
    }
}
