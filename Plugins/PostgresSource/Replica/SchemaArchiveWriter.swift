import Foundation
import LifeboatCore

/// Receives a backup's schema archive into a private temporary file; its commit hands the file to `load`.
final class SchemaArchiveWriter: ArtifactWriter, @unchecked Sendable {
    /// Loads the complete archive; called once, by ``commit()``.
    typealias Load = @Sendable (URL) async throws -> Void

    private let archive: URL
    private let file: FileHandle
    private let worker: BlockingWorker
    private let load: Load
    private let abandoned: @Sendable () async -> Void

    /// Creates the temporary file on a worker thread of the writer's own.
    /// - Parameter abandoned: Called when the archive will never be loaded (``abort()``).
    static func make(load: @escaping Load, abandoned: @escaping @Sendable () async -> Void) async throws
        -> SchemaArchiveWriter
    {
        let worker = BlockingWorker(name: "lifeboat-replica-schema")
        let (archive, file) = try await worker.run { try SchemaRestorer.makeArchiveFile() }
        return SchemaArchiveWriter(archive: archive, file: file, worker: worker, load: load, abandoned: abandoned)
    }

    private init(
        archive: URL, file: FileHandle, worker: BlockingWorker, load: @escaping Load,
        abandoned: @escaping @Sendable () async -> Void
    ) {
        self.archive = archive
        self.file = file
        self.worker = worker
        self.load = load
        self.abandoned = abandoned
    }

    func write(_ chunk: [UInt8]) async throws {
        let file = self.file
        try await worker.run { try file.write(contentsOf: chunk) }
    }

    func commit() async throws {
        let file = self.file
        try await worker.run { try file.close() }
        try await load(archive)
    }

    func abort() async {
        await abandoned()
        let (file, folder) = (self.file, archive.deletingLastPathComponent())
        await worker.runCleanup {
            try? file.close()
            try? FileManager.default.removeItem(at: folder)
        }
    }
}
