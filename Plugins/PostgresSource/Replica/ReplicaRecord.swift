import LifeboatCore

/// The comment that says which backup a replica database or backup schema holds: a first line naming the backup,
/// then its manifest. Written in the same transaction that puts the copy in place, so a copy that has one is
/// complete.
enum ReplicaRecord {
    private static let marker = "Lifeboat backup "
    private static let stagingMarker = "Lifeboat staging of backup "

    /// The schemas a backup schema target made in a database, as their names and comments mark them: backups
    /// (the ones it lists), and staging schemas a killed run may have left. A backup of the database leaves them
    /// out; a backup schema renamed by hand is the user's again.
    static let ownSchemasQuery = """
        SELECT nspname FROM pg_namespace
        WHERE (nspname LIKE 'lifeboat\\_new\\_%'
               AND obj_description(oid, 'pg_namespace') = '\(stagingMarker)' || substr(nspname, 14))
           OR (nspname LIKE 'backup\\_%'
               AND split_part(obj_description(oid, 'pg_namespace'), E'\\n', 1) = '\(marker)' || substr(nspname, 8))
        """

    /// The comment of the schema a backup loads into before it is complete.
    static func stagingComment(id: String) -> String { stagingMarker + id }

    /// The comment for the backup `manifest` describes.
    static func comment(id: String, manifest: [UInt8]) -> String {
        marker + id + "\n" + String(decoding: manifest, as: UTF8.self)
    }

    /// The backup id a comment records; `nil` for any other comment.
    static func id(in comment: String?) -> String? {
        guard let comment, comment.hasPrefix(marker) else { return nil }
        let id = comment.dropFirst(marker.count).prefix { $0 != "\n" }
        return id.isEmpty ? nil : String(id)
    }

    /// The manifest a comment records; `nil` for any other comment.
    static func manifest(in comment: String?) -> [UInt8]? {
        guard id(in: comment) != nil, let comment, let newline = comment.firstIndex(of: "\n") else { return nil }
        return Array(comment[comment.index(after: newline)...].utf8)
    }
}
