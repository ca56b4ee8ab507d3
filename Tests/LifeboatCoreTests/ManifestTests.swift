import Foundation
import LifeboatCore
import Testing

@Suite struct ManifestTests {
    static func sample() -> Manifest {
        let plan = ArtifactPlan(name: "data/000001-public.t.copy", kind: .tableData, table: TableName(schema: "public", name: "t"))
        return Manifest(
            id: "20250103143022", label: "before-migration", startedAt: Date(timeIntervalSince1970: 1_735_914_622),
            finishedAt: Date(timeIntervalSince1970: 1_735_914_624.5),
            source: SourceInfo(
                kind: "postgresql", serverVersion: "15.18", database: "app", sizeBytes: 42, snapshot: "00000003-1",
                encoding: "UTF8"),
            artifacts: [Artifact(plan: plan, rows: 3, rawBytes: 10, rawSha256: String(repeating: "b", count: 64))],
            targets: [
                record("primary", status: .complete, artifacts: [stored(plan, "a")]),
                record("offsite", status: .failed, artifacts: []),
            ])
    }

    static func stored(_ plan: ArtifactPlan, _ digit: Character) -> StoredArtifact {
        StoredArtifact(name: plan.name + ".zst", storedBytes: 8, sha256: String(repeating: digit, count: 64))
    }

    static func record(_ name: String, status: TargetRecord.Status, artifacts: [StoredArtifact]) -> TargetRecord {
        TargetRecord(
            name: name, location: "/backups/" + name, required: true, status: status,
            error: status == .failed ? "disk full" : nil, codec: "zstd", level: 3, artifacts: artifacts)
    }

    @Test func roundTripsThroughJSON() throws {
        let manifest = Self.sample()
        let bytes = try manifest.encoded()
        #expect(try Manifest.decode(bytes, from: "test") == manifest)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"format_version\" : 2"))
        #expect(text.contains("\"duration_seconds\" : 2.5"))
        #expect(text.contains("\"started_at\" : \"2025-01-03T14:30:22.000Z\""))
    }

    @Test func newerFormatIsRefusedWithAClearMessage() throws {
        var text = String(decoding: try Self.sample().encoded(), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"format_version\" : 2", with: "\"format_version\" : 99")
        #expect {
            try Manifest.decode(Array(text.utf8), from: "backup X")
        } throws: { ($0 as? LifeboatError)?.message.contains("upgrade Lifeboat") == true }
    }

    @Test func aTargetFindsItsOwnRecordOrTheCommonOne() {
        var manifest = Self.sample()
        #expect(manifest.record(forTarget: "primary")?.name == "primary")
        #expect(manifest.record(forTarget: "offsite")?.name == "primary", "a failed record is never used")
        #expect(manifest.record(forTarget: "copied-by-hand")?.name == "primary")
        let plan = ArtifactPlan(name: "data/000001-public.t.copy", kind: .tableData)
        manifest.targets.append(Self.record("other", status: .complete, artifacts: [Self.stored(plan, "c")]))
        #expect(manifest.record(forTarget: "other")?.artifacts.first?.sha256.first == "c")
        #expect(manifest.record(forTarget: "copied-by-hand") == nil, "two complete copies differ: no guessing")
    }

    @Test func aCompleteTargetMissingArtifactsIsDamage() throws {
        var manifest = Self.sample()
        manifest.targets[0].artifacts = []
        #expect {
            try Manifest.decode(try manifest.encoded(), from: "backup X")
        } throws: { ($0 as? LifeboatError)?.code == .checksumMismatch }
    }

    @Test func preReleaseFormatIsRefusedWithAWayOut() throws {
        let text = String(decoding: try Self.sample().encoded(), as: UTF8.self)
            .replacingOccurrences(of: "\"format_version\" : 2", with: "\"format_version\" : 1")
        #expect {
            try Manifest.decode(Array(text.utf8), from: "backup X")
        } throws: { ($0 as? LifeboatError)?.message.contains("restore-by-hand") == true }
    }

    @Test func garbageIsRefused() {
        #expect {
            try Manifest.decode(Array("{ nope".utf8), from: "backup X")
        } throws: { ($0 as? LifeboatError)?.code == .checksumMismatch }
    }
}
