import Crypto
import Foundation
import LifeboatCore

/// The checks of ``SinkConformance``, run against one sink.
struct Probe: Sendable {
    let sink: any Sink
    let check: SinkConformance.Check
    /// Every backup the check began, aborted when it ends so that it leaves nothing behind.
    let begun = BegunBackups()

    static let firstID = "20250103143022"
    static let secondID = "20250103143023"

    func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ConformanceFailure(check: check, message: message()) }
    }

    func begin(_ id: String = Probe.firstID) async throws -> any BackupWriter {
        guard let writer = try await sink.beginBackup(id: id) else {
            throw ConformanceFailure(check: check, message: "beginBackup(\(id)) on an empty sink returned nil")
        }
        await begun.add(writer)
        return writer
    }

    /// Writes `bytes` as artifact `name` in chunks of `chunk` bytes and commits it.
    func put(_ name: String, _ bytes: [UInt8], chunk: Int = 1 << 20, into writer: any BackupWriter) async throws {
        let artifact = try await writer.makeArtifactWriter(name: name)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try await artifact.write(Array(bytes[offset..<end]))
            offset = end
        }
        try await artifact.commit()
    }

    func read(_ name: String, of id: String = Probe.firstID) async throws -> [UInt8] {
        let reader = try await sink.openArtifact(backupID: id, name: name)
        var bytes: [UInt8] = []
        do {
            while let chunk = try await reader.read() { bytes += chunk }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        return bytes
    }

    /// Deterministic bytes that differ from position to position and between seeds.
    static func pattern(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 11) &+ Int(seed)) }
    }

    static let manifest = Array(#"{"conformance": true}"#.utf8)

    func roundTrips() async throws {
        let artifacts = [
            ("schema.pgdump", [UInt8]()), ("data/000001-public.one.copy", [42]),
            ("data/000002-public.big.copy", Self.pattern(9 << 20 + 12_345)),
        ]
        let writer = try await begin()
        for (name, bytes) in artifacts { try await put(name, bytes, chunk: 1 << 20 | 17, into: writer) }
        try await writer.commit(manifest: Self.manifest)
        for (name, bytes) in artifacts {
            let back = try await read(name)
            try require(back == bytes, "\(name) read back \(back.count) bytes that differ from the \(bytes.count) written")
        }
    }

    func commitIsLast() async throws {
        let writer = try await begin()
        try await put("data/000001-public.t.copy", Array("1\tone\n".utf8), into: writer)
        try require(try await sink.listBackups().isEmpty, "a backup was listed before its manifest was committed")
        try await expectError(.backupNotFound, "readManifest before commit") {
            _ = try await sink.readManifest(backupID: Self.firstID)
        }
        try await writer.commit(manifest: Self.manifest)
        try require(try await sink.listBackups() == [Self.firstID], "the committed backup is not listed")
        try require(
            try await sink.readManifest(backupID: Self.firstID) == Self.manifest,
            "readManifest does not return the committed bytes")
    }

    func idsAreReservedOnce() async throws {
        let writer = try await begin()
        try require(try await sink.beginBackup(id: Self.firstID) == nil, "an id being written was handed out again")
        try await writer.commit(manifest: Self.manifest)
        try require(try await sink.beginBackup(id: Self.firstID) == nil, "a committed backup's id was handed out again")
        let other = try await begin(Self.secondID)
        await other.abort()
    }

    func abortRemoves() async throws {
        let first = try await begin()
        try await put("data/000001-public.t.copy", Self.pattern(1000), into: first)
        await first.abort()
        try require(try await sink.listBackups().isEmpty, "an aborted backup is listed")
        let again = try await begin(Self.secondID)
        try await put("data/000001-public.t.copy", Self.pattern(1000), into: again)
        try await again.commit(manifest: Self.manifest)
        // A fan-out run aborts a target it had already committed when a required target fails.
        await again.abort()
        try require(try await sink.listBackups().isEmpty, "a backup aborted after its commit is still listed")
    }

    func abortedArtifactIsInvisible() async throws {
        let writer = try await begin()
        let artifact = try await writer.makeArtifactWriter(name: "data/000001-public.gone.copy")
        try await artifact.write(Self.pattern(5000))
        await artifact.abort()
        try await put("data/000002-public.kept.copy", [1, 2, 3], into: writer)
        try await writer.commit(manifest: Self.manifest)
        try await expectError(.artifactMissing, "opening an aborted artifact") {
            _ = try await read("data/000001-public.gone.copy")
        }
        try require(try await read("data/000002-public.kept.copy") == [1, 2, 3], "the artifact beside it was damaged")
    }

    func missingThings() async throws {
        try await expectError(.backupNotFound, "readManifest of a backup that does not exist") {
            _ = try await sink.readManifest(backupID: Self.secondID)
        }
        let writer = try await begin()
        try await writer.commit(manifest: Self.manifest)
        try await expectError(.artifactMissing, "opening an artifact that was never written") {
            _ = try await read("data/000009-public.never.copy")
        }
    }

    func concurrentArtifacts() async throws {
        let writer = try await begin()
        let names = (1...6).map { "data/00000\($0)-public.t\($0).copy" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, name) in names.enumerated() {
                group.addTask {
                    try await put(name, Self.pattern(700_000 + index * 1000, seed: UInt8(index)), chunk: 65_536, into: writer)
                }
            }
            try await group.waitForAll()
        }
        try await writer.commit(manifest: Self.manifest)
        for (index, name) in names.enumerated() {
            try require(
                try await read(name) == Self.pattern(700_000 + index * 1000, seed: UInt8(index)),
                "\(name), written beside five others, read back different bytes")
        }
    }

    func oddNames() async throws {
        let tables = ["../x", "a/b", "naïve café", "\"quoted\"", "tab\there", String(repeating: "l", count: 63), "*"]
        let names = tables.enumerated().map { index, name in
            ArtifactName.tableData(position: index + 1, table: TableName(schema: "odd schema", name: name))
        }
        let writer = try await begin()
        for (index, name) in names.enumerated() { try await put(name, Array("row \(index)\n".utf8), into: writer) }
        try await writer.commit(manifest: Self.manifest)
        for (index, name) in names.enumerated() {
            try require(try await read(name) == Array("row \(index)\n".utf8), "\(name) did not round-trip")
        }
        try require(try await sink.listBackups() == [Self.firstID], "odd artifact names disturbed the listing")
    }

    func wrongBytesAreCaught() async throws {
        let bytes = Self.pattern(100_000)
        let writer = try await begin()
        try await put("data/000001-public.t.copy", bytes, into: writer)
        try await writer.commit(manifest: Self.manifest)
        let right = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        do {
            try await readStored(sha256: right, size: bytes.count)
        } catch let error as LifeboatError {
            throw ConformanceFailure(check: check, message: "the bytes written were not read back intact (\(error.message))")
        }
        do {
            try await readStored(sha256: String(repeating: "0", count: 64), size: bytes.count)
            throw ConformanceFailure(check: check, message: "bytes whose SHA-256 differs from the manifest were accepted")
        } catch let error as LifeboatError where error.code == .checksumMismatch {}
    }

    private func readStored(sha256: String, size: Int) async throws {
        let plan = ArtifactPlan(name: "data/000001-public.t.copy", kind: .tableData)
        let record = TargetRecord(
            name: sink.name, location: sink.location, required: true, status: .complete, codec: "none", level: nil,
            artifacts: [StoredArtifact(name: plan.name, storedBytes: size, sha256: sha256)])
        let manifest = Manifest(
            id: Self.firstID, label: nil, startedAt: Date(), finishedAt: Date(),
            source: SourceInfo(kind: "test", serverVersion: "0", database: "d", sizeBytes: 0, snapshot: "", encoding: "UTF8"),
            artifacts: [Artifact(plan: plan, rows: nil, rawBytes: size, rawSha256: sha256)], targets: [record])
        let store = ArtifactStore(manifest: manifest, copies: [BackupCopy(sink: sink, record: record)], registry: PluginRegistry())
        try await store.readStored(manifest.artifacts[0]) { _ in }
    }

    func listing() async throws {
        let ids = ["20250103143022", "20250104000000", "20251231235959"]
        for id in ids {
            let writer = try await begin(id)
            try await put("schema.pgdump", Array(id.utf8), into: writer)
            try await writer.commit(manifest: Self.manifest)
        }
        let open = try await begin("20260101000000")
        try await put("schema.pgdump", [1], into: open)
        try require(try await sink.listBackups().sorted() == ids, "listBackups must give exactly the committed backups")
        await open.abort()
    }

    func deletion() async throws {
        for id in [Self.firstID, Self.secondID] {
            let writer = try await begin(id)
            try await put("schema.pgdump", Array(id.utf8), into: writer)
            try await writer.commit(manifest: Self.manifest)
        }
        try await sink.deleteBackup(id: Self.firstID)
        try require(try await sink.listBackups() == [Self.secondID], "a deleted backup is still listed, or its neighbour is not")
        try await expectError(.backupNotFound, "readManifest of a deleted backup") {
            _ = try await sink.readManifest(backupID: Self.firstID)
        }
        try await expectError(.artifactMissing, "opening an artifact of a deleted backup") {
            _ = try await read("schema.pgdump", of: Self.firstID)
        }
        try await expectError(.backupNotFound, "deleting a backup twice") { try await sink.deleteBackup(id: Self.firstID) }
        try require(try await read("schema.pgdump", of: Self.secondID) == Array(Self.secondID.utf8), "the neighbour was damaged")

        // A backup still being written is not complete: delete leaves it to its run, which can still commit it.
        let open = try await begin("20260101000000")
        try await put("schema.pgdump", [9], into: open)
        try await expectError(.backupNotFound, "deleting a backup that is still being written") {
            try await sink.deleteBackup(id: "20260101000000")
        }
        try await open.commit(manifest: Self.manifest)
        try require(try await read("schema.pgdump", of: "20260101000000") == [9], "delete damaged a backup being written")
    }

    private func expectError(_ code: LifeboatError.Code, _ what: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as LifeboatError where error.code == code {
            return
        } catch {
            throw ConformanceFailure(check: check, message: "\(what) threw \(error), not a LifeboatError with code \(code)")
        }
        throw ConformanceFailure(check: check, message: "\(what) did not throw")
    }
}

/// The backups a check began.
actor BegunBackups {
    private var writers: [any BackupWriter] = []

    func add(_ writer: any BackupWriter) { writers.append(writer) }

    /// Aborts them all, committed or not: a conformance run leaves the sink as it found it.
    func abortAll() async {
        for writer in writers { await writer.abort() }
        writers = []
    }
}
