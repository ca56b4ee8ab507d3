/// Derives artifact file names that are always safe.
///
/// Table names can hold anything: `../x`, `a/b`, spaces, unicode, 63 bytes. A derived name keeps only
/// `[A-Za-z0-9_.-]` of the table name (others become `_`), is cut short, and starts with the artifact's unique
/// position, so it can neither leave the backup folder nor collide with another artifact.
public enum ArtifactName {
    /// The schema archive's name.
    public static let schema = "schema.pgdump"

    /// The data file of the table at `position` in the plan.
    public static func tableData(position: Int, table: TableName) -> String {
        let number = String(position)
        let padded = String(repeating: "0", count: max(0, 6 - number.count)) + number
        return "data/\(padded)-\(sanitized(table.schema)).\(sanitized(table.name)).copy"
    }

    private static func sanitized(_ text: String) -> String {
        let safe = text.unicodeScalars.prefix(40).map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "_", "-": Character(scalar)
            default: "_"
            }
        }
        return safe.isEmpty ? "_" : String(safe)
    }

    /// Throws unless `backupID` is a backup id and `name` is safe: sinks call this before opening an artifact a
    /// manifest names.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch`, since only a tampered manifest names such a path.
    public static func checkReadable(backupID: String, name: String) throws {
        guard BackupID.isValid(backupID), isSafe(name) else {
            throw LifeboatError(
                .checksumMismatch, "backup \(backupID) names an unsafe artifact path '\(name)'; the manifest was tampered with")
        }
    }

    /// Whether `name` is a relative path of safe components, as this type makes them.
    /// Sinks check names read from a manifest with this before touching the file system.
    public static func isSafe(_ name: String) -> Bool {
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        return !name.isEmpty && components.count <= 2
            && components.allSatisfy { component in
                !component.isEmpty && component != "." && component != ".."
                    && component.unicodeScalars.allSatisfy { scalar in
                        switch scalar {
                        case "a"..."z", "A"..."Z", "0"..."9", "_", "-", ".": true
                        default: false
                        }
                    }
            }
    }
}
