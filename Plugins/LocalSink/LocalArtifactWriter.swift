import Foundation
import LifeboatCore

/// Writes one artifact to `<path>.partial` on its own thread, then fsyncs and renames it into place.
final class LocalArtifactWriter: ArtifactWriter, @unchecked Sendable {
    // `file` is touched only on `worker`'s thread.
    private let worker = BlockingWorker(name: "lifeboat-local-write")
    private let path: String
    private var file: FileSystem.File?

    init(path: String) async throws {
        self.path = path
        let partial = path + ".partial"
        file = try await worker.run { try FileSystem.File(creating: partial) }
    }

    func write(_ chunk: [UInt8]) async throws {
        try await run { try self.file?.write(chunk) }
    }

    func commit() async throws {
        let path = self.path
        try await run {
            guard let file = self.file else { return }
            try file.sync()
            file.close()
            self.file = nil
            try FileSystem.rename(path + ".partial", to: path)
            try FileSystem.syncDirectory((path as NSString).deletingLastPathComponent)
        }
    }

    func abort() async {
        let path = self.path
        await worker.runCleanup {
            self.file?.close()
            self.file = nil
            FileSystem.remove(path + ".partial")
        }
    }

    private func run(_ body: @escaping @Sendable () throws -> Void) async throws {
        do {
            try await worker.run(body)
        } catch let error as FileSystem.Failure {
            throw LifeboatError(.targetUnwritable, "cannot write \(path): \(error.reason)", cause: error)
        }
    }
}

/// Reads one artifact in 1 MiB chunks on its own thread.
final class LocalArtifactReader: ArtifactReader, @unchecked Sendable {
    private static let chunkSize = 1 << 20
    private let worker = BlockingWorker(name: "lifeboat-local-read")
    private let file: FileSystem.File

    init(path: String) async throws {
        file = try await worker.run { try FileSystem.File(reading: path) }
    }

    func read() async throws -> [UInt8]? {
        let file = self.file
        let chunk = try await worker.run { try file.read(upTo: LocalArtifactReader.chunkSize) }
        return chunk.isEmpty ? nil : chunk
    }

    func close() async {
        let file = self.file
        await worker.runCleanup { file.close() }
    }
}
