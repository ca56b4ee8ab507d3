import Foundation
import LifeboatCore

/// Runs `pg_restore` on a backup's schema archive, which it first decodes (checking its SHA-256) into a private
/// temporary file: `pg_restore` needs a file to create indexes and constraints with several jobs.
struct SchemaRestorer: Sendable {
    let pgRestore: String
    let connection: ConnectionInfo
    let noOwner: Bool
    /// The decoded archive.
    let archive: URL

    /// Decodes the schema artifact into a new private folder; ``remove()`` deletes it.
    static func extract(
        _ schema: Artifact, from store: ArtifactStore, pgRestore: String, connection: ConnectionInfo, noOwner: Bool
    ) async throws -> SchemaRestorer {
        let (archive, file) = try makeArchiveFile()
        let restorer = SchemaRestorer(pgRestore: pgRestore, connection: connection, noOwner: noOwner, archive: archive)
        do {
            let worker = BlockingWorker(name: "lifeboat-schema-file")
            defer { try? file.close() }
            try await store.read(schema) { chunk in try await worker.run { try file.write(contentsOf: chunk) } }
        } catch {
            restorer.remove()
            throw error
        }
        return restorer
    }

    /// Creates an empty archive file, readable only by this user, in a new private folder; the caller writes the
    /// archive through the handle, closes it, and removes the folder when done.
    static func makeArchiveFile() throws -> (URL, FileHandle) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let archive = folder.appendingPathComponent("schema.pgdump")
        guard FileManager.default.createFile(atPath: archive.path, contents: nil, attributes: [.posixPermissions: 0o600]),
            let file = FileHandle(forWritingAtPath: archive.path)
        else {
            try? FileManager.default.removeItem(at: folder)
            throw LifeboatError(.io, "cannot write a temporary file in \(folder.path)")
        }
        return (archive, file)
    }

    /// A path for a file of the caller's (e.g. a `--use-list` file) in the archive's private folder, deleted with it.
    func scratchPath(_ name: String) -> String {
        archive.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Deletes the decoded archive and the scratch files beside it.
    func remove() {
        try? FileManager.default.removeItem(at: archive.deletingLastPathComponent())
    }

    /// Restores one section of the archive, `pre-data`, `data` or `post-data`: in one transaction, or with
    /// `jobs` > 1 in that many sessions at once (then a failure leaves what was done so far).
    func run(section: String, jobs: Int = 1) async throws {
        let mode = jobs > 1 ? ["--jobs=\(jobs)"] : ["--single-transaction"]
        try await pgRestore(["--section=\(section)"] + mode + restoreArguments, what: "--section=\(section)")
    }

    /// Restores, in one transaction, the entries a `--use-list` file names.
    func run(list: String) async throws {
        try await pgRestore(["--use-list=\(list)", "--single-transaction"] + restoreArguments, what: "--use-list")
    }

    /// Writes the archive's table of contents (`pg_restore --list`) to `file`.
    func writeContents(to file: String) async throws {
        try await pgRestore(["--list", "--file=\(file)"], what: "--list")
    }

    private var restoreArguments: [String] {
        ["--exit-on-error", "--no-password", "--dbname=\(connection.conninfoWithoutPassword)"]
            + (noOwner ? ["--no-owner", "--no-privileges"] : [])
    }

    private func pgRestore(_ arguments: [String], what: String) async throws {
        let process = try ChildProcess(
            executable: pgRestore, arguments: arguments + [archive.path], environment: connection.toolEnvironment,
            input: .none, output: .discard)
        let status = await withTaskCancellationHandler { await process.wait() } onCancel: { process.terminate() }
        try Task.checkCancellation()
        guard status.succeeded else {
            throw LifeboatError(.restoreFailed, "pg_restore \(what) failed: \(status.errorOutput)")
        }
    }
}
