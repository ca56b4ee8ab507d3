import Foundation
import LifeboatCore

/// Stores backups in a local folder: `<root>/<id>/` holds the artifacts and, written last, `manifest.json`.
///
/// Folders are created 0700 and files 0600. Every file is written under a `.partial` name, fsynced, renamed and
/// its folder fsynced, so a crash leaves only folders without a manifest, which are never listed as backups.
public struct LocalSink: Sink {
    /// The name of the file that marks a complete backup.
    public static let manifestName = "manifest.json"

    public let name: String
    /// The absolute path of the target folder.
    public let root: String

    public var location: String { root }

    /// Creates a sink for a target whose URL is a path or a `file://` URL.
    /// - Throws: ``LifeboatError`` with code `configInvalid` for a `file://` URL that is not a local path.
    public init(target: TargetConfig) throws {
        try target.checkOptions(known: [])
        self.name = target.name
        var path = target.url
        if path.lowercased().hasPrefix("file://") {
            guard let url = URL(string: path), url.host == nil || url.host == "" || url.host == "localhost" else {
                throw LifeboatError(
                    .configInvalid, "target '\(target.name)': \(target.url) is not a local file:// URL")
            }
            path = url.path
        }
        guard !path.isEmpty else {
            throw LifeboatError(.configInvalid, "target '\(target.name)' has an empty path")
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        self.root = URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    public func beginBackup(id: String) async throws -> (any BackupWriter)? {
        let folder = root + "/" + id
        do {
            try FileSystem.makeDirectories(root)
            guard try FileSystem.makeDirectory(folder) else { return nil }
        } catch let error as FileSystem.Failure {
            throw LifeboatError(
                .targetUnwritable,
                "cannot create a backup folder in target '\(name)' (\(root)): \(error.reason); "
                    + "choose a writable folder or fix its permissions")
        }
        return LocalBackupWriter(sink: self, folder: folder)
    }

    public func listBackups() async throws -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else {
            guard !FileManager.default.fileExists(atPath: root) else {
                throw LifeboatError(
                    .targetUnwritable, "cannot read target '\(name)' (\(root)); check its permissions")
            }
            return []
        }
        return entries.filter { id in
            BackupID.isValid(id) && FileSystem.isRegularFile(root + "/" + id + "/" + Self.manifestName)
        }
    }

    public func readManifest(backupID: String) async throws -> [UInt8] {
        let path = root + "/" + backupID + "/" + Self.manifestName
        guard BackupID.isValid(backupID), let data = FileManager.default.contents(atPath: path) else {
            throw LifeboatError(
                .backupNotFound, "backup \(backupID) has no manifest in target '\(name)' (\(root))")
        }
        return Array(data)
    }

    public func deleteBackup(id: String) async throws {
        let folder = root + "/" + id
        guard BackupID.isValid(id) else {
            throw LifeboatError(.backupNotFound, "backup \(id) is not in target '\(name)' (\(root))")
        }
        let outcome = await BlockingWorker(name: "lifeboat-local-delete").runCleanup { () -> (Bool, Bool)? in
            guard FileSystem.isRegularFile(folder + "/" + Self.manifestName) else { return nil }
            Self.removeBackupFolder(folder)
            return (FileManager.default.fileExists(atPath: folder), FileSystem.isRegularFile(folder + "/" + Self.manifestName))
        }
        guard let (folderLeft, manifestLeft) = outcome else {
            throw LifeboatError(.backupNotFound, "backup \(id) is not in target '\(name)' (\(root))")
        }
        if folderLeft {
            throw LifeboatError(
                .targetUnwritable,
                manifestLeft
                    ? "backup \(id) in target '\(name)' could not be deleted; check the permissions of \(folder)"
                    : "backup \(id) in target '\(name)' is no longer listed, but some of its files stayed in \(folder); "
                        + "check its permissions")
        }
    }

    /// Appends the line to `audit.jsonl` in the target folder, if the folder exists (a mistyped path is not
    /// created just for that).
    public func recordAudit(_ line: [UInt8]) async throws {
        guard FileSystem.isDirectory(root) else { return }
        let path = root + "/" + Self.auditLogName
        try await BlockingWorker(name: "lifeboat-local-audit").run { try AuditLog.append(line, to: path) }
    }

    /// The space of the file system holding the target folder (or its nearest existing parent).
    public func diskSpace() async throws -> DiskSpace? {
        let root = self.root
        return try await BlockingWorker(name: "lifeboat-local-space").run {
            var path = root
            while !FileManager.default.fileExists(atPath: path), path != "/" { path = (path as NSString).deletingLastPathComponent }
            var info = statvfs()
            guard statvfs(path, &info) == 0 else {
                throw LifeboatError(.io, "cannot read the free space of \(path): \(String(cString: strerror(errno)))")
            }
            let unit = Int(info.f_frsize)
            return DiskSpace(available: Int(info.f_bavail) * unit, total: Int(info.f_blocks) * unit)
        }
    }

    /// The target's copy of the audit log.
    public static let auditLogName = "audit.jsonl"

    /// Removes a backup folder, the manifest first, so that a crash half-way leaves no folder that claims to be
    /// complete.
    static func removeBackupFolder(_ folder: String) {
        if unlink(folder + "/" + manifestName) == 0 { try? FileSystem.syncDirectory(folder) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    public func openArtifact(backupID: String, name artifact: String) async throws -> any ArtifactReader {
        try ArtifactName.checkReadable(backupID: backupID, name: artifact)
        let path = root + "/" + backupID + "/" + artifact
        do {
            return try await LocalArtifactReader(path: path)
        } catch let error as FileSystem.Failure {
            throw LifeboatError(
                .artifactMissing,
                "artifact \(artifact) of backup \(backupID) cannot be read from target '\(name)': \(error.reason)")
        }
    }
}
