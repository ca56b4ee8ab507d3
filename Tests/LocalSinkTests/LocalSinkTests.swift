import Foundation
import LifeboatCore
import LifeboatLocalSink
import Testing

@Suite struct LocalSinkTests {
    let root: String
    let sink: LocalSink

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("localsink-\(UUID().uuidString)").path
        sink = try LocalSink(target: TargetConfig(name: "primary", url: "file://" + root + "/nested/backups"))
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test func backupBecomesVisibleOnlyWhenTheManifestIsCommitted() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let writer = try #require(try await sink.beginBackup(id: "20250103143022"))
        let artifact = try await writer.makeArtifactWriter(name: "data/000001-public.t.copy")
        try await artifact.write(Array("1\tone\n".utf8))
        try await artifact.write(Array("2\ttwo\n".utf8))
        let folder = sink.root + "/20250103143022"
        #expect(FileManager.default.fileExists(atPath: folder + "/data/000001-public.t.copy.partial"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/data/000001-public.t.copy"))
        try await artifact.commit()
        #expect(try await sink.listBackups().isEmpty)

        try await writer.commit(manifest: Array("{}".utf8))
        #expect(try await sink.listBackups() == ["20250103143022"])
        #expect(try await sink.readManifest(backupID: "20250103143022") == Array("{}".utf8))

        let reader = try await sink.openArtifact(backupID: "20250103143022", name: "data/000001-public.t.copy")
        var bytes: [UInt8] = []
        while let chunk = try await reader.read() { bytes += chunk }
        await reader.close()
        #expect(String(decoding: bytes, as: UTF8.self) == "1\tone\n2\ttwo\n")

        #expect(try mode(sink.root) == 0o700)
        #expect(try mode(folder) == 0o700)
        #expect(try mode(folder + "/data") == 0o700)
        #expect(try mode(folder + "/manifest.json") == 0o600)
        #expect(try mode(folder + "/data/000001-public.t.copy") == 0o600)
    }

    @Test func takenIDIsRefusedAndAbortRemovesEverything() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let writer = try #require(try await sink.beginBackup(id: "20250103143022"))
        #expect(try await sink.beginBackup(id: "20250103143022") == nil)
        let artifact = try await writer.makeArtifactWriter(name: "schema.pgdump")
        try await artifact.write([1, 2, 3])
        await artifact.abort()
        #expect(!FileManager.default.fileExists(atPath: sink.root + "/20250103143022/schema.pgdump.partial"))
        await writer.abort()
        #expect(!FileManager.default.fileExists(atPath: sink.root + "/20250103143022"))
        #expect(try await sink.listBackups().isEmpty)
    }

    @Test func largeArtifactStreamsInChunks() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let writer = try #require(try await sink.beginBackup(id: "20250103143022"))
        let artifact = try await writer.makeArtifactWriter(name: "schema.pgdump")
        let block = [UInt8](repeating: 7, count: 3 << 20)
        for _ in 0..<4 { try await artifact.write(block) }
        try await artifact.commit()
        try await writer.commit(manifest: [])
        let reader = try await sink.openArtifact(backupID: "20250103143022", name: "schema.pgdump")
        var sizes: [Int] = []
        while let chunk = try await reader.read() { sizes.append(chunk.count) }
        #expect(sizes.reduce(0, +) == 12 << 20)
        #expect(sizes.max() == 1 << 20)
    }

    @Test func unsafeOrMissingArtifactsAreErrors() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        await #expect(throws: LifeboatError.self) {
            try await sink.openArtifact(backupID: "20250103143022", name: "../../../etc/passwd")
        }
        await #expect {
            try await sink.openArtifact(backupID: "20250103143022", name: "schema.pgdump")
        } throws: { ($0 as? LifeboatError)?.code == .artifactMissing }
        await #expect {
            try await sink.readManifest(backupID: "20250103143022")
        } throws: { ($0 as? LifeboatError)?.code == .backupNotFound }
    }

    @Test func unwritableTargetIsAClearError() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/file", contents: Data("x".utf8))
        let blocked = try LocalSink(target: TargetConfig(name: "blocked", url: root + "/file/backups"))
        await #expect {
            try await blocked.beginBackup(id: "20250103143022")
        } throws: { error in
            let error = error as? LifeboatError
            return error?.code == .targetUnwritable && error?.message.contains("target 'blocked'") == true
        }
    }

    @Test func relativePathsResolveAgainstTheWorkingDirectory() throws {
        let relative = try LocalSink(target: TargetConfig(name: "primary", url: "./backups"))
        #expect(relative.root == FileManager.default.currentDirectoryPath + "/backups")
        #expect(throws: LifeboatError.self) { try LocalSink(target: TargetConfig(name: "x", url: "file://remote/x")) }
    }
}
