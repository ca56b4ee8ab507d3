import Foundation
import LifeboatCore
import LifeboatLocalSink
import LifeboatSinkTests
import Testing

/// The local-folder sink passes the sink conformance kit, each check in a fresh folder.
@Suite struct LocalSinkConformanceTests {
    @Test(arguments: SinkConformance.checks)
    func conformance(check: SinkConformance.Check) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await SinkConformance {
            try LocalSink(target: TargetConfig(name: "local", url: folder.path))
        }.run(check)
    }
}

/// The kit is not easy to pass: sinks that break the contract in small ways fail it.
@Suite struct SinkConformanceKitTests {
    /// A local sink whose aborts do nothing, or whose reads lose the last byte.
    struct BrokenSink: Sink {
        let inner: LocalSink
        let forgetsAborts: Bool

        var name: String { inner.name }
        var location: String { inner.location }

        func beginBackup(id: String) async throws -> (any BackupWriter)? {
            guard let writer = try await inner.beginBackup(id: id) else { return nil }
            return forgetsAborts ? ForgetfulWriter(inner: writer) : writer
        }
        func listBackups() async throws -> [String] { try await inner.listBackups() }
        func readManifest(backupID: String) async throws -> [UInt8] { try await inner.readManifest(backupID: backupID) }
        func openArtifact(backupID: String, name: String) async throws -> any ArtifactReader {
            let reader = try await inner.openArtifact(backupID: backupID, name: name)
            return forgetsAborts ? reader : ShortReader(inner: reader)
        }
        func deleteBackup(id: String) async throws { try await inner.deleteBackup(id: id) }
    }

    struct ForgetfulWriter: BackupWriter {
        let inner: any BackupWriter
        func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
            try await inner.makeArtifactWriter(name: name)
        }
        func commit(manifest: [UInt8]) async throws { try await inner.commit(manifest: manifest) }
        func abort() async {}
    }

    final class ShortReader: ArtifactReader {
        let inner: any ArtifactReader
        init(inner: any ArtifactReader) { self.inner = inner }
        func read() async throws -> [UInt8]? {
            guard let chunk = try await inner.read() else { return nil }
            return chunk.count > 1 ? Array(chunk.dropLast()) : chunk
        }
        func close() async { await inner.close() }
    }

    func run(_ check: SinkConformance.Check, forgetsAborts: Bool) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await SinkConformance {
            BrokenSink(inner: try LocalSink(target: TargetConfig(name: "broken", url: folder.path)), forgetsAborts: forgetsAborts)
        }.run(check)
    }

    @Test func aSinkThatForgetsAbortsFails() async {
        await #expect(throws: ConformanceFailure.self) {
            try await run(.abortRemovesTheBackupEvenAfterCommit, forgetsAborts: true)
        }
    }

    @Test func aSinkThatLosesBytesFails() async {
        await #expect(throws: ConformanceFailure.self) {
            try await run(.roundTripsEmptySmallAndLargeArtifacts, forgetsAborts: false)
        }
        await #expect(throws: ConformanceFailure.self) { try await run(.wrongBytesAreCaughtOnRead, forgetsAborts: false) }
    }
}
