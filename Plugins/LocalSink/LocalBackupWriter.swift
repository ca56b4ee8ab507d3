import Foundation
import LifeboatCore

/// Writes one backup folder; the manifest goes last.
struct LocalBackupWriter: BackupWriter {
    let sink: LocalSink
    let folder: String

    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
        precondition(ArtifactName.isSafe(name), "unsafe artifact name \(name)")
        let path = folder + "/" + name
        do {
            let parent = (path as NSString).deletingLastPathComponent
            if parent != folder { _ = try FileSystem.makeDirectory(parent) }
            return try await LocalArtifactWriter(path: path)
        } catch let error as FileSystem.Failure {
            throw unwritable(error)
        }
    }

    func commit(manifest: [UInt8]) async throws {
        let worker = BlockingWorker(name: "lifeboat-local-commit")
        let folder = self.folder
        let root = sink.root
        do {
            try await worker.run {
                if FileSystem.isDirectory(folder + "/data") { try FileSystem.syncDirectory(folder + "/data") }
                try FileSystem.writeAtomically(manifest, to: folder + "/" + LocalSink.manifestName)
                try FileSystem.syncDirectory(root)
            }
        } catch let error as FileSystem.Failure {
            throw unwritable(error)
        }
    }

    /// Removes the folder, the manifest first (a fan-out run aborts targets it had already committed).
    func abort() async {
        let folder = self.folder
        await BlockingWorker(name: "lifeboat-local-abort").runCleanup { LocalSink.removeBackupFolder(folder) }
    }

    private func unwritable(_ error: FileSystem.Failure) -> LifeboatError {
        LifeboatError(
            .targetUnwritable, "cannot write to target '\(sink.name)' (\(folder)): \(error.reason)", cause: error)
    }
}
