import Foundation
import LifeboatCore

/// Receives a backup's schema archive into a private temporary file; its commit hands the file to `load`.
final class SchemaArchiveWriter: ArtifactWriter, @unchecked Sendable {
    /// Loads the complete archive; called once, by ``commit()``.
    typealias Load = @Sendable (URL) async throws -> Void

    private let archive: URL
    private let file: FileHandle
    private let worker = BlockingWorker(name: "lifeboat-replica-schema")
    private let load: Load

    init(load: @escaping Load) throws {
        (archive, file) = try SchemaRestorer.makeArchiveFile()
        self.load = load
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
        try? file.close()
        try? FileManager.default.removeItem(at: archive.deletingLastPathComponent())
    }
}
