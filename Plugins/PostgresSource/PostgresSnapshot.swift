import LifeboatCore

/// One exported snapshot: a coordinator transaction that holds it open, and worker connections that share it.
final class PostgresSnapshot: SourceSnapshot, @unchecked Sendable {
    let info: SourceInfo
    let plan: [ArtifactPlan]
    var parallelism: Int { pool.size + 1 }

    private let tables: [CopiedTable]
    /// Schemas left out of the backup altogether.
    private let excludedSchemas: [String]
    private let coordinator: PGConnection
    private let pool: ConnectionPool
    private let connection: ConnectionInfo
    private let pgDump: String

    init(
        info: SourceInfo, tables: [CopiedTable], excludedSchemas: [String], coordinator: PGConnection,
        pool: ConnectionPool, connection: ConnectionInfo, pgDump: String
    ) {
        self.info = info
        self.tables = tables
        self.excludedSchemas = excludedSchemas
        self.coordinator = coordinator
        self.pool = pool
        self.connection = connection
        self.pgDump = pgDump
        plan = [ArtifactPlan(name: ArtifactName.schema, kind: .schema)]
            + tables.enumerated().map { position, table in
                ArtifactPlan(
                    name: ArtifactName.tableData(position: position + 1, table: table.name), kind: .tableData,
                    table: table.name, columns: table.columns, columnTypes: table.columnTypes)
            }
    }

    func dump(_ artifact: ArtifactPlan, to output: @escaping @Sendable ([UInt8]) async throws -> Void)
        async throws -> Int?
    {
        guard let table = artifact.table else {
            try await dumpSchema(to: output)
            return nil
        }
        let worker = try await pool.acquire()
        do {
            // As parallel pg_dump does: if DDL queued an exclusive lock behind the coordinator's, waiting would
            // deadlock with it unseen; fail instead.
            try await worker.query("LOCK TABLE \(SQL.table(table)) IN ACCESS SHARE MODE NOWAIT")
            let sql = "COPY \(SQL.table(table))\(SQL.columnList(artifact.columns)) TO STDOUT"
            let rows = try await worker.copyOut(sql, to: output)
            await pool.release(worker)
            return rows
        } catch {
            await worker.close()  // a connection that failed mid-COPY is not reused
            if let error = error as? PostgresServerError {
                let hint = error.sqlState == "55P03"
                    ? "; another session asked for an exclusive lock on it (ALTER, DROP...) during the backup, retry "
                        + "when that is done" : ""
                throw LifeboatError(.backupFailed, "copying table \(table) failed: \(error)\(hint)", cause: error)
            }
            throw error
        }
    }

    /// Everything but the rows Lifeboat copies itself (and the excluded schemas): schema, sequence positions,
    /// large objects, extension configuration data, materialized view refreshes. A custom-format archive, uncompressed (codecs come later
    /// in the pipeline), read under the same snapshot.
    private func dumpSchema(to output: @Sendable ([UInt8]) async throws -> Void) async throws {
        let arguments = [
            "--format=custom", "--compress=0", "--no-password", "--snapshot=\(info.snapshot)",
            "--dbname=\(connection.conninfoWithoutPassword)",
        ] + tables.map { "--exclude-table-data=\(SQL.exactPattern($0.name))" }
            + excludedSchemas.map { "--exclude-schema=\(SQL.identifier($0))" }
        let process = try ChildProcess(
            executable: pgDump, arguments: arguments, environment: connection.toolEnvironment)
        do {
            try await withTaskCancellationHandler {
                while let chunk = try await process.readOutput() { try await output(chunk) }
            } onCancel: {
                process.terminate()
            }
        } catch {
            process.terminate()
            _ = await process.wait()
            throw error
        }
        let status = await process.wait()
        guard status.succeeded else {
            throw LifeboatError(
                .backupFailed, "pg_dump failed (exit \(status.code)): \(status.errorOutput)")
        }
    }

    func close() async {
        for connection in await pool.drain() { await connection.close() }
        _ = try? await coordinator.query("COMMIT")
        await coordinator.close()
    }
}

/// Hands out the snapshot's worker connections, one task at a time each. A task waiting for one gives up when it
/// is cancelled, so a failed backup never leaves a waiter behind.
actor ConnectionPool {
    private var idle: [PGConnection]
    private var waiting: [(id: Int, continuation: CheckedContinuation<PGConnection, any Error>)] = []
    private var nextWaiter = 0
    nonisolated let size: Int

    init(_ connections: [PGConnection]) {
        idle = connections
        size = connections.count
    }

    func acquire() async throws -> PGConnection {
        if let connection = idle.popLast() { return connection }
        let id = nextWaiter
        nextWaiter += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiting.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: Int) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: CancellationError())
    }

    func release(_ connection: PGConnection) {
        if waiting.isEmpty {
            idle.append(connection)
        } else {
            waiting.removeFirst().continuation.resume(returning: connection)
        }
    }

    /// Takes every idle connection out of the pool, for closing.
    func drain() -> [PGConnection] {
        defer { idle.removeAll() }
        return idle
    }
}
