import Logging

/// A database that can also be replaced whole, or have some tables restored, while it is in use.
///
/// `lifeboat restore --clean` restores into a staging database made by ``makeStaging(logger:)`` and swaps it in with
/// ``swap(in:terminatingSessions:)`` only once it is complete and its row counts match, so a failure half-way leaves
/// the old database as it was.
public protocol ReplaceableDestination: RestoreDestination {
    /// The database's name, e.g. `app`.
    var databaseName: String { get }

    /// The server as the URL names it, e.g. `db.internal:5432`: with ``databaseName``, it tells this database's
    /// backups (``SourceInfo/server``) from other databases'.
    var serverAddress: String { get }

    /// One line per other session connected to the database, e.g. `pid 4711: app@10.0.0.5 (puma)`.
    func otherSessions() async throws -> [String]

    /// Ends the other sessions connected to the database.
    /// - Returns: How many there were.
    func terminateOtherSessions() async throws -> Int

    /// Creates an empty database beside this one, with the same owner, encoding, locale and tablespace, marked as
    /// this one's staging database for as long as the run lives. Staging databases of this one that killed runs
    /// left behind are dropped first, each with a warning to `logger`.
    func makeStaging(logger: Logger) async throws -> any ReplaceableDestination

    /// Creates an empty throwaway database beside this one for a drill, as ``makeStaging(logger:)`` does; it is
    /// never swapped in, and ``discard()`` drops it. Those of this one that killed drills left behind are dropped
    /// first, each with a warning to `logger`.
    func makeScratch(logger: Logger) async throws -> any ReplaceableDestination

    /// Drops this staging database, and ends the run's mark on it. Best effort, never throws; runs to its end even
    /// when the task is cancelled (a cancelled restore must still drop what it made).
    func discard() async

    /// Puts `staging` in this database's place in one transaction and drops the old one. Database-level settings
    /// (privileges, `ALTER DATABASE ... SET` parameters, comment, connection limit) carry over.
    ///
    /// Once started it runs to its end even when the task is cancelled: afterwards either the old database is in
    /// place and accepts connections, or the new one is.
    /// - Parameter terminatingSessions: End other sessions; without it, fail with `targetInUse` when there are any.
    /// - Throws: When the old database is still in place (with what went wrong).
    func swap(in staging: any ReplaceableDestination, terminatingSessions: Bool) async throws -> SwapOutcome

    /// Replaces the rows of some tables in one transaction (truncate, then load, each table's row count checked
    /// before the commit), then sets the sequences only they use.
    /// - Parameter tables: Table data artifacts of `manifest`.
    /// - Returns: The rows loaded into each table.
    func restoreTables(_ tables: [Artifact], of manifest: Manifest, from store: ArtifactStore, logger: Logger)
        async throws -> [TableName: Int]
}

/// What swapping a database in did.
public struct SwapOutcome: Sendable {
    /// Other sessions ended to swap.
    public var terminatedSessions: Int
    /// Something left behind that needs a hand, e.g. the replaced database when it could not be dropped.
    public var warning: String?

    /// Creates an outcome.
    public init(terminatedSessions: Int, warning: String?) {
        self.terminatedSessions = terminatedSessions
        self.warning = warning
    }
}
