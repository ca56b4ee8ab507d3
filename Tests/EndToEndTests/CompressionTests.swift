import Foundation
import LifeboatCore
import Testing

@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct CompressionTests {
    /// A backup of the small fixture, with the config given; returns the runner, backup id and manifest.
    func backup(config: String? = nil, prefix: String) throws -> (LifeboatRunner, String, BackupFolder) {
        let source = try TestDatabase.create(prefix)
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        if let config { try lifeboat.writeConfig(config) }
        let id = try lifeboat.backup()
        return (lifeboat, id, try BackupFolder(lifeboat.backups.appendingPathComponent(id)))
    }

    @Test func defaultArtifactsAreStandardZstdFrames() throws {
        let (lifeboat, _, folder) = try backup(prefix: "zstd_std")
        defer { lifeboat.cleanUp() }
        for artifact in folder.artifacts {
            #expect(artifact["codec"] as? String == "zstd")
            #expect(artifact["level"] as? Int == 3)
            let name = artifact["name"] as! String
            #expect(name.hasSuffix(".zst"))
            let path = folder.url.appendingPathComponent(name).path
            #expect(try Command.run("/usr/bin/zstd", ["-q", "-t", path]).status == 0)
            let raw = try Command.run("/bin/sh", ["-c", "zstd -q -dc \"$0\" | sha256sum", path]).stdout
            #expect(raw.hasPrefix(artifact["raw_sha256"] as! String), "\(name)")
            #expect(try folder.size(of: name) == artifact["stored_bytes"] as? Int)
            #expect((artifact["stored_bytes"] as! Int) < (artifact["raw_bytes"] as! Int))
        }
    }

    @Test func compressionNoneStoresRawBytes() throws {
        let (lifeboat, _, folder) = try backup(
            config: "targets:\n  - name: plain\n    url: ./backups\n    compression: none\n", prefix: "zstd_none")
        defer { lifeboat.cleanUp() }
        for artifact in folder.artifacts {
            #expect(artifact["codec"] as? String == "none")
            #expect(!(artifact["name"] as! String).hasSuffix(".zst"))
            #expect(artifact["sha256"] as? String == artifact["raw_sha256"] as? String)
            #expect(artifact["stored_bytes"] as? Int == artifact["raw_bytes"] as? Int)
        }
        let target = try TestDatabase.create("zstd_none_dst")
        #expect(try lifeboat.run(["restore", "--into", target.url]).status == 0)
    }

    @Test func levelAndThreadsAreHonoured() throws {
        let config = "targets:\n  - url: ./backups\n    compression: {codec: zstd, level: 19, threads: 1}\n"
        let (lifeboat, _, folder) = try backup(config: config, prefix: "zstd_19")
        defer { lifeboat.cleanUp() }
        #expect(folder.artifacts.allSatisfy { $0["level"] as? Int == 19 })
        let target = try TestDatabase.create("zstd_19_dst")
        let restore = try lifeboat.run(["restore", "--into", target.url])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try target.value("SELECT count(*) FROM notes") == "2000")
    }

    @Test func badCompressionSettingIsAConfigError() throws {
        let lifeboat = try LifeboatRunner(source: "postgresql://x@127.0.0.1:1/x")
        defer { lifeboat.cleanUp() }
        try lifeboat.writeConfig("targets:\n  - url: ./b\n    compression: lz5\n")
        let result = try lifeboat.run(["backup"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("compression 'lz5' is unknown"))
        try lifeboat.writeConfig("targets:\n  - url: ./b\n    compression: {codec: zstd, level: 25}\n")
        #expect(try lifeboat.run(["backup"]).stderr.contains("level must be a whole number from 1 to 19"))
    }

    /// Stored bytes that match their checksum but decode to something else: a codec fault, caught after decoding.
    @Test func codecFaultIsCaughtByTheRawChecksum() throws {
        let (lifeboat, id, folder) = try backup(prefix: "zstd_fault")
        defer { lifeboat.cleanUp() }
        let other = try Command.run("/bin/sh", ["-c", "printf '999\\tforged\\n' | zstd -q -c | base64 -w0"]).stdout
        try folder.replace(artifactNamed: "accounts", with: Data(base64Encoded: other)!)
        let verify = try lifeboat.run(["verify", id])
        #expect(verify.status == 65)
        #expect(verify.stderr.contains("decodes to bytes whose SHA-256 differs"), "\(verify.stderr)")
        let target = try TestDatabase.create("zstd_fault_dst")
        #expect(try lifeboat.run(["restore", id, "--into", target.url]).status == 65)
        #expect(try target.isEmpty())
    }

    @Test(arguments: ["truncated", "not zstd"])
    func undecodableArtifactIsRefused(kind: String) throws {
        let (lifeboat, id, folder) = try backup(prefix: "zstd_bad")
        defer { lifeboat.cleanUp() }
        let stored = try folder.contents(ofArtifactNamed: "notes")
        let replacement = kind == "truncated" ? stored.prefix(stored.count - 20) : Data("1\tplain text\n".utf8)
        try folder.replace(artifactNamed: "notes", with: Data(replacement))
        let verify = try lifeboat.run(["verify", id])
        #expect(verify.status == 65)
        #expect(verify.stderr.contains("cannot be decoded"), "\(verify.stderr)")
        #expect(verify.stderr.contains("notes"))
        let target = try TestDatabase.create("zstd_bad_dst")
        #expect(try lifeboat.run(["restore", id, "--into", target.url]).status == 65)
        #expect(try target.isEmpty())
    }

    /// Peak memory of a backup stays flat when the table grows fourfold (both sizes are past the point where
    /// zstd's job buffers have ramped up to their cap). Measured by GNU time, which forks from
    /// a small process: a child spawned straight from this (large) test process would report this process's
    /// peak, because Linux carries the high-water mark of a vfork-style spawn across exec.
    @Test(arguments: ["none", "zstd"])
    func peakMemoryDoesNotGrowWithTableSize(compression: String) async throws {
        var peaks: [Int] = []
        for rows in [500_000, 2_000_000] {
            let source = try TestDatabase.create("rss_\(rows)")
            try source.execute("""
                CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b, now() AS at
                FROM generate_series(1, \(rows)) g;
                """)
            let lifeboat = try LifeboatRunner(source: source.url)
            defer { lifeboat.cleanUp() }
            try lifeboat.writeConfig("targets:\n  - url: \(lifeboat.backups.path)\n    compression: \(compression)\n")
            let child = try ChildProcess(
                executable: "/usr/bin/time",
                arguments: ["-f", "peak-kib=%M", try TestEnvironment.lifeboatBinary(), "backup", "--config",
                            lifeboat.folder.path + "/lifeboat.yml"],
                environment: ["DATABASE_URL": source.url], output: .discard)
            let status = await child.wait()
            #expect(status.succeeded, "\(status.errorOutput)")
            let peak = status.errorOutput.split(separator: "=").last.flatMap { Int($0) }
            peaks.append(try #require(peak, "\(status.errorOutput)") * 1024)
        }
        #expect(peaks[1] < peaks[0] + 32 << 20, "\(compression): peak RSS grew from \(peaks[0]) to \(peaks[1]) bytes")
        #expect(peaks[1] < 200 << 20)
    }
}

/// A backup folder and its manifest, for tests that inspect or tamper with them.
struct BackupFolder {
    let url: URL
    private(set) var manifest: [String: Any]
    /// The position of the target record describing this folder's copy.
    private let target: Int

    /// Opens a folder; `target` names the manifest's record of its copy (default: the first complete target).
    init(_ url: URL, target name: String? = nil) throws {
        self.url = url
        manifest = try JSONSerialization.jsonObject(
            with: Data(contentsOf: url.appendingPathComponent("manifest.json"))) as! [String: Any]
        let records = manifest["targets"] as! [[String: Any]]
        target = records.firstIndex { name == nil ? $0["status"] as? String == "complete" : $0["name"] as? String == name }!
    }

    var targets: [[String: Any]] { manifest["targets"] as! [[String: Any]] }

    /// Each artifact as this copy stores it: the manifest's artifact with its stored `name`, `sha256`,
    /// `stored_bytes`, and the copy's `codec` and `level`.
    var artifacts: [[String: Any]] {
        let record = targets[target]
        let stored = record["artifacts"] as! [[String: Any]]
        return (manifest["artifacts"] as! [[String: Any]]).enumerated().map { index, artifact in
            artifact.merging(stored[index]) { _, new in new }
                .merging(["codec": record["codec"]!, "level": record["level"] ?? NSNull()]) { _, new in new }
        }
    }

    func size(of name: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.appendingPathComponent(name).path)[.size] as! NSNumber)
            .intValue
    }

    private func index(ofTable table: String) -> Int {
        artifacts.firstIndex { ($0["table"] as? [String: String])?["name"] == table }!
    }

    func contents(ofArtifactNamed table: String) throws -> Data {
        try Data(contentsOf: url.appendingPathComponent(artifacts[index(ofTable: table)]["name"] as! String))
    }

    /// Replaces a table's stored artifact and makes the manifest's stored size and SHA-256 match the new bytes, so
    /// that only decoding (or the raw checksum) can tell.
    func replace(artifactNamed table: String, with bytes: Data) throws {
        let position = index(ofTable: table)
        let file = url.appendingPathComponent(artifacts[position]["name"] as! String)
        try bytes.write(to: file)
        let digest = try Command.run("/usr/bin/sha256sum", [file.path]).stdout.prefix(64)
        var records = targets
        var stored = records[target]["artifacts"] as! [[String: Any]]
        stored[position]["sha256"] = String(digest)
        stored[position]["stored_bytes"] = bytes.count
        records[target]["artifacts"] = stored
        var updated = manifest
        updated["targets"] = records
        try JSONSerialization.data(withJSONObject: updated, options: [.prettyPrinted, .sortedKeys])
            .write(to: url.appendingPathComponent("manifest.json"))
    }
}
