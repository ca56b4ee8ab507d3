import LifeboatCore

/// Feeds the schema archive to `pg_restore`, one section at a time, each in a single transaction.
struct SchemaRestorer: Sendable {
    let pgRestore: String
    let connection: ConnectionInfo
    let noOwner: Bool
    let schema: Artifact
    let store: ArtifactStore

    /// Restores one section of the archive: `pre-data`, `data` or `post-data`.
    func run(section: String) async throws {
        var arguments = [
            "--section=\(section)", "--exit-on-error", "--single-transaction", "--no-password",
            "--dbname=\(connection.conninfoWithoutPassword)",
        ]
        if noOwner { arguments += ["--no-owner", "--no-privileges"] }
        let process = try ChildProcess(
            executable: pgRestore, arguments: arguments, environment: connection.toolEnvironment, input: .pipe,
            output: .discard)
        do {
            try await withTaskCancellationHandler {
                try await store.read(schema) { chunk in
                    do { try await process.writeInput(chunk) } catch { throw InputClosed() }
                }
            } onCancel: {
                process.terminate()
            }
        } catch is InputClosed {
            // pg_restore stops reading once it has what the section needs; its exit status decides.
        } catch {
            process.terminate()
            _ = await process.wait()
            throw error
        }
        await process.closeInput()
        let status = await withTaskCancellationHandler { await process.wait() } onCancel: { process.terminate() }
        try Task.checkCancellation()
        guard status.succeeded else {
            throw LifeboatError(.restoreFailed, "pg_restore --section=\(section) failed: \(status.errorOutput)")
        }
    }

    /// pg_restore closed its input.
    private struct InputClosed: Error {}
}
