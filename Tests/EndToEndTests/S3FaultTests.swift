import Foundation
import LifeboatCore
import Testing

/// Backups and restores through a proxy that answers 503 SlowDown, resets connections, stalls, and answers a
/// multipart completion with "200 + InternalError": retries
/// carry them through; a part that can never be stored fails the backup and leaves nothing billing.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct S3FaultTests {
    /// Runs `body` with a fault proxy in front of the test S3 server; passes the proxy's endpoint.
    func withProxy(_ rule: String, _ body: (String) async throws -> Void) async throws {
        let server = try S3TargetTests.Server()
        let upstream = try #require(URLComponents(string: server.endpoint)?.port)
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-proxy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: portFile) }
        let proxy = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: ["python3", TestEnvironment.packageRoot.appendingPathComponent("scripts/s3_fault_proxy.py").path,
                        "0", String(upstream), rule, portFile.path],
            output: .discard)
        defer { proxy.terminate() }
        // The proxy writes the port the system gave it once it listens.
        var port: Int?
        for _ in 0..<300 where port == nil {
            port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard let port else { throw TestFailure("the fault proxy did not start in 30 s") }
        let endpoint = "http://127.0.0.1:\(port)"
        try await body(endpoint)
    }

    func setUp(_ prefix: String) throws -> (TestDatabase, LifeboatRunner, [String: String?]) {
        let server = try S3TargetTests.Server()
        let source = try TestDatabase.create(prefix)
        try source.execute(Fixtures.small + "\nCREATE TABLE wide AS SELECT g, md5(g::text) AS m FROM generate_series(1, 150000) g;")
        let lifeboat = try LifeboatRunner(source: source.url)
        return (source, lifeboat, ["AWS_ACCESS_KEY_ID": server.key, "AWS_SECRET_ACCESS_KEY": server.secret])
    }

    func config(endpoint: String, prefix: String) throws -> String {
        let server = try S3TargetTests.Server()
        return """
            targets:
              - name: offsite
                url: s3://\(server.bucket)/\(prefix)
                endpoint: \(endpoint)
                part_size_mb: 1
                timeout_seconds: 2
            """
    }

    @Test(arguments: ["503:3", "reset:4", "stall:7", "complete"])
    func backupAndRestoreSurviveAFlakyNetwork(rule: String) async throws {
        let (_, lifeboat, credentials) = try setUp("flaky")
        defer { lifeboat.cleanUp() }
        try await withProxy(rule) { endpoint in
            try lifeboat.writeConfig(try config(endpoint: endpoint, prefix: "flaky-\(UUID().uuidString.prefix(8))"))
            let backup = try lifeboat.run(["backup"], environment: credentials)
            #expect(backup.status == 0, "\(rule): \(backup.stderr)")
            let target = try TestDatabase.create("flaky_dst")
            let restore = try lifeboat.run(["restore", "--into", target.url], environment: credentials)
            #expect(restore.status == 0, "\(rule): \(restore.stderr)")
            #expect(try target.value("SELECT count(*) FROM wide") == "150000")
        }
    }

    @Test func partThatNeverStoresFailsTheBackupAndLeavesNothing() async throws {
        let server = try S3TargetTests.Server()
        let (_, lifeboat, credentials) = try setUp("doomed")
        defer { lifeboat.cleanUp() }
        let prefix = "doomed-\(UUID().uuidString.prefix(8))"
        try await withProxy("parts") { endpoint in
            try lifeboat.writeConfig(try config(endpoint: endpoint, prefix: prefix))
            let backup = try lifeboat.run(["backup"], environment: credentials)
            #expect(backup.status == 73, "\(backup.stderr)")
            #expect(backup.stderr.contains("partNumber"), "the message names the request: \(backup.stderr)")
            #expect(backup.stderr.contains("InternalError"))
        }
        let uploads = try Command.run(
            "/usr/bin/env",
            ["aws", "--endpoint-url", server.endpoint, "--region", "us-east-1", "s3api", "list-multipart-uploads",
             "--bucket", server.bucket, "--prefix", prefix],
            environment: ["AWS_ACCESS_KEY_ID": server.key, "AWS_SECRET_ACCESS_KEY": server.secret])
        #expect(uploads.status == 0, "\(uploads.stderr)")
        #expect(!uploads.stdout.contains("UploadId"), "orphaned multipart uploads: \(uploads.stdout)")
        let left = try server.aws(["ls", "--recursive", "s3://\(server.bucket)/\(prefix)/"]).stdout
            .split(separator: "\n").filter { !$0.contains("\(prefix)/audit/") }
        #expect(left.isEmpty, "left in the bucket: \(left)")
    }
}
