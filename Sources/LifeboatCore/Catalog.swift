/// The backups stored on one sink.
public struct Catalog: Sendable {
    /// The sink to read.
    public let sink: any Sink

    /// Creates a catalog of `sink`.
    public init(sink: any Sink) { self.sink = sink }

    /// Every complete backup's manifest, oldest first.
    public func manifests() async throws -> [Manifest] {
        var manifests: [Manifest] = []
        for id in try await sink.listBackups().sorted() {
            manifests.append(try await manifest(id: id))
        }
        return manifests
    }

    /// The manifest of one backup.
    public func manifest(id: String) async throws -> Manifest {
        let bytes = try await sink.readManifest(backupID: id)
        let manifest = try Manifest.decode(bytes, from: "the manifest of backup \(id) on target '\(sink.name)'")
        guard manifest.id == id else {
            throw LifeboatError(
                .checksumMismatch,
                "the manifest in backup folder \(id) on target '\(sink.name)' names backup \(manifest.id); "
                    + "the folder was renamed or damaged, use another backup")
        }
        return manifest
    }

    /// Finds the backup a selector means.
    /// - Throws: ``LifeboatError`` with code `backupNotFound`, saying what exists.
    public func resolve(_ selector: BackupSelector) async throws -> Manifest {
        switch selector {
        case .id(let id):
            guard try await sink.listBackups().contains(id) else { throw notFound(selector) }
            return try await manifest(id: id)
        case .latest:
            guard let id = try await sink.listBackups().max() else { throw notFound(selector) }
            return try await manifest(id: id)
        case .label(let label):
            guard let match = try await manifests().last(where: { $0.label == label }) else {
                throw notFound(selector)
            }
            return match
        }
    }

    private func notFound(_ selector: BackupSelector) -> LifeboatError {
        LifeboatError(
            .backupNotFound,
            "no complete backup matches \(selector) on target '\(sink.name)' (\(sink.location)); "
                + "run 'lifeboat list' to see the backups")
    }
}
