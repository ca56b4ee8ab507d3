/// A target that loads each backup into a live database instead of storing its artifacts: a standby copy of the
/// source, or backup schemas beside it.
///
/// It receives the raw bytes (targets of this kind are never compressed) and lists the backups it holds with
/// their manifests, but cannot give artifacts back: ``Sink/openArtifact(backupID:name:)`` fails, restores read the
/// other targets, and restoring *from* it dumps the database it holds afresh, through ``makeSource(jobs:)``.
public protocol DatabaseTarget: Sink {
    /// Whether each backup replaces the one before (a standby copy), rather than adding to them.
    var replacesEachBackup: Bool { get }

    /// A source reading the database that holds the backup, for `restore --from` this target.
    /// - Parameter jobs: How many tables to copy at once.
    /// - Throws: ``LifeboatError`` when the target's backups cannot be dumped as a database (e.g. backup schemas).
    func makeSource(jobs: Int) throws -> any Source

    /// Checks, without loading anything, that a backup can be loaded: the server answers and the role may create
    /// what a load creates.
    /// - Returns: One line per check passed, for people.
    func preflight() async throws -> [String]

    /// Counts the rows of every table of the copy of a backup it holds, and compares them with its manifest.
    /// - Returns: How many tables were counted.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` when a count differs (the copy was changed after
    ///   it was loaded), or `backupNotFound` when it does not hold that backup.
    func checkRowCounts(of manifest: Manifest) async throws -> Int
}

extension DatabaseTarget {
    /// The manifest of the backup this target holds that `selector` means: for `latest`, the newest that is not a
    /// safety backup.
    /// - Throws: ``LifeboatError`` with code `backupNotFound` when it holds none.
    public func heldBackup(_ selector: BackupSelector) async throws -> Manifest {
        for id in try await listBackups().sorted(by: >) {
            let manifest = try await Catalog.manifest(id: id, on: self)
            switch selector {
            case .id(let wanted) where wanted == id: return manifest
            case .label(let label) where manifest.label == label: return manifest
            case .latest where manifest.label?.hasPrefix(SafetyBackup.labelPrefix) != true: return manifest
            default: continue
            }
        }
        let held = try await listBackups().sorted().joined(separator: ", ")
        throw LifeboatError(
            .backupNotFound,
            "target '\(name)' (\(location)) holds no backup matching \(selector)"
                + (held.isEmpty ? "; it holds none yet, run a backup first" : "; it holds \(held)"))
    }
}
