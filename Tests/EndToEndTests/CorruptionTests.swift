import Foundation
import Testing

@Suite(.enabled(if: TestEnvironment.enabled, "needs LIFEBOAT_TEST_DATABASE_URL (scripts/test sets it)"))
struct CorruptionTests {
    @Test func flippedByteIsCaughtByVerifyAndRestoreLeavesTargetUntouched() throws {
        let source = try TestDatabase.create("flip_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()
        #expect(try lifeboat.run(["verify"]).status == 0)

        let data = lifeboat.backups.appendingPathComponent("\(id)/data")
        let file = data.appendingPathComponent(
            try #require(FileManager.default.contentsOfDirectory(atPath: data.path).sorted().last))
        var bytes = try Data(contentsOf: file)
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: file)

        let verify = try lifeboat.run(["verify", id])
        #expect(verify.status == 65)
        #expect(verify.stderr.contains(file.lastPathComponent))
        #expect(verify.stderr.contains("corrupt"))

        let target = try TestDatabase.create("flip_dst")
        let restore = try lifeboat.run(["restore", id, "--into", target.url])
        #expect(restore.status == 65)
        #expect(restore.stderr.split(separator: "\n").count == 1, "\(restore.stderr)")
        #expect(try target.isEmpty())
    }

    @Test func missingArtifactIsReported() throws {
        let source = try TestDatabase.create("gone_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()
        try FileManager.default.removeItem(at: lifeboat.backups.appendingPathComponent("\(id)/schema.pgdump.zst"))
        let verify = try lifeboat.run(["verify"])
        #expect(verify.status == 66)
        #expect(verify.stderr.contains("schema.pgdump"))
    }

    @Test func damagedManifestIsRefused() throws {
        let source = try TestDatabase.create("manifest_src")
        try source.execute(Fixtures.small)
        let lifeboat = try LifeboatRunner(source: source.url)
        defer { lifeboat.cleanUp() }
        let id = try lifeboat.backup()
        try Data("{ not json".utf8).write(to: lifeboat.backups.appendingPathComponent("\(id)/manifest.json"))
        let verify = try lifeboat.run(["verify", id])
        #expect(verify.status == 65)
        #expect(verify.stderr.contains("not a valid manifest"))
    }
}
