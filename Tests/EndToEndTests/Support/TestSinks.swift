import Foundation
import LifeboatCore
import LifeboatLocalSink

/// A custom sink as a plugin author would write one: it stores like a local folder, and fails or dawdles as told.
struct ScriptedSink: Sink {
    /// What goes wrong.
    enum Fault: Sendable {
        /// Nothing: it only counts.
        case none
        /// Writing fails once the backup has received this many bytes.
        case failAfter(bytes: Int)
        /// Committing the manifest fails.
        case failAtCommit
        /// Every write takes this long.
        case slow(Duration)
    }

    let inner: LocalSink
    let fault: Fault
    /// Bytes this sink has written, shared with the test.
    let written: ByteCounter

    init(name: String, folder: URL, fault: Fault, written: ByteCounter = ByteCounter()) throws {
        inner = try LocalSink(target: TargetConfig(name: name, url: folder.path))
        self.fault = fault
        self.written = written
    }

    var name: String { inner.name }
    var location: String { "scripted:" + inner.location }

    func beginBackup(id: String) async throws -> (any BackupWriter)? {
        guard let writer = try await inner.beginBackup(id: id) else { return nil }
        return Writer(inner: writer, sink: self)
    }

    func listBackups() async throws -> [String] { try await inner.listBackups() }
    func readManifest(backupID: String) async throws -> [UInt8] { try await inner.readManifest(backupID: backupID) }
    func openArtifact(backupID: String, name: String) async throws -> any ArtifactReader {
        try await inner.openArtifact(backupID: backupID, name: name)
    }
    func deleteBackup(id: String) async throws { try await inner.deleteBackup(id: id) }

    struct Writer: BackupWriter {
        let inner: any BackupWriter
        let sink: ScriptedSink

        func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
            ArtifactOutput(inner: try await inner.makeArtifactWriter(name: name), sink: sink)
        }

        func commit(manifest: [UInt8]) async throws {
            if case .failAtCommit = sink.fault {
                throw LifeboatError(.targetUnwritable, "target '\(sink.name)' refused the manifest (scripted)")
            }
            try await inner.commit(manifest: manifest)
        }

        func abort() async { await inner.abort() }
    }

    final class ArtifactOutput: ArtifactWriter {
        let inner: any ArtifactWriter
        let sink: ScriptedSink

        init(inner: any ArtifactWriter, sink: ScriptedSink) {
            self.inner = inner
            self.sink = sink
        }

        func write(_ chunk: [UInt8]) async throws {
            switch sink.fault {
            case .failAfter(let limit) where await sink.written.add(chunk.count) > limit:
                throw LifeboatError(.io, "target '\(sink.name)' lost its disk (scripted)")
            case .slow(let delay):
                try await Task.sleep(for: delay)
                await sink.written.add(chunk.count)
            case .none:
                await sink.written.add(chunk.count)
            case .failAfter, .failAtCommit:
                break
            }
            try await inner.write(chunk)
        }

        func commit() async throws { try await inner.commit() }
        func abort() async { await inner.abort() }
    }
}

/// A running byte count, and how far it ran ahead of another count.
actor ByteCounter {
    private(set) var total = 0
    /// The largest `total - pacer.total` seen after an addition.
    private(set) var largestLead = 0
    private let pacer: ByteCounter?

    init(comparedWith pacer: ByteCounter? = nil) { self.pacer = pacer }

    @discardableResult
    func add(_ count: Int) async -> Int {
        total += count
        let mine = total
        if let pacer { largestLead = max(largestLead, mine - (await pacer.total)) }
        return mine
    }
}
