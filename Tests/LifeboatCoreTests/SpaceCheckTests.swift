import Foundation
import Testing

@testable import LifeboatCore

/// Free space before and after a backup: warnings below the threshold, and a refusal when a required target has
/// less room than its newest backup took.
@Suite struct SpaceCheckTests {
    /// A target on a disk with `space`, holding one backup of `lastSize` stored bytes (or none).
    struct Disk: Sink {
        let name: String
        let space: DiskSpace?
        let lastSize: Int?
        var location: String { "/disk/" + name }

        func diskSpace() async throws -> DiskSpace? { space }
        func listBackups() async throws -> [String] { lastSize == nil ? [] : ["20250101000000"] }
        func readManifest(backupID: String) async throws -> [UInt8] {
            let plan = ArtifactPlan(name: "schema.pgdump", kind: .schema)
            let info = SourceInfo(kind: "t", serverVersion: "15", database: "d", sizeBytes: 0, snapshot: "", encoding: "UTF8")
            let record = TargetRecord(
                name: name, location: location, required: true, status: .complete, codec: "none", level: nil,
                artifacts: [StoredArtifact(name: plan.name, storedBytes: lastSize ?? 0, sha256: String(repeating: "a", count: 64))])
            return try Manifest(
                id: backupID, label: nil, startedAt: Date(), finishedAt: Date(), source: info,
                artifacts: [Artifact(plan: plan, rows: nil, rawBytes: lastSize ?? 0, rawSha256: String(repeating: "a", count: 64))],
                targets: [record]
            ).encoded()
        }
        func beginBackup(id: String) async throws -> (any BackupWriter)? { nil }
        func openArtifact(backupID: String, name: String) async throws -> any ArtifactReader {
            throw LifeboatError(.artifactMissing, "none")
        }
        func deleteBackup(id: String) async throws {}
    }

    func check(_ disks: [(Disk, Bool)], threshold: Int = 20) -> SpaceCheck {
        SpaceCheck(targets: disks.map { SpaceCheck.Target(sink: $0.0, minFreePercent: threshold, required: $0.1) })
    }

    @Test func aRequiredTargetWithoutRoomForItsLastBackupRefusesTheBackup() async {
        let full = Disk(name: "primary", space: DiskSpace(available: 1 << 20, total: 100 << 30), lastSize: 3 << 30)
        let findings = await check([(full, true)]).before()
        #expect(findings.refusals == [
            "target 'primary' has 1.0 MiB free, less than its newest backup took (3.0 GiB); free some space or prune (lifeboat prune)"
        ])
        #expect(findings.warnings.isEmpty)
    }

    @Test func anOptionalTargetWithoutRoomOnlyWarns() async {
        let full = Disk(name: "usb", space: DiskSpace(available: 1 << 20, total: 100 << 30), lastSize: 3 << 30)
        let findings = await check([(full, false)]).before()
        #expect(findings.refusals.isEmpty && findings.warnings.count == 1)
    }

    @Test func lowSpaceWarnsBeforeAndAfter() async {
        let low = Disk(name: "primary", space: DiskSpace(available: 10 << 30, total: 100 << 30), lastSize: 1 << 30)
        let roomy = Disk(name: "spare", space: DiskSpace(available: 90 << 30, total: 100 << 30), lastSize: nil)
        let unknown = Disk(name: "s3", space: nil, lastSize: 5 << 30)
        let space = check([(low, true), (roomy, true), (unknown, true)])
        let findings = await space.before()
        #expect(findings.refusals.isEmpty)
        #expect(findings.warnings == [
            "target 'primary' has 10.0% free (10.0 GiB of 100.0 GiB), below min_free_percent 20%; free some space or prune"
        ])
        #expect(await space.after() == findings.warnings)
    }
}
