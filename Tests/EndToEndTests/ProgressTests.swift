import Foundation
import LifeboatCore
import LifeboatLocalSink
import LifeboatPostgres
import Logging
import Testing

@testable import LifeboatCLI

/// Progress: the meters of a backup and a restore count every raw byte and artifact, and the display line reads well.
@Suite struct ProgressTests {
    @Test(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
    func backupAndRestoreMetersCountEveryByteAndArtifact() async throws {
        let source = try TestDatabase.create("progress_src")
        try source.execute(Fixtures.small)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let sink = try LocalSink(target: TargetConfig(name: "primary", url: folder.path))

        var backup = BackupEngine(
            source: try PostgresSource(config: SourceConfig(url: source.url)),
            targets: [BackupTarget(sink: sink, compression: .none, codec: nil)], logger: logger)
        backup.progress = ProgressMeter()
        let manifest = try await backup.run(label: nil).manifest
        let wrote = try #require(backup.progress?.reading())
        #expect(wrote.phase == "backup" && wrote.bytes == manifest.rawBytes)
        #expect(wrote.artifactsDone == manifest.artifacts.count && wrote.artifacts == manifest.artifacts.count)

        let target = try TestDatabase.create("progress_dst")
        var restore = RestoreEngine(
            sinks: [sink], destination: try PostgresDestination(url: target.url, options: .init(jobs: 2, toolDirectory: nil, noOwner: false)),
            registry: .builtIn, logger: logger)
        restore.progress = ProgressMeter()
        _ = try await restore.run(.latest)
        let read = try #require(restore.progress?.reading())
        #expect(read.phase == "restore" && read.bytes == manifest.rawBytes && read.expectedBytes == manifest.rawBytes)
        #expect(read.artifactsDone == manifest.artifacts.count)
    }

    @Test func theLineShowsShareSizesArtifactsRateAndETA() {
        let reading = ProgressMeter.Reading(
            phase: "restore", bytes: 1 << 30, expectedBytes: 4 << 30, artifactsDone: 12, artifacts: 64, seconds: 10)
        #expect(ProgressDisplay.line(reading) == "restore  25%  1.0 GiB of 4.0 GiB  12/64 artifacts  102.4 MiB/s  ETA 30s")
        var backup = reading
        backup.phase = "backup"
        backup.bytes = 5 << 30
        #expect(ProgressDisplay.line(backup) == "backup  99%  5.0 GiB of ~4.0 GiB  12/64 artifacts")
    }
}
