import Foundation
import LifeboatCore
import Testing

@testable import LifeboatS3Sink

/// The S3 sink against a real S3-compatible server (moto, signature checking on), started by scripts/test-s3.
@Suite(.enabled(if: S3TestServer.enabled, "needs LIFEBOAT_TEST_S3_ENDPOINT (scripts/test sets it)"))
struct S3SinkTests {
    let sink: S3Sink
    let prefix = "unit-\(UUID().uuidString.prefix(8))"

    init() throws {
        sink = try S3Sink(target: try S3TestServer.target(prefix: prefix))
    }

    func readAll(_ id: String, _ name: String) async throws -> [UInt8] {
        let reader = try await sink.openArtifact(backupID: id, name: name)
        var bytes: [UInt8] = []
        while let chunk = try await reader.read() { bytes += chunk }
        await reader.close()
        return bytes
    }

    static func sample(_ size: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) } }

    @Test func smallArtifactGoesUpInOnePutAndTheManifestLast() async throws {
        let writer = try #require(try await sink.beginBackup(id: "20250103143022"))
        let artifact = try await writer.makeArtifactWriter(name: "schema.pgdump.zst")
        try await artifact.write(Self.sample(1000))
        try await artifact.commit()
        #expect(try await sink.listBackups().isEmpty, "no manifest yet: not a backup")
        try await writer.commit(manifest: Array("{}".utf8))
        #expect(try await sink.listBackups() == ["20250103143022"])
        #expect(try await sink.readManifest(backupID: "20250103143022") == Array("{}".utf8))
        #expect(try await readAll("20250103143022", "schema.pgdump.zst") == Self.sample(1000))
        #expect(try await sink.beginBackup(id: "20250103143022") == nil, "a taken id is refused")
    }

    @Test func aReservedIDIsRefusedToASecondRun() async throws {
        let first = try await sink.beginBackup(id: "20250103143028")
        let second = try await sink.beginBackup(id: "20250103143028")
        #expect(first != nil)
        #expect(second == nil, "two runs in the same second must not share a folder")
        await first?.abort()
        #expect(try await sink.client.list(prefix: sink.key("20250103143028", "")).keys.isEmpty)
    }

    @Test func largeArtifactGoesUpInParallelPartsAndLeavesNoUpload() async throws {
        let data = Self.sample(5 << 20 + 12_345)
        let writer = try #require(try await sink.beginBackup(id: "20250103143023"))
        let artifact = try await writer.makeArtifactWriter(name: "data/000001-public.t.copy.zst")
        for start in stride(from: 0, to: data.count, by: 300_000) {
            try await artifact.write(Array(data[start..<min(data.count, start + 300_000)]))
        }
        try await artifact.commit()
        try await writer.commit(manifest: Array("{}".utf8))
        #expect(try await readAll("20250103143023", "data/000001-public.t.copy.zst") == data)
        let uploads = try await sink.client.listMultipartUploads(prefix: sink.client.settings.prefix)
        #expect(uploads.isEmpty)
    }

    @Test func abortRemovesObjectsAndMultipartUploads() async throws {
        let writer = try #require(try await sink.beginBackup(id: "20250103143024"))
        let done = try await writer.makeArtifactWriter(name: "schema.pgdump.zst")
        try await done.write([1, 2, 3])
        try await done.commit()
        let partial = try await writer.makeArtifactWriter(name: "data/000001-public.t.copy.zst")
        try await partial.write(Self.sample(3 << 20))  // two parts started, upload left open
        // An upload whose CreateMultipartUpload reply was "lost": nobody holds its id.
        _ = try await sink.client.createMultipartUpload(sink.key("20250103143024", "data/000002-public.u.copy.zst"))
        await partial.abort()
        await writer.abort()
        let prefix = sink.key("20250103143024", "")
        #expect(try await sink.client.list(prefix: prefix).keys.isEmpty)
        #expect(try await sink.client.listMultipartUploads(prefix: prefix).isEmpty)
    }

    @Test func listingFollowsContinuationTokens() async throws {
        for index in 0..<25 { try await sink.client.putObject(sink.key("20250103143025", "k\(index)"), [UInt8(index)]) }
        let listed = try await sink.client.list(prefix: sink.key("20250103143025", ""), pageSize: 10)
        #expect(listed.keys.count == 25)
        try await sink.client.deleteObjects(listed.keys)
        #expect(try await sink.client.list(prefix: sink.key("20250103143025", "")).keys.isEmpty)
    }

    @Test func wrongSecretIsRefusedWithoutEchoingIt() async throws {
        var target = try S3TestServer.target(prefix: prefix)
        target.options["secret_access_key"] = "not-the-secret-0123456789"
        let wrong = try S3Sink(target: target)
        await #expect {
            try await wrong.beginBackup(id: "20250103143026")
        } throws: { error in
            let error = error as? LifeboatError
            return error?.code == .authenticationFailed && error?.message.contains("SignatureDoesNotMatch") == true
                && error?.message.contains("not-the-secret") == false
        }
    }

    @Test func missingArtifactAndManifestAreClearErrors() async throws {
        await #expect {
            try await sink.openArtifact(backupID: "20250103143027", name: "schema.pgdump.zst")
        } throws: { ($0 as? LifeboatError)?.code == .artifactMissing }
        await #expect {
            try await sink.readManifest(backupID: "20250103143027")
        } throws: { ($0 as? LifeboatError)?.code == .backupNotFound }
    }
}

/// Where the S3 tests find their server.
enum S3TestServer {
    static let environment = ProcessInfo.processInfo.environment
    static let enabled = environment["LIFEBOAT_TEST_S3_ENDPOINT"] != nil || environment["CI"] == "true"

    /// A target on the test bucket under `prefix`, with small parts so that multipart paths run.
    static func target(prefix: String) throws -> TargetConfig {
        guard let endpoint = environment["LIFEBOAT_TEST_S3_ENDPOINT"], let bucket = environment["LIFEBOAT_TEST_S3_BUCKET"],
            let key = environment["LIFEBOAT_TEST_S3_ACCESS_KEY_ID"],
            let secret = environment["LIFEBOAT_TEST_S3_SECRET_ACCESS_KEY"]
        else { throw S3TestFailure("LIFEBOAT_TEST_S3_* is not set: run the suite with scripts/test") }
        return TargetConfig(
            name: "offsite", url: "s3://\(bucket)/\(prefix)",
            options: ["endpoint": endpoint, "access_key_id": key, "secret_access_key": secret, "part_size_mb": "1",
                      "concurrency": "3"])
    }
}

struct S3TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
