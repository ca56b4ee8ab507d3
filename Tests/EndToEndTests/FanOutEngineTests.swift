import Foundation
import LifeboatCLI
import LifeboatCore
import LifeboatLocalSink
import LifeboatPostgres
import LifeboatS3Sink
import LifeboatZstd
import Logging
import Testing

/// The fan-out engine with custom sinks, as a plugin author would use it: one read of a real database feeding
/// several targets (local folders, the test S3 server, custom sinks), failing targets (optional and required, mid-stream and at commit), and a slow target.
@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct FanOutEngineTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-fanout-\(UUID().uuidString)")
    var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// A source with a few small tables and `wide`, of `rows` rows (about 40 bytes each).
    func makeSource(_ prefix: String, rows: Int = 200_000) throws -> TestDatabase {
        let source = try TestDatabase.create(prefix)
        try source.execute(
            Fixtures.small + "\nCREATE TABLE wide AS SELECT g, md5(g::text) AS m FROM generate_series(1, \(rows)) g;")
        return source
    }

    func local(_ name: String, compression: CompressionConfig = .default, required: Bool = true) throws -> BackupTarget {
        BackupTarget(
            sink: try LocalSink(target: TargetConfig(name: name, url: folder.appendingPathComponent(name).path)),
            compression: compression, codec: try PluginRegistry.builtIn.makeCodec(compression), required: required)
    }

    /// A target in the test bucket under a fresh prefix, zstd level 1.
    func bucket(_ name: String) throws -> BackupTarget {
        let server = try S3TargetTests.Server()
        let target = TargetConfig(
            name: name, url: "s3://\(server.bucket)/engine-\(UUID().uuidString.prefix(8))",
            options: ["endpoint": server.endpoint, "part_size_mb": "1", "access_key_id": server.key,
                      "secret_access_key": server.secret])
        let compression = CompressionConfig(codec: "zstd", level: 1)
        return BackupTarget(
            sink: try S3Sink(target: target), compression: compression,
            codec: try PluginRegistry.builtIn.makeCodec(compression))
    }

    func scripted(_ name: String, _ fault: ScriptedSink.Fault, required: Bool, written: ByteCounter = ByteCounter(),
                  bufferBytes: Int = BackupTarget.defaultBufferBytes) throws -> BackupTarget {
        BackupTarget(
            sink: try ScriptedSink(name: name, folder: folder.appendingPathComponent(name), fault: fault, written: written),
            compression: .none, codec: nil, required: required, bufferBytes: bufferBytes)
    }

    func backup(_ source: TestDatabase, to targets: [BackupTarget], jobs: Int = 2) async throws -> BackupOutcome {
        try await BackupEngine(
            source: try PostgresSource(config: SourceConfig(url: source.url, jobs: jobs)), targets: targets,
            logger: logger
        ).run(label: nil)
    }

    /// Restores from `sinks` only into a new database and returns it.
    func restore(from sinks: [any Sink]) async throws -> TestDatabase {
        let target = try TestDatabase.create("fanout_dst")
        _ = try await RestoreEngine(
            sinks: sinks,
            destination: try PostgresDestination(url: target.url, options: .init(jobs: 2, toolDirectory: nil, noOwner: false)),
            registry: .builtIn, logger: logger
        ).run(.latest)
        return target
    }

    /// Sequential scans of `table` counted by the server, once the backup's sessions have reported them.
    func sequentialScans(of table: String, in database: TestDatabase, atLeast minimum: Int = 0) async throws -> Int {
        for _ in 0..<50 {
            let scans = Int(try database.value("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '\(table)'"))!
            if scans >= minimum { return scans }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("the server never counted \(minimum) scans of \(table)")
    }

    @Test func oneReadFeedsEveryTargetAndAFailingOptionalOneIsRecorded() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try makeSource("fanout_three")
        let scansBefore = try await sequentialScans(of: "wide", in: source)
        let targets = [
            try local("zstd-disk"), try local("plain-disk", compression: .none), try bucket("bucket"),
            try scripted("flaky", .failAfter(bytes: 1 << 20), required: false),
        ]
        let outcome = try await backup(source, to: targets)
        let manifest = outcome.manifest

        #expect(outcome.failures.map(\.target) == ["flaky"])
        #expect(outcome.failures.first?.error.contains("lost its disk") == true)
        #expect(manifest.targets.map(\.name) == ["zstd-disk", "plain-disk", "bucket", "flaky"])
        #expect(manifest.targets.map(\.status) == [.complete, .complete, .complete, .failed])
        #expect(manifest.targets.map(\.codec) == ["zstd", "none", "zstd", "none"])
        #expect(manifest.targets.map(\.level) == [3, nil, 1, nil])
        #expect(manifest.targets[0].artifacts != manifest.targets[2].artifacts, "levels 3 and 1 encode differently")
        #expect(manifest.targets[0].artifacts.allSatisfy { $0.name.hasSuffix(".zst") })
        #expect(manifest.targets[1].artifacts.allSatisfy { !$0.name.hasSuffix(".zst") })
        #expect(zip(manifest.artifacts, manifest.targets[1].artifacts).allSatisfy { $0.rawSha256 == $1.sha256 })

        // The same manifest, committed last to each complete target; nothing left on the failed one.
        let committed = try ["zstd-disk", "plain-disk"].map {
            try Data(contentsOf: folder.appendingPathComponent("\($0)/\(manifest.id)/manifest.json"))
        }
        #expect(committed[0] == committed[1])
        #expect(Array(committed[0]) == (try manifest.encoded()))
        #expect(try await targets[2].sink.readManifest(backupID: manifest.id) == Array(committed[0]))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("flaky/\(manifest.id)").path))

        // The table was read once for all four targets.
        #expect(try await sequentialScans(of: "wide", in: source, atLeast: scansBefore + 1) == scansBefore + 1)

        // Each complete copy alone restores the database.
        for target in targets.prefix(3) {
            let restored = try await restore(from: [target.sink])
            #expect(try restored.value("SELECT count(*) FROM wide") == "200000", "\(target.sink.name)")
        }
    }

    @Test(arguments: [ScriptedSink.Fault.failAfter(bytes: 1 << 20), .failAtCommit])
    func aFailingRequiredTargetLeavesNothingAnywhere(fault: ScriptedSink.Fault) async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try makeSource("fanout_required")
        let disk = try local("disk")
        await #expect {
            try await backup(source, to: [disk, try scripted("flaky", fault, required: true)])
        } throws: { error in
            let error = error as? LifeboatError
            return error?.message.contains("'flaky'") == true && error?.message.contains("nothing of backup") == true
        }
        #expect(try await disk.sink.listBackups().isEmpty)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("disk").path)) ?? []
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func anOptionalTargetRefusingTheManifestLeavesTheOthersComplete() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try makeSource("fanout_late", rows: 1000)
        let outcome = try await backup(source, to: [try local("disk"), try scripted("flaky", .failAtCommit, required: false)])
        #expect(outcome.failures.map(\.target) == ["flaky"])
        #expect(try await LocalSink(target: TargetConfig(name: "disk", url: folder.appendingPathComponent("disk").path))
            .listBackups() == [outcome.manifest.id])
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("flaky/\(outcome.manifest.id)").path))
        // The manifest the required target holds knows the optional one failed.
        let committed = try BackupFolder(folder.appendingPathComponent("disk/\(outcome.manifest.id)"))
        #expect(committed.targets.map { $0["status"] as? String } == ["complete", "failed"])
        #expect((committed.targets[1]["error"] as? String)?.contains("refused the manifest") == true)
    }

    @Test func aSlowTargetPacesTheRunWithinItsBuffer() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try makeSource("fanout_slow", rows: 400_000)
        let slow = ByteCounter()
        let fast = ByteCounter(comparedWith: slow)
        let buffer = 1 << 20
        let outcome = try await backup(
            source,
            to: [try scripted("slow", .slow(.milliseconds(20)), required: true, written: slow, bufferBytes: buffer),
                 try scripted("fast", .none, required: true, written: fast, bufferBytes: buffer)],
            jobs: 1)
        #expect(outcome.failures.isEmpty)
        let (slowTotal, fastTotal) = (await slow.total, await fast.total)
        #expect(slowTotal == outcome.manifest.rawBytes && fastTotal == outcome.manifest.rawBytes)
        // The fast target may run ahead of the slow one by the slow one's queue (up to the buffer, or one chunk)
        // plus the chunk it is writing: not by the table (16 MB).
        let chunk = 1 << 20
        let lead = await fast.largestLead
        #expect(lead <= buffer + 2 * chunk + 65_536, "the fast target ran \(lead) bytes ahead")
        #expect(outcome.manifest.rawBytes > 4 * (buffer + 2 * chunk))
    }
}
