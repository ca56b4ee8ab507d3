import Foundation

/// Proves a target can be written, read back and cleaned: the write half of `lifeboat check`.
public enum TargetProbe {
    /// Writes a small artifact under an uncommitted backup, reads it back, and aborts the backup. The backup's id
    /// is in 1970: never a real backup's, and since it is never committed, never listed.
    /// A ``DatabaseTarget`` runs its own ``DatabaseTarget/preflight()`` instead.
    /// - Returns: A line for people, e.g. `target 'primary' (/var/backups): wrote, read back and removed a probe`.
    /// - Throws: ``LifeboatError`` saying which step failed.
    public static func run(_ sink: any Sink) async throws -> String {
        if let database = sink as? any DatabaseTarget {
            let passed = try await database.preflight()
            return "target '\(sink.name)' (\(sink.location)): " + passed.joined(separator: "; ")
        }
        var found: (id: String, writer: any BackupWriter)?
        // A probe a killed check left holds its id: take the next.
        for second in 0..<10 where found == nil {
            let id = "1970010100000\(second)"
            if let writer = try await sink.beginBackup(id: id) { found = (id, writer) }
        }
        guard let (probeID, writer) = found else {
            throw LifeboatError(
                .targetUnwritable,
                "target '\(sink.name)': ten probes of killed checks are in the way; remove the 1970... folders or keys "
                    + "from \(sink.location)")
        }
        do {
            let bytes = Array("lifeboat check \(Date())\n".utf8)
            let artifact = try await writer.makeArtifactWriter(name: "probe.txt")
            try await artifact.write(bytes)
            try await artifact.commit()
            let reader = try await sink.openArtifact(backupID: probeID, name: "probe.txt")
            var back: [UInt8] = []
            do {
                while let chunk = try await reader.read() { back += chunk }
            } catch {
                await reader.close()
                throw error
            }
            await reader.close()
            guard back == bytes else {
                throw LifeboatError(
                    .checksumMismatch, "target '\(sink.name)': a probe read back \(back.count) bytes that differ from the \(bytes.count) written")
            }
        } catch {
            await writer.abort()
            throw error
        }
        await writer.abort()
        return "target '\(sink.name)' (\(sink.location)): wrote, read back and removed a probe"
    }
}
