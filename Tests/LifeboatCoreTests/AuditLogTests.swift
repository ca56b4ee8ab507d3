import Foundation
import Testing

@testable import LifeboatCore

/// The audit log file: private, appended, readable, trimmed to its retention.
@Suite struct AuditLogTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString)")

    func entry(_ operation: String, at time: Date, status: String = "success", error: String? = nil) -> AuditEntry {
        AuditEntry(
            time: time, operator: "alice", host: "db1", operation: operation, backupID: "20250101000000",
            label: "before-migration", environment: "production", targets: ["primary", "offsite"], status: status,
            durationSeconds: 1.5, checksums: nil, error: error)
    }

    @Test func entriesAreAppendedPrivatelyAndReadBack() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = AuditLog(path: folder.appendingPathComponent("logs/audit.jsonl").path)
        #expect(try log.entries().isEmpty)
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        try log.append(entry("backup", at: now))
        try log.append(entry("restore", at: now, status: "failed", error: "no complete backup matches latest"))
        let entries = try log.entries()
        #expect(entries.map(\.operation) == ["backup", "restore"])
        #expect(entries[1].error == "no complete backup matches latest" && entries[1].operator == "alice")
        let mode = try FileManager.default.attributesOfItem(atPath: log.path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let line = String(decoding: try entries[0].line(), as: UTF8.self)
        #expect(line.hasPrefix(#"{"backup_id":"20250101000000","duration_seconds":1.5,"environment":"production""#))
        #expect(line.hasSuffix("}\n") && !line.dropLast().contains("\n"))
    }

    @Test func trimDropsOnlyEntriesOlderThanTheRetention() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = AuditLog(path: folder.appendingPathComponent("audit.jsonl").path, retention: 30 * 86_400)
        let now = Date()
        try log.append(entry("backup", at: now.addingTimeInterval(-40 * 86_400)))
        try log.append(entry("prune", at: now.addingTimeInterval(-10 * 86_400)))
        try AuditLog.append(Array("not json, kept as it is\n".utf8), to: log.path)
        try log.append(entry("verify", at: now))
        #expect(try log.trim(now: now) == 1)
        #expect(try log.entries().map(\.operation) == ["prune", "verify"])
        #expect(try String(contentsOfFile: log.path, encoding: .utf8).contains("not json, kept as it is"))
        #expect(try log.trim(now: now) == 0)
    }

    @Test func aChecksumDigestIsTheSameForEveryCopyOfABackup() {
        let plan = ArtifactPlan(name: "schema.pgdump", kind: .schema)
        let info = SourceInfo(kind: "test", serverVersion: "15", database: "d", sizeBytes: 0, snapshot: "", encoding: "UTF8")
        let one = Manifest(
            id: "20250101000000", label: nil, startedAt: Date(), finishedAt: Date(), source: info,
            artifacts: [Artifact(plan: plan, rows: nil, rawBytes: 3, rawSha256: "ab")], targets: [])
        var other = one
        other.targets = [
            TargetRecord(name: "x", location: "/x", required: true, status: .complete, codec: "zstd", level: 3, artifacts: [])
        ]
        #expect(AuditEntry.Checksums(one) == AuditEntry.Checksums(other))
        other.artifacts[0].rawSha256 = "cd"
        #expect(AuditEntry.Checksums(one).digest != AuditEntry.Checksums(other).digest)
    }
}
