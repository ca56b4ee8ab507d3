import Foundation
import Testing

/// One backup to a local folder and an S3 bucket at once, through the CLI: the unified manifest, `list` and
/// `verify` across targets, restore falling back from a damaged copy, `copy`, failing optional and required
/// targets, and `DATABASE_BACKUP_URL`.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct FanOutTests {
    typealias Server = S3TargetTests.Server

    /// A source with `accounts`, `notes` and `wide` (150,000 rows), and a runner for it.
    func setUp(_ prefix: String) throws -> (TestDatabase, LifeboatRunner, Server) {
        let source = try TestDatabase.create(prefix)
        try source.execute(
            Fixtures.small + "\nCREATE TABLE wide AS SELECT g, md5(g::text) AS m FROM generate_series(1, 150000) g;")
        return (source, try LifeboatRunner(source: source.url), try Server())
    }

    /// The YAML of an S3 target named `name` under a fresh prefix; returns it and the prefix.
    func s3Target(_ server: Server, name: String = "offsite", endpoint: String? = nil, extra: String = "")
        -> (yaml: String, prefix: String)
    {
        let prefix = "fanout-\(UUID().uuidString.prefix(8))"
        return ("""
              - name: \(name)
                url: s3://\(server.bucket)/\(prefix)
                endpoint: \(endpoint ?? server.endpoint)
                part_size_mb: 1
                timeout_seconds: 2\(extra)

            """, prefix)
    }

    func credentials(_ server: Server) -> [String: String?] {
        ["AWS_ACCESS_KEY_ID": server.key, "AWS_SECRET_ACCESS_KEY": server.secret]
    }

    /// The objects under a prefix of the test bucket, but for the audit trail (`audit/`).
    func objects(_ server: Server, _ prefix: String) throws -> String {
        try server.aws(["ls", "--recursive", "s3://\(server.bucket)/\(prefix)/"]).stdout
            .split(separator: "\n").filter { !$0.contains("/audit/") }.joined(separator: "\n")
    }

    @Test func oneBackupToLocalAndS3IsListedVerifiedAndRestoredWithFallback() throws {
        let (_, lifeboat, server) = try setUp("fan_both")
        defer { lifeboat.cleanUp() }
        let offsite = s3Target(server)
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n" + offsite.yaml)
        let env = credentials(server)
        let backup = try lifeboat.run(["backup"], environment: env)
        #expect(backup.status == 0, "\(backup.stderr)")
        let id = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        // One manifest, committed to both, recording both.
        let local = try Data(contentsOf: lifeboat.backups.appendingPathComponent("\(id)/manifest.json"))
        let remote = try server.aws(["cp", "s3://\(server.bucket)/\(offsite.prefix)/\(id)/manifest.json", "-"]).stdout
        #expect(String(decoding: local, as: UTF8.self) == remote)
        let folder = try BackupFolder(lifeboat.backups.appendingPathComponent(id), target: "primary")
        #expect(folder.targets.map { $0["name"] as? String } == ["primary", "offsite"])
        #expect(folder.targets.allSatisfy { $0["status"] as? String == "complete" })

        let list = try lifeboat.run(["list"], environment: env)
        #expect(list.status == 0 && list.stdout.contains("primary,offsite"), "\(list.allOutput)")
        let json = try lifeboat.run(["list", "--json"], environment: env)
        let entries = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        #expect((entries.first?["targets"] as? [[String: String]])?.map { $0["status"] } == ["complete", "complete"])

        let verify = try lifeboat.run(["verify"], environment: env)
        #expect(verify.status == 0, "\(verify.allOutput)")
        #expect(verify.stdout.contains("target 'primary': backup \(id) is intact"))
        #expect(verify.stdout.contains("target 'offsite': backup \(id) is intact"))

        // Damage the local copy: one artifact gone, one flipped byte.
        let wide = folder.artifacts.first { ($0["table"] as? [String: String])?["name"] == "wide" }!["name"] as! String
        let notes = folder.url.appendingPathComponent(
            folder.artifacts.first { ($0["table"] as? [String: String])?["name"] == "notes" }!["name"] as! String)
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent(wide))
        var bytes = try Data(contentsOf: notes)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: notes)
        // ...and one that cannot be read at all: a folder where the file was.
        let accounts = folder.url.appendingPathComponent(
            folder.artifacts.first { ($0["table"] as? [String: String])?["name"] == "accounts" }!["name"] as! String)
        try FileManager.default.removeItem(at: accounts)
        try FileManager.default.createDirectory(at: accounts, withIntermediateDirectories: false)

        let damaged = try lifeboat.run(["verify"], environment: env)
        #expect([65, 66].contains(damaged.status), "\(damaged.allOutput)")
        #expect(damaged.stdout.contains("target 'primary': backup \(id) is DAMAGED"))
        #expect(damaged.stdout.contains("target 'offsite': backup \(id) is intact"))
        #expect(try lifeboat.run(["verify", "--from", "offsite"], environment: env).status == 0)

        // Restore reads the two damaged artifacts from the bucket and says so.
        let target = try TestDatabase.create("fan_both_dst")
        let restore = try lifeboat.run(["restore", "--into", target.url], environment: env)
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(restore.stdout.contains("artifact \(wide.dropLast(4)) was read from target 'offsite'"), "\(restore.stdout)")
        #expect(restore.stdout.components(separatedBy: "was read from target 'offsite'").count == 4)
        #expect(try target.value("SELECT count(*) FROM wide") == "150000")
        #expect(try target.value("SELECT count(*) FROM notes") == "2000")

        // Told to use only the damaged copy, restore refuses and touches nothing.
        let strict = try TestDatabase.create("fan_both_strict")
        let refused = try lifeboat.run(["restore", "--from", "primary", "--into", strict.url], environment: env)
        #expect([65, 66].contains(refused.status), "\(refused.allOutput)")
        #expect(try strict.isEmpty())
    }

    @Test func copySeedsANewTargetCheckingEveryChecksum() throws {
        let (_, lifeboat, server) = try setUp("fan_copy")
        defer { lifeboat.cleanUp() }
        let env = credentials(server)
        let id = try lifeboat.backup()
        let seed = s3Target(server, name: "seed")
        let spare = s3Target(server, name: "spare")
        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n" + seed.yaml + spare.yaml)

        let copy = try lifeboat.run(["copy", id, "--from", "primary", "--to", "seed"], environment: env)
        #expect(copy.status == 0, "\(copy.allOutput)")
        #expect(copy.stdout.contains("copied backup \(id) from target 'primary' to target 'seed'"))
        #expect(try lifeboat.run(["verify", "--from", "seed"], environment: env).status == 0)
        let list = try lifeboat.run(["list"], environment: env)
        #expect(list.stdout.contains("primary,seed"), "\(list.allOutput)")
        let target = try TestDatabase.create("fan_copy_dst")
        let restore = try lifeboat.run(["restore", "--from", "seed", "--into", target.url], environment: env)
        #expect(restore.status == 0, "\(restore.allOutput)")
        #expect(try target.value("SELECT count(*) FROM wide") == "150000")

        let again = try lifeboat.run(["copy", id, "--from", "primary", "--to", "seed"], environment: env)
        #expect(again.status == 75, "\(again.allOutput)")

        // A corrupt source artifact stops the copy, and the destination keeps nothing.
        let folder = try BackupFolder(lifeboat.backups.appendingPathComponent(id))
        let file = folder.url.appendingPathComponent(
            folder.artifacts.first { ($0["table"] as? [String: String])?["name"] == "wide" }!["name"] as! String)
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count / 3] ^= 0x01
        try bytes.write(to: file)
        let bad = try lifeboat.run(["copy", id, "--from", "primary", "--to", "spare"], environment: env)
        #expect(bad.status == 65, "\(bad.allOutput)")
        #expect(try objects(server, spare.prefix).isEmpty, "the failed copy left objects behind")
    }

    @Test func anOptionalTargetFailingMidStreamIsRecordedAndTheRunGoesOn() async throws {
        let (_, lifeboat, server) = try setUp("fan_optional")
        defer { lifeboat.cleanUp() }
        let env = credentials(server)
        try await S3FaultTests().withProxy("parts") { endpoint in
            let offsite = s3Target(server, endpoint: endpoint, extra: "\n    required: false")
            try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n" + offsite.yaml)
            let backup = try lifeboat.run(["backup"], environment: env)
            #expect(backup.status == 3, "\(backup.allOutput)")
            let id = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(backup.stderr.contains("optional target 'offsite' failed"), "\(backup.stderr)")
            let folder = try BackupFolder(lifeboat.backups.appendingPathComponent(id))
            let record = folder.targets.first { $0["name"] as? String == "offsite" }
            #expect(record?["status"] as? String == "failed")
            #expect((record?["error"] as? String)?.contains("partNumber") == true)
            #expect(try objects(server, offsite.prefix).isEmpty, "the failed target kept objects")
            let list = try lifeboat.run(["list"], environment: env)
            #expect(list.stdout.contains("primary,offsite(failed)"), "\(list.allOutput)")
            let target = try TestDatabase.create("fan_optional_dst")
            #expect(try lifeboat.run(["restore", "--into", target.url], environment: env).status == 0)
        }
    }

    @Test func aRequiredTargetFailingMidStreamLeavesNoBackupAnywhere() async throws {
        let (_, lifeboat, server) = try setUp("fan_required")
        defer { lifeboat.cleanUp() }
        try await S3FaultTests().withProxy("parts") { endpoint in
            let offsite = s3Target(server, endpoint: endpoint)
            try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n" + offsite.yaml)
            let backup = try lifeboat.run(["backup"], environment: credentials(server))
            #expect(backup.status == 73, "\(backup.allOutput)")
            #expect(backup.stderr.contains("nothing of backup"), "\(backup.stderr)")
            #expect(backup.stdout.isEmpty)
            let left = (try? FileManager.default.contentsOfDirectory(atPath: lifeboat.backups.path)) ?? []
            #expect(left == ["audit.jsonl"], "left in the local target: \(left)")
            #expect(try objects(server, offsite.prefix).isEmpty)
        }
    }

    @Test func databaseBackupURLAddsAReplicaTarget() throws {
        let (_, lifeboat, server) = try setUp("fan_env")
        defer { lifeboat.cleanUp() }
        let replica = lifeboat.folder.appendingPathComponent("replica").path

        // Without a config file: ./backups and the replica.
        let plain = try lifeboat.run(["backup"], environment: ["DATABASE_BACKUP_URL": replica])
        #expect(plain.status == 0, "\(plain.allOutput)")
        let first = plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(FileManager.default.fileExists(atPath: "\(replica)/\(first)/manifest.json"))
        #expect(FileManager.default.fileExists(atPath: lifeboat.backups.appendingPathComponent("\(first)/manifest.json").path))
        let list = try lifeboat.run(["list"], environment: ["DATABASE_BACKUP_URL": replica])
        #expect(list.stdout.contains("primary,replica"), "\(list.allOutput)")

        // With a config file: its targets and the replica, here an S3 bucket named by URL alone.
        let prefix = "fanout-env-\(UUID().uuidString.prefix(8))"
        try lifeboat.writeConfig("targets:\n  - name: main\n    url: ./main\n")
        let s3Env: [String: String?] = credentials(server).merging(
            ["DATABASE_BACKUP_URL": "s3://\(server.bucket)/\(prefix)", "AWS_ENDPOINT_URL": server.endpoint]) { $1 }
        let configured = try lifeboat.run(["backup"], environment: s3Env)
        #expect(configured.status == 0, "\(configured.allOutput)")
        let second = configured.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try objects(server, prefix).contains("\(second)/manifest.json"))
        let folder = try BackupFolder(lifeboat.folder.appendingPathComponent("main/\(second)"))
        #expect(folder.targets.map { $0["name"] as? String } == ["main", "replica"])

        // A configured target named replica takes precedence.
        try lifeboat.writeConfig("targets:\n  - url: ./backups\n  - name: replica\n    url: ./own-replica\n")
        let own = try lifeboat.run(["backup"], environment: ["DATABASE_BACKUP_URL": replica])
        #expect(own.status == 0, "\(own.allOutput)")
        let third = own.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(FileManager.default.fileExists(atPath: lifeboat.folder.appendingPathComponent("own-replica/\(third)/manifest.json").path))
        #expect(!FileManager.default.fileExists(atPath: "\(replica)/\(third)"))
    }

    @Test func twoTargetsHoldingDifferentBackupsUnderOneIdAreNotMixed() throws {
        let (_, lifeboat, _) = try setUp("fan_twins")
        defer { lifeboat.cleanUp() }
        let other = try TestDatabase.create("fan_twins_other")
        try other.execute(Fixtures.small)
        let id = try lifeboat.backup()
        // A backup of another database, put on a second target under the same id.
        let twin = try lifeboat.run(["backup"], environment: ["DATABASE_URL": other.url, "DATABASE_BACKUP_URL": nil])
        #expect(twin.status == 0, "\(twin.allOutput)")
        let twinID = twin.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let twinFolder = lifeboat.folder.appendingPathComponent("twin/\(id)")
        try FileManager.default.createDirectory(
            at: twinFolder.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: lifeboat.backups.appendingPathComponent(twinID), to: twinFolder)
        let manifestURL = twinFolder.appendingPathComponent("manifest.json")
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as! [String: Any]
        manifest["id"] = id
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)

        try lifeboat.writeConfig("targets:\n  - name: primary\n    url: ./backups\n  - name: twin\n    url: ./twin\n")
        let verify = try lifeboat.run(["verify", id])
        #expect(verify.status == 65, "\(verify.allOutput)")
        #expect(verify.stdout.contains("target 'twin': cannot be checked: target 'twin' holds another backup"))
        // With the primary copy damaged, restore must not fill the gap from the other database's backup.
        let folder = try BackupFolder(lifeboat.backups.appendingPathComponent(id))
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent(folder.artifacts[1]["name"] as! String))
        let target = try TestDatabase.create("fan_twins_dst")
        let restore = try lifeboat.run(["restore", id, "--into", target.url])
        #expect(restore.status == 66, "\(restore.allOutput)")
        #expect(try target.isEmpty())
    }

    @Test func targetOptionsAreChecked() throws {
        let lifeboat = try LifeboatRunner(source: "postgresql://x@127.0.0.1:1/x")
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("targets:\n  - name: a\n    url: ./a\n  - name: b\n    url: ./b\n")
        let unknown = try lifeboat.run(["restore", "--from", "c", "--into", "postgresql://x@127.0.0.1:1/y"])
        #expect(unknown.status == 78 && unknown.stderr.contains("configured: a, b"), "\(unknown.allOutput)")
        let same = try lifeboat.run(["copy", "--from", "a", "--to", "a"])
        #expect(same.status == 64, "\(same.allOutput)")
        try lifeboat.writeConfig("targets:\n  - url: ./a\n    required: maybe\n")
        let flag = try lifeboat.run(["list"])
        #expect(flag.status == 78 && flag.stderr.contains("required must be true or false"), "\(flag.allOutput)")
        try FileManager.default.removeItem(at: lifeboat.folder.appendingPathComponent("lifeboat.yml"))
        let twins = try lifeboat.run(["backup"], environment: ["DATABASE_BACKUP_URL": "./backups"])
        #expect(twins.status == 78, "\(twins.allOutput)")
        #expect(twins.stderr.contains("targets 'primary' and 'replica' both store backups in"), "\(twins.stderr)")
    }
}
