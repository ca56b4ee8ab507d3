import Foundation
import Testing

/// Backups to an S3 target through the CLI, and interoperability with the AWS CLI both ways.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct S3TargetTests {
    struct Server {
        let endpoint: String, bucket: String, key: String, secret: String

        init() throws {
            let env = TestEnvironment.environment
            guard let endpoint = env["LIFEBOAT_TEST_S3_ENDPOINT"], let bucket = env["LIFEBOAT_TEST_S3_BUCKET"],
                let key = env["LIFEBOAT_TEST_S3_ACCESS_KEY_ID"], let secret = env["LIFEBOAT_TEST_S3_SECRET_ACCESS_KEY"]
            else { throw TestFailure("LIFEBOAT_TEST_S3_* is not set: run the suite with scripts/test") }
            (self.endpoint, self.bucket, self.key, self.secret) = (endpoint, bucket, key, secret)
        }

        /// Runs `aws s3 ...` against the test server.
        func aws(_ arguments: [String]) throws -> CommandResult {
            try Command.run(
                "/usr/bin/env", ["aws", "--endpoint-url", endpoint, "--region", "us-east-1", "s3"] + arguments,
                environment: ["AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret])
        }
    }

    /// A config whose only target is the test bucket under `prefix`; credentials come from the environment.
    func config(_ server: Server, prefix: String) -> String {
        """
        targets:
          - name: offsite
            url: s3://\(server.bucket)/\(prefix)
            endpoint: \(server.endpoint)
            part_size_mb: 1
        """
    }

    @Test func backupToS3RestoresAndTheAWSCLIReadsIt() throws {
        let server = try Server()
        let source = try TestDatabase.create("s3_src")
        try source.execute(Fixtures.small + "\nCREATE TABLE wide AS SELECT g, md5(g::text) AS m FROM generate_series(1, 200000) g;")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let prefix = "e2e-\(UUID().uuidString.prefix(8))"
        try lifeboat.writeConfig(config(server, prefix: prefix))
        let credentials = ["AWS_ACCESS_KEY_ID": server.key, "AWS_SECRET_ACCESS_KEY": server.secret]
        let backup = try lifeboat.run(["backup"], environment: credentials)
        #expect(backup.status == 0, "\(backup.stderr)")
        let id = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!backup.allOutput.contains(server.secret))

        let target = try TestDatabase.create("s3_dst")
        let restore = try lifeboat.run(["restore", "--into", target.url], environment: credentials)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try target.value("SELECT count(*) FROM wide") == "200000")

        // The AWS CLI lists what Lifeboat uploaded and downloads it intact.
        let listing = try server.aws(["ls", "--recursive", "s3://\(server.bucket)/\(prefix)/\(id)/"])
        #expect(listing.stdout.contains("manifest.json"))
        #expect(listing.stdout.contains("public.wide.copy.zst"))
        let download = lifeboat.folder.appendingPathComponent("downloaded")
        #expect(try server.aws(["cp", "--recursive", "s3://\(server.bucket)/\(prefix)/\(id)/", download.path]).status == 0)
        let manifest = try BackupFolder(download)
        for artifact in manifest.artifacts {
            let name = artifact["name"] as! String
            let digest = try Command.run("/usr/bin/sha256sum", [download.appendingPathComponent(name).path]).stdout
            #expect(digest.hasPrefix(artifact["sha256"] as! String), "\(name)")
        }

        // A backup put in place with the AWS CLI, in Lifeboat's layout, restores.
        let copied = "e2e-awscli-\(UUID().uuidString.prefix(8))"
        #expect(try server.aws(["cp", "--recursive", download.path, "s3://\(server.bucket)/\(copied)/\(id)/"]).status == 0)
        try lifeboat.writeConfig(config(server, prefix: copied))
        let second = try TestDatabase.create("s3_dst2")
        let fromCopy = try lifeboat.run(["restore", id, "--into", second.url], environment: credentials)
        #expect(fromCopy.status == 0, "\(fromCopy.stderr)")
        #expect(try second.dump() == target.dump())
    }

    @Test func wrongS3SecretFailsCleanly() throws {
        let server = try Server()
        let source = try TestDatabase.create("s3_bad")
        try source.execute("CREATE TABLE t (v int);")
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig(config(server, prefix: "e2e-bad-\(UUID().uuidString.prefix(8))"))
        let result = try lifeboat.run(
            ["backup"], environment: ["AWS_ACCESS_KEY_ID": server.key, "AWS_SECRET_ACCESS_KEY": "wrong-secret-xyz"])
        #expect(result.status == 77, "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("SignatureDoesNotMatch"))
        #expect(!result.allOutput.contains("wrong-secret-xyz"))
    }
}
