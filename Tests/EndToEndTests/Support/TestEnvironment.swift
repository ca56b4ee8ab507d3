import Foundation
import Testing

/// Where the end-to-end tests find their servers and the built CLI.
///
/// `LIFEBOAT_TEST_DATABASE_URL` names a PostgreSQL 15 server (superuser) started by `scripts/test-postgres`.
/// Without it the tests are skipped locally; under `CI=true` they run and fail, so CI cannot pass by skipping.
enum TestEnvironment {
    static let environment = ProcessInfo.processInfo.environment
    static let isCI = environment["CI"] == "true"
    static let serverURL = environment["LIFEBOAT_TEST_DATABASE_URL"]

    /// Whether the end-to-end tests run: when a server is given, and always under CI.
    static let enabled = serverURL != nil || isCI

    /// The server URL, or a failure saying how to provide one.
    static func requireServer() throws -> String {
        guard let serverURL else {
            throw TestFailure("LIFEBOAT_TEST_DATABASE_URL is not set: run the suite with scripts/test")
        }
        return serverURL
    }

    /// The repository's root folder.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `lifeboat` binary under test: `LIFEBOAT_BIN`, or the debug build.
    static func lifeboatBinary() throws -> String {
        let path = environment["LIFEBOAT_BIN"] ?? packageRoot.appendingPathComponent(".build/debug/lifeboat").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("\(path) is missing: run 'swift build' first (scripts/test does)")
        }
        return path
    }

    /// The folder of the PostgreSQL 15 programs (psql, pgbench, pg_dump).
    static let pgBin = environment["LIFEBOAT_PG_BIN"] ?? "/usr/lib/postgresql/15/bin"
}

/// A test precondition that does not hold.
struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Fails under CI when the servers are missing, so that skipped suites can never pass CI.
@Suite struct EnvironmentGuardTests {
    @Test func serversArePresentUnderCI() throws {
        if TestEnvironment.isCI { _ = try TestEnvironment.requireServer() }
    }
}
