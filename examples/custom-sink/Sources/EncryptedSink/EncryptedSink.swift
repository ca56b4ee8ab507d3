import Crypto
import Foundation
import LifeboatCore

/// Encrypts everything another target stores, artifacts and manifests, with AES-256-GCM, so that an off-site
/// copy is of no use to whoever reads the bucket without the key:
///
/// ```yaml
/// - name: offsite
///   url: encrypted://
///   inner: s3://backups/app        # the target that stores the encrypted bytes
///   key_file: /etc/lifeboat/offsite.key   # 32 random bytes in base64: head -c 32 /dev/urandom | base64
///   endpoint: https://...          # other keys go to the inner target
/// ```
///
/// Lifeboat's own checksums cover the decrypted bytes, so `verify` and `restore` work as on any target; a wrong
/// key, a changed byte, or frames swapped between artifacts are reported as damage.
public struct EncryptedSink: Sink {
    public let name: String
    let inner: any Sink
    let key: EncryptionKey

    /// Creates the sink and, through `registry`, the inner target it wraps.
    /// - Throws: ``LifeboatError`` with code `configInvalid` for a missing `inner:` or an unusable key file.
    public init(target: TargetConfig, registry: PluginRegistry) throws {
        name = target.name
        guard let innerURL = target.options["inner"] else {
            throw LifeboatError(.configInvalid, "target '\(name)' needs inner: the URL of the target that stores its bytes")
        }
        guard let keyFile = target.options["key_file"] else {
            throw LifeboatError(.configInvalid, "target '\(name)' needs key_file: a file holding its encryption key")
        }
        key = try Self.loadKey(keyFile, target: name)
        var innerTarget = target
        innerTarget.url = innerURL
        innerTarget.options["inner"] = nil
        innerTarget.options["key_file"] = nil
        inner = try registry.makeSink(innerTarget)
    }

    public var location: String { "encrypted:" + inner.location }

    public func beginBackup(id: String) async throws -> (any BackupWriter)? {
        guard let writer = try await inner.beginBackup(id: id) else { return nil }
        return EncryptingBackupWriter(inner: writer, key: key, id: id)
    }

    public func listBackups() async throws -> [String] { try await inner.listBackups() }

    public func readManifest(backupID: String) async throws -> [UInt8] {
        let stored = try await inner.readManifest(backupID: backupID)
        let sealing = Sealing(key: key, context: "\(backupID)/manifest.json")
        var frames = FrameSplitter()
        frames.append(stored)
        guard let (box, last) = try frames.next(context: sealing.context), last, !frames.hasLeftovers else {
            throw LifeboatError(.checksumMismatch, "\(sealing.context) in target '\(name)' is damaged")
        }
        return try sealing.open(box, index: 0, last: true)
    }

    public func openArtifact(backupID: String, name artifact: String) async throws -> any ArtifactReader {
        let reader = try await inner.openArtifact(backupID: backupID, name: artifact)
        return DecryptingReader(inner: reader, sealing: Sealing(key: key, context: "\(backupID)/\(artifact)"))
    }

    public func deleteBackup(id: String) async throws { try await inner.deleteBackup(id: id) }

    /// Reads a key file (through symbolic links, as Kubernetes mounts secrets): 32 bytes in base64, readable by its
    /// owner only.
    static func loadKey(_ path: String, target: String) throws -> EncryptionKey {
        let file = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else {
            throw LifeboatError(
                .configInvalid,
                "target '\(target)': cannot read key_file \(path); make one with: head -c 32 /dev/urandom | base64 > \(path)")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else {
            throw LifeboatError(
                .configInvalid, "target '\(target)': key_file \(path) can be read by other users; chmod 600 it")
        }
        guard let key = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), key.count == 32 else {
            throw LifeboatError(
                .configInvalid,
                "target '\(target)': key_file \(path) must hold 32 bytes in base64 (head -c 32 /dev/urandom | base64)")
        }
        return EncryptionKey(bytes: Array(key))
    }
}

/// Encrypts each artifact and the manifest of one backup on their way to the inner target.
struct EncryptingBackupWriter: BackupWriter {
    let inner: any BackupWriter
    let key: EncryptionKey
    let id: String

    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
        EncryptingWriter(
            inner: try await inner.makeArtifactWriter(name: name), sealing: Sealing(key: key, context: "\(id)/\(name)"))
    }

    func commit(manifest: [UInt8]) async throws {
        let sealing = Sealing(key: key, context: "\(id)/manifest.json")
        try await inner.commit(manifest: try sealing.seal(manifest, index: 0, last: true))
    }

    func abort() async { await inner.abort() }
}
