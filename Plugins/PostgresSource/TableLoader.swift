import LifeboatCore

/// Loads table data artifacts with `COPY ... FROM STDIN`, several tables at once.
struct TableLoader: Sendable {
    let connection: ConnectionInfo
    let jobs: Int
    let store: ArtifactStore

    /// Loads every artifact into its empty table, each in one `COPY` that is rolled back if its checksum fails.
    ///
    /// Each table is truncated in its load's transaction, so that its rows are written frozen (`COPY FREEZE`): no
    /// vacuum of the restored database has to visit them. The tables are new, so frozen rows hide nothing from
    /// anyone.
    func load(_ artifacts: [Artifact], encoding: String) async throws {
        let queue = WorkQueue(artifacts)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<min(jobs, artifacts.count) {
                group.addTask {
                    let session = try await PGConnection.connect(connection, purpose: "load\(index)")
                    do {
                        try await session.run(SessionSettings.data(encoding: encoding))
                        while let artifact = await queue.next() {
                            _ = try await Self.copy(artifact, from: store, on: session, freezing: true)
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
    /// - Parameter freezing: Truncate the table and write the rows frozen, in a transaction of their own; for a
    ///   new table only (otherwise the caller's transaction holds the `COPY`).
    /// - Returns: The number of rows loaded.
    static func copy(_ artifact: Artifact, from store: ArtifactStore, on session: PGConnection, freezing: Bool = false)
        async throws -> Int
    {
        guard let table = artifact.table else { return 0 }
        let options = freezing ? " WITH (FREEZE)" : ""
        do {
            if freezing { try await session.run(["BEGIN", "TRUNCATE ONLY \(SQL.table(table))"]) }
            try await session.beginCopyIn(
                "COPY \(SQL.table(table))\(SQL.columnList(artifact.columns)) FROM STDIN\(options)")
            let rows: Int
            do {
                try await store.read(artifact) { chunk in try await session.putCopyData(chunk) }
                rows = try await session.endCopyIn()
            } catch {
                await session.failCopyIn(reason: "lifeboat aborted the load of \(table)")
                throw error
            }
            if freezing { try await session.run(["COMMIT"]) }
            return rows
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
