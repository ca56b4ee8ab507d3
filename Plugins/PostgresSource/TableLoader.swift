import LifeboatCore

/// Loads table data artifacts with `COPY ... FROM STDIN`, several tables at once.
struct TableLoader: Sendable {
    let connection: ConnectionInfo
    let jobs: Int
    let store: ArtifactStore

    /// Loads every artifact into its empty table, each in one `COPY` that is rolled back if its checksum fails.
    ///
    /// Each table is truncated in its load's transaction, so that its rows are written frozen (`COPY FREEZE`): no
    /// later pass has to set their hint bits, and the restored database does not face an anti-wraparound vacuum
    /// of every table some time later. The database is not in use yet, so frozen rows hide nothing from anyone.
    func load(_ artifacts: [Artifact], encoding: String) async throws {
        let queue = WorkQueue(artifacts)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<min(jobs, artifacts.count) {
                group.addTask {
                    let session = try await PGConnection.connect(connection, purpose: "load\(index)")
                    do {
                        try await session.run(SessionSettings.data(encoding: encoding))
                        while let artifact = await queue.next() {
                            guard let table = artifact.table else { continue }
                            try await session.run(["BEGIN", "TRUNCATE ONLY \(SQL.table(table))"])
                            _ = try await Self.copy(artifact, from: store, on: session, freezing: true)
                            try await session.run(["COMMIT"])
                        }
                    } catch {
                        await session.close()
                        throw error
                    }
                    await session.close()
                }
            }
            try await group.waitForAll()
        }
    }

    /// Loads one artifact with one `COPY`, rolled back if its checksum fails.
    /// - Parameter freezing: Write the rows frozen; the table must have been created or truncated in the session's
    ///   open transaction.
    /// - Returns: The number of rows loaded.
    static func copy(_ artifact: Artifact, from store: ArtifactStore, on session: PGConnection, freezing: Bool = false)
        async throws -> Int
    {
        guard let table = artifact.table else { return 0 }
        let options = freezing ? " WITH (FREEZE)" : ""
        do {
            try await session.beginCopyIn(
                "COPY \(SQL.table(table))\(SQL.columnList(artifact.columns)) FROM STDIN\(options)")
            do {
                try await store.read(artifact) { chunk in try await session.putCopyData(chunk) }
                return try await session.endCopyIn()
            } catch {
                await session.failCopyIn(reason: "lifeboat aborted the load of \(table)")
                throw error
            }
        } catch let error as PostgresServerError {
            throw LifeboatError(.restoreFailed, "loading table \(table) failed: \(error)", cause: error)
        }
    }
}

/// Hands out items to concurrent workers, each once.
actor WorkQueue<Item: Sendable> {
    private var items: [Item]
    private var position = 0

    init(_ items: [Item]) { self.items = items }

    func next() -> Item? {
        guard position < items.count else { return nil }
        defer { position += 1 }
        return items[position]
    }
}
