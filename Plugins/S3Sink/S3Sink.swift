import Foundation
import LifeboatCore

/// Stores backups in an S3-compatible bucket: `<prefix><id>/` holds the artifacts and, uploaded last,
/// `manifest.json`. Large artifacts go up as multipart uploads, parts in parallel, at most
/// `concurrency × part size` buffered; an upload that does not complete is aborted, never left billing.
public struct S3Sink: Sink {
    public let name: String
    let client: S3Client

    /// Creates a sink for a target whose URL is `s3://bucket/prefix`.
    public init(target: TargetConfig) throws {
        name = target.name
        client = try S3Client(settings: S3Settings(target: target))
    }

    public var location: String { "s3://\(client.settings.bucket)/\(client.settings.prefix)" }

    func key(_ id: String, _ name: String) -> String { client.settings.prefix + id + "/" + name }

    /// The object that reserves a backup id for one run, so that two runs starting in the same second cannot
    /// share (and then delete) one folder.
    static let reservation = ".lifeboat-reserved"

    public func beginBackup(id: String) async throws -> (any BackupWriter)? {
        try await s3 {
            try await sweepStaleUploads()
            guard try await client.list(prefix: key(id, ""), pageSize: 1).keys.isEmpty,
                try await client.createExclusively(key(id, Self.reservation), [])
            else { return nil }
            return S3BackupWriter(sink: self, id: id)
        }
    }

    /// Aborts multipart uploads under this target's prefix that started over a day ago: those of runs that were
    /// killed before they could clean up (a run's own are swept when it ends).
    private func sweepStaleUploads() async throws {
        let cutoff = Date().addingTimeInterval(-86_400)
        for upload in try await client.listMultipartUploads(prefix: client.settings.prefix) where upload.started < cutoff {
            try await client.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
        }
    }

    public func listBackups() async throws -> [String] {
        let folders = try await s3 { try await client.list(prefix: client.settings.prefix, delimiter: "/").prefixes }
        var ids: [String] = []
        for folder in folders {
            let id = String(folder.dropFirst(client.settings.prefix.count).dropLast())
            guard BackupID.isValid(id) else { continue }
            if try await s3({ try await client.headObject(key(id, "manifest.json")) }) != nil { ids.append(id) }
        }
        return ids
    }

    public func readManifest(backupID: String) async throws -> [UInt8] {
        guard BackupID.isValid(backupID),
            let bytes = try await s3({ try await client.getObject(key(backupID, "manifest.json")) })
        else {
            throw LifeboatError(.backupNotFound, "backup \(backupID) has no manifest in target '\(name)' (\(location))")
        }
        return bytes
    }

    public func openArtifact(backupID: String, name artifact: String) async throws -> any ArtifactReader {
        try ArtifactName.checkReadable(backupID: backupID, name: artifact)
        let objectKey = key(backupID, artifact)
        guard let size = try await s3({ try await client.headObject(objectKey) }) else {
            throw LifeboatError(
                .artifactMissing, "artifact \(artifact) of backup \(backupID) is missing from target '\(name)'")
        }
        return S3ArtifactReader(sink: self, key: objectKey, size: size)
    }

    public func deleteBackup(id: String) async throws {
        guard BackupID.isValid(id), try await s3({ try await client.headObject(key(id, "manifest.json")) }) != nil else {
            throw LifeboatError(.backupNotFound, "backup \(id) is not in target '\(name)' (\(location))")
        }
        try await s3 { try await removeBackup(id) }
    }

    /// Stores the line as its own object under `<prefix>audit/`, named by time so that a listing reads in order
    /// (objects cannot be appended to).
    public func recordAudit(_ line: [UInt8]) async throws {
        let name = BackupID.make(Date()) + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16) + ".json"
        try await s3 { try await client.putObject(client.settings.prefix + "audit/" + name, line, headers: [:]) }
    }

    /// Deletes a backup's objects, the manifest first and on its own: no moment may show a manifest whose
    /// artifacts are gone.
    func removeBackup(_ id: String) async throws {
        try await client.deleteObjects([key(id, "manifest.json")])
        try await client.deleteObjects(try await client.list(prefix: key(id, "")).keys)
    }

    /// Runs S3 requests, turning their failures into one-line ``LifeboatError``s without secrets.
    func s3<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as S3Error {
            throw lifeboatError(error)
        }
    }

    func lifeboatError(_ error: S3Error) -> LifeboatError {
        let code: LifeboatError.Code =
            switch error.code {
            case "SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "ExpiredToken": .authenticationFailed
            case "NoSuchBucket": .configInvalid
            default: error.status == 0 ? .sourceUnreachable : .targetUnwritable
            }
        let advice =
            switch code {
            case .authenticationFailed: "check the S3 credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
            case .configInvalid: "check the bucket name in the target URL"
            case .sourceUnreachable: "check the endpoint and the network"
            default: "check the bucket and its permissions"
            }
        return LifeboatError(code, "target '\(name)': \(error); \(advice)", cause: error)
    }
}

/// Writes one backup under `<prefix><id>/`; the manifest goes last.
struct S3BackupWriter: BackupWriter {
    let sink: S3Sink
    let id: String

    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
        S3ArtifactWriter(sink: sink, key: sink.key(id, name))
    }

    func commit(manifest: [UInt8]) async throws {
        try await sink.s3 {
            try await sink.client.putObject(
                sink.key(id, "manifest.json"), manifest, headers: ["Content-Type": "application/json"])
        }
        await sweep()
    }

    func abort() async {
        await sweep()
        let sink = self.sink, id = self.id
        // Not cancelled with the run: an abort is what a cancelled run does last.
        _ = try? await Task { try await sink.removeBackup(id) }.value
    }

    /// Aborts every multipart upload left in progress under this backup, including one whose
    /// CreateMultipartUpload reply was lost: a complete backup has none, and a failed one keeps none.
    private func sweep() async {
        let client = sink.client
        let prefix = sink.key(id, "")
        _ = try? await Task {
            for upload in try await client.listMultipartUploads(prefix: prefix) {
                try await client.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
            }
        }.value
    }
}
