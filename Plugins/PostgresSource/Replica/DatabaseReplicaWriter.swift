import Foundation
import LifeboatCore

/// Loads one backup, as it is taken, into a staging database beside the replica, and swaps it in at the commit
/// once its row counts match the manifest. Until then the previous copy stays in place, untouched.
///
/// The schema archive's pre-data (tables, types, functions) is restored first; table loads wait for it, then
/// stream with `COPY`. The commit counts rows, restores the rest of the archive (sequences, large objects, then
/// indexes, constraints and triggers), and swaps the staging database in with the backup's record as comment.
actor DatabaseReplicaWriter: BackupWriter {
    private let sink: ReplicaSink
    private let replica: PostgresDestination
    private let schemaLoaded = LoadGate()
    private var staging: PostgresDestination?
    /// Held from before the staging database exists until it is swapped in or dropped.
    private var claim: StagingClaim?
    private var restorer: SchemaRestorer?
    private var aborted = false
    private var swapped = false
    /// Warnings for the log: the staging databases of killed runs dropped before this backup began, the sessions
    /// the swap ended.
    private var reported: [String]

    init(sink: ReplicaSink, replica: PostgresDestination, reported: [String]) {
        self.sink = sink
        self.replica = replica
        self.reported = reported
    }

    func makeArtifactWriter(name: String) async throws -> any ArtifactWriter {
        throw sink.cannotCopy()
    }

    /// Table writers wait for the schema; whatever fails before it is loaded (this call, the schema artifact's
    /// writer, its abort) fails them too, so that none waits for ever.
    func makeArtifactWriter(name: String, for artifact: ArtifactPlan, of source: SourceInfo) async throws
        -> any ArtifactWriter
    {
        let gate = schemaLoaded
        do {
            switch artifact.kind {
            case .schema:
                return try await SchemaArchiveWriter.make(
                    load: { archive in try await self.loadSchema(archive, of: source) },
                    abandoned: { await gate.fail(LifeboatError(.targetUnwritable, "the schema was not received")) })
            case .tableData:
                guard let table = artifact.table else { throw sink.unknownArtifact(name) }
                return TableCopyWriter(table: table, into: SQL.table(table), columns: artifact.columns) {
                    try await gate.wait()
                    return try await self.session(encoding: source.encoding, truncating: table)
                }
            default:
                throw sink.unknownArtifact(name)
            }
        } catch {
            await gate.fail(error as? LifeboatError ?? LifeboatError(.targetUnwritable, "\(error)", cause: error))
            throw error
        }
    }

    /// A replica of the source database itself would replace the source: compared by identity (see
    /// ``DatabaseIdentity``), which no other spelling of the address gets past.
    private func checkNotTheSource(_ source: SourceInfo) async throws {
        var same = source.server == replica.serverAddress && source.database == replica.databaseName
        if let identity = source.identity {
            let query = "SELECT \(DatabaseIdentity.expression) FROM pg_database "
                + "WHERE datname = \(SQL.literal(replica.databaseName))"
            let rows = try await PGConnection.using(replica.maintenance, purpose: "check") { try await $0.query(query) }
            same = rows.first?.first == identity
        }
        guard same else { return }
        throw LifeboatError(
            .configInvalid,
            "target '\(sink.name)' names the source database \(replica.location) itself; a replica must be another "
                + "database (e.g. \(replica.databaseName)_replica)")
    }

    /// Creates the staging database and restores the archive's pre-data into it, then lets table loads start.
    private func loadSchema(_ archive: URL, of source: SourceInfo) async throws {
        do {
            try await checkNotTheSource(source)
            let server = Int(source.serverVersion.prefix { $0.isNumber }) ?? 0
            let pgRestore = try await sink.tools.locate(
                "pg_restore", minimumMajor: max(server, source.dumpToolMajorVersion ?? 0),
                requiredBy: "the source's server and pg_dump")
            let name = replica.newStagingName()
            if sink.claimsStaging {
                claim = try await StagingClaim.take(name, on: replica.maintenance)
                guard !aborted else { throw LifeboatError(.interrupted, "the backup was aborted") }
            }
            let staging = try await replica.makeStaging(
                named: name, ifMissing: source.encoding,
                comment: ReplicaRecord.stagingComment(of: "replica " + replica.databaseName))
            guard !aborted else {  // abort() ran while the database was being created
                await staging.discard()
                throw LifeboatError(.interrupted, "the backup was aborted")
            }
            self.staging = staging
            restorer = SchemaRestorer(
                pgRestore: pgRestore.path, connection: staging.connection, noOwner: sink.noOwner, archive: archive)
            try await described("creating the schema") { try await restorer?.run(section: "pre-data") }
            await schemaLoaded.open()
        } catch {  // the archive's writer, aborted next, removes the archive
            if staging == nil {
                await claim?.release()
                claim = nil
            }
            let failure = error as? LifeboatError ?? LifeboatError(.targetUnwritable, "\(error)", cause: error)
            await schemaLoaded.fail(failure)
            throw failure
        }
    }

    /// A session on the staging database, set up for loading table data, in a transaction that has truncated
    /// `table` (see ``TableCopyWriter``).
    private func session(encoding: String, truncating table: TableName) async throws -> PGConnection {
        guard let staging else { throw LifeboatError(.interrupted, "the backup was aborted") }
        let session = try await PGConnection.connect(staging.connection, purpose: "replica load")
        do {
            try await session.run(
                SessionSettings.data(encoding: encoding) + ["BEGIN", "TRUNCATE ONLY \(SQL.table(table))"])
        } catch {
            await session.close()
            throw error
        }
        return session
    }

    func commit(manifest bytes: [UInt8]) async throws {
        let manifest = try Manifest.decode(bytes, from: "the manifest")
        guard let staging, let restorer else {
            throw LifeboatError(.targetUnwritable, "target '\(sink.name)' received no schema for backup \(manifest.id)")
        }
        // Before post-data, which enables row security: its policies could hide rows from the loading role.
        try await described("counting rows") { try await sink.checkRowCounts(of: manifest, in: staging) }
        try await described("restoring sequences and large objects") { try await restorer.run(section: "data") }
        try await described("creating indexes, constraints and triggers") {
            try await restorer.run(section: "post-data", jobs: sink.jobs)
        }
        restorer.remove()
        self.restorer = nil
        try await described("checking the claim on the staging database") { try await claim?.confirm() }
        let outcome = try await described("swapping the new copy in") {
            try await replica.replace(
                with: staging, comment: ReplicaRecord.comment(id: manifest.id, manifest: bytes),
                terminatingSessions: sink.terminateSessions)
        }
        self.staging = nil
        swapped = true
        await claim?.release()
        claim = nil
        if outcome.terminatedSessions > 0 {
            let sessions = outcome.terminatedSessions == 1 ? "1 session" : "\(outcome.terminatedSessions) sessions"
            reported.append("ended \(sessions) connected to \(replica.location) to put the new copy in place")
        }
        reported += outcome.warning.map { [$0] } ?? []
    }

    func warnings() async -> [String] { reported }

    /// Drops the staging database. After a swap (another target failed later), the replica keeps the new copy
    /// but no longer claims to hold a backup that no other target kept.
    func abort() async {
        aborted = true
        await schemaLoaded.fail(LifeboatError(.interrupted, "the backup was aborted"))
        restorer?.remove()
        restorer = nil
        if let staging {
            self.staging = nil
            await staging.discard()
        }
        await claim?.release()
        claim = nil
        if swapped {
            let maintenance = replica.maintenance
            let forget = "COMMENT ON DATABASE \(SQL.identifier(replica.databaseName)) IS NULL"
            await Task {
                _ = try? await PGConnection.using(maintenance, purpose: "abort") { try await $0.run([forget]) }
            }.value
        }
    }

    /// Runs one step of the load, naming it and the target in any error.
    private func described<T>(_ step: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as LifeboatError where error.code == .interrupted {
            throw error
        } catch let error as LifeboatError {
            throw LifeboatError(
                error.code == .restoreFailed ? .targetUnwritable : error.code,
                "loading replica \(replica.location) failed while \(step): \(error.message); the previous copy is kept",
                cause: error.cause)
        } catch {
            throw LifeboatError(
                .targetUnwritable, "loading replica \(replica.location) failed while \(step): \(error); "
                    + "the previous copy is kept", cause: error)
        }
    }
}
