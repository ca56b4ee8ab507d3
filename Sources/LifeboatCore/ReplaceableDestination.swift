import Logging

/// A database that can also be replaced whole, or have some tables restored, while it is in use.
///
/// `lifeboat restore --clean` restores into a staging database made by ``makeStaging()`` and swaps it in with
/// ``swap(in:terminatingSessions:)`` only once it is complete and its row counts match, so a failure half-way leaves
/// the old database as it was.
public protocol ReplaceableDestination: RestoreDestination {
    /// The database's name, e.g. `app`.
    var databaseName: String { get }

    /// One line per other session connected to the database, e.g. `pid 4711: app@10.0.0.5 (puma)`.
    func otherSessions() async throws -> [String]

    /// Creates an empty database beside this one, with the same owner, encoding and locale.
    func makeStaging() async throws -> any ReplaceableDestination

    /// Drops this staging database. Best effort, never throws.
    func discard() async

    /// Puts `staging` in this database's place in one transaction and drops the old one. Database-level settings
    /// (privileges, `ALTER DATABASE ... SET` parameters, comment, connection limit) carry over.
    /// - Parameter terminatingSessions: End other sessions; without it, fail with `targetInUse` when there are any.
    /// - Returns: The number of sessions terminated.
    func swap(in staging: any ReplaceableDestination, terminatingSessions: Bool) async throws -> Int

    /// Replaces the rows of some tables in one transaction (truncate, then load), then sets their sequences.
    /// - Parameter tables: Table data artifacts of `manifest`.
    func restoreTables(_ tables: [Artifact], of manifest: Manifest, from store: ArtifactStore, logger: Logger)
        async throws
}
