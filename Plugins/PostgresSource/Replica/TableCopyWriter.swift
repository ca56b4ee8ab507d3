import LifeboatCore

/// Loads one table data artifact into a database with `COPY ... FROM STDIN` as its bytes arrive. The load starts at
/// the first chunk (or at the commit of an empty artifact), once `connect` has a session ready for it.
///
/// The rows are written frozen (`COPY FREEZE`) into a table created or truncated in the load's own transaction, so
/// that no vacuum of the copy has to visit them later. The copy is not in use until it is complete, so frozen rows
/// hide nothing from anyone.
actor TableCopyWriter: ArtifactWriter {
    /// Opens a session on the database in a transaction that has created or truncated the table, waiting until
    /// the table exists and creating it if need be.
    typealias Connect = @Sendable () async throws -> PGConnection

    private let table: TableName
    private let copy: String
    private let connect: Connect
    private var session: PGConnection?

    /// Creates a writer that copies into `destination` (the table as named in the database loaded), naming the
    /// source's `table` in messages.
    init(table: TableName, into destination: String, columns: [String]?, connect: @escaping Connect) {
        self.table = table
        self.copy = "COPY \(destination)\(SQL.columnList(columns)) FROM STDIN WITH (FREEZE)"
        self.connect = connect
    }

    func write(_ chunk: [UInt8]) async throws {
        let session = try await started()
        try await reporting { try await session.putCopyData(chunk) }
    }

    func commit() async throws {
        let session = try await started()
        _ = try await reporting { try await session.endCopyIn() }
        try await reporting { try await session.run(["COMMIT"]) }
        self.session = nil
        await session.close()
    }

    func abort() async {
        guard let session else { return }
        self.session = nil
        await session.failCopyIn(reason: "lifeboat aborted the load of \(table)")
        await session.close()
    }

    private func started() async throws -> PGConnection {
        if let session { return session }
        let session = try await connect()
        do {
            try await reporting { try await session.beginCopyIn(copy) }
        } catch {
            await session.close()
            throw error
        }
        self.session = session
        return session
    }

    private func reporting<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresServerError {
            throw LifeboatError(.targetUnwritable, "loading table \(table) failed: \(error)", cause: error)
        }
    }
}

/// Receives an artifact a target has no use for (a backup schema keeps no schema archive) and keeps nothing.
final class DiscardingWriter: ArtifactWriter {
    func write(_ chunk: [UInt8]) async throws {}
    func commit() async throws {}
    func abort() async {}
}
