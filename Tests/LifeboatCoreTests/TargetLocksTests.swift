import Foundation
import Testing

@testable import LifeboatCore

/// Backups, prunes and readers of one target exclude each other as they must; a crashed holder is reported.
@Suite struct TargetLocksTests {
    /// A target that is only a name and a place: locks touch nothing else.
    struct Place: Sink {
        let name: String
        var location: String { "/srv/backups/" + name }
        func beginBackup(id: String) async throws -> (any BackupWriter)? { nil }
        func listBackups() async throws -> [String] { [] }
        func readManifest(backupID: String) async throws -> [UInt8] { [] }
        func openArtifact(backupID: String, name: String) async throws -> any ArtifactReader {
            throw LifeboatError(.artifactMissing, "none")
        }
        func deleteBackup(id: String) async throws {}
    }

    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("locks-\(UUID().uuidString)").path
    let primary = Place(name: "primary"), offsite = Place(name: "offsite")

    func take(_ mode: TargetLocks.Mode, _ sinks: [Place]? = nil, as operation: String = "backup") throws -> TargetLocks {
        try TargetLocks(sinks: sinks ?? [primary], mode: mode, operation: operation, directory: folder)
    }

    func refusal(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as LifeboatError where error.code == .targetInUse {
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func twoBackupsOfOneTargetDoNotRunAtOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try take(.write)
        let message = refusal { _ = try take(.write) }
        #expect(message?.contains("target 'primary' is in use by a backup by pid \(getpid()) on ") == true, "\(message ?? "")")
        #expect(message?.hasSuffix("; wait for it to finish and try again") == true)
        _ = try take(.write, [offsite])  // another target is free
        first.release()
        _ = try take(.write)
    }

    @Test func readersShareButExcludeAPrune() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let reader = try take(.read, as: "restore")
        let another = try take(.read, as: "verify")
        let backup = try take(.write)  // a backup may run beside a restore
        #expect(refusal { _ = try take(.prune, as: "prune") }?.contains("in use by a backup by pid") == true)
        backup.release()
        #expect(refusal { _ = try take(.prune, as: "prune") }?.contains("in use by a restore, verify or copy") == true)
        reader.release()
        #expect(refusal { _ = try take(.prune, as: "prune") } != nil, "the second reader still holds the target")
        another.release()
        let prune = try take(.prune, as: "prune")
        #expect(refusal { _ = try take(.read) }?.contains("target 'primary' is in use by a prune") == true)
        #expect(refusal { _ = try take(.write) }?.contains("in use by a prune by pid") == true)
        prune.release()
    }

    @Test func aRefusedRunLeavesNoRecordThatLooksLikeACrash() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let busy = try take(.write, [offsite])
        #expect(refusal { _ = try take(.write, [primary, offsite]) } != nil)
        busy.release()
        #expect(try take(.write, [primary, offsite]).staleHolders.isEmpty)
    }

    @Test func aRunThatDiedHoldingALockIsReported() throws {
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let locks = try take(.write)
        #expect(locks.staleHolders.isEmpty)
        locks.release()
        #expect(try take(.write).staleHolders.isEmpty, "a released lock leaves no record")

        // What a killed run leaves: its record, and no flock (the kernel dropped it).
        let file = folder + "/" + TargetLocks.key(primary.location) + ".write"
        try "backup by pid 4242 on db1, started 2026-01-02T03:04:05Z\n".write(toFile: file, atomically: false, encoding: .utf8)
        let next = try take(.write)
        #expect(next.staleHolders == ["target 'primary': backup by pid 4242 on db1, started 2026-01-02T03:04:05Z"])
    }
}
