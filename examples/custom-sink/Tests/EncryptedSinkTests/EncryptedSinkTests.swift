import Foundation
import LifeboatCLI
import LifeboatCore
import LifeboatSinkTests
import Testing

@testable import EncryptedSink

/// The encrypted target passes Lifeboat's sink conformance kit around a local folder, keeps no plaintext there,
/// and reports a wrong key, a changed byte or a cut-short artifact as damage.
@Suite struct EncryptedSinkTests {
    /// A fresh folder holding a key file and the inner target's folder.
    struct Place {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("encrypted-\(UUID().uuidString)")
        var keyFile: String { folder.appendingPathComponent("offsite.key").path }
        var store: URL { folder.appendingPathComponent("store") }

        init(mode: Int = 0o600) throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try writeKey(Data((0..<32).map { _ in UInt8.random(in: 0...255) }), mode: mode)
        }

        func writeKey(_ key: Data, mode: Int = 0o600) throws {
            try (key.base64EncodedString() + "\n").write(toFile: keyFile, atomically: false, encoding: .utf8)
            chmod(keyFile, mode_t(mode))
        }

        func sink() throws -> EncryptedSink {
            try EncryptedSink(
                target: TargetConfig(
                    name: "offsite", url: "encrypted://", options: ["inner": store.path, "key_file": keyFile]),
                registry: .builtIn)
        }

        func remove() { try? FileManager.default.removeItem(at: folder) }
    }

    @Test(arguments: SinkConformance.checks)
    func conformance(check: SinkConformance.Check) async throws {
        let place = try Place()
        defer { place.remove() }
        try await SinkConformance { try place.sink() }.run(check)
    }

    /// Writes one backup with one artifact and returns its id.
    func backUp(_ bytes: [UInt8], to sink: EncryptedSink, chunk: Int = 100_000) async throws -> String {
        let id = "20250101000000"
        let writer = try #require(try await sink.beginBackup(id: id))
        let artifact = try await writer.makeArtifactWriter(name: "data/000001-public.secrets.copy")
        for start in stride(from: 0, to: bytes.count, by: chunk) {
            try await artifact.write(Array(bytes[start..<min(bytes.count, start + chunk)]))
        }
        try await artifact.commit()
        try await writer.commit(manifest: Array(#"{"table": "public.secrets"}"#.utf8))
        return id
    }

    func read(_ sink: EncryptedSink, _ id: String) async throws -> [UInt8] {
        let reader = try await sink.openArtifact(backupID: id, name: "data/000001-public.secrets.copy")
        defer { Task { await reader.close() } }
        var bytes: [UInt8] = []
        while let chunk = try await reader.read() { bytes += chunk }
        return bytes
    }

    @Test func theInnerTargetHoldsNoPlaintext() async throws {
        let place = try Place()
        defer { place.remove() }
        let text = Array(String(repeating: "card 4111-1111-1111-1111\n", count: 20_000).utf8)
        let id = try await backUp(text, to: try place.sink())
        for file in try FileManager.default.subpathsOfDirectory(atPath: place.store.path) {
            let stored = (try? Data(contentsOf: place.store.appendingPathComponent(file))) ?? Data()
            #expect(stored.range(of: Data("4111-1111".utf8)) == nil, "\(file) holds plaintext")
            #expect(stored.range(of: Data("public.secrets\"".utf8)) == nil, "\(file) holds the manifest in clear")
        }
        #expect(try await read(place.sink(), id) == text)
    }

    @Test func aWrongKeyIsReportedAsSuch() async throws {
        let place = try Place()
        defer { place.remove() }
        let id = try await backUp(Array(repeating: 1, count: 1000), to: try place.sink())
        try place.writeKey(Data(repeating: 7, count: 32))
        let sink = try place.sink()
        await #expect {
            _ = try await sink.readManifest(backupID: id)
        } throws: { error in
            (error as? LifeboatError)?.code == .checksumMismatch && "\(error)".contains("encrypted with another key")
        }
        await #expect { _ = try await read(sink, id) } throws: { ($0 as? LifeboatError)?.code == .checksumMismatch }
    }

    @Test func aChangedOrCutShortArtifactIsDamage() async throws {
        let place = try Place()
        defer { place.remove() }
        let id = try await backUp(Array(repeating: 5, count: 350_000), to: try place.sink())
        let file = place.store.appendingPathComponent("\(id)/data/000001-public.secrets.copy")
        let stored = try Data(contentsOf: file)

        var changed = stored
        changed[stored.count / 2] ^= 1
        try changed.write(to: file)
        await #expect { _ = try await read(place.sink(), id) } throws: { ($0 as? LifeboatError)?.code == .checksumMismatch }

        // Whole frames dropped from the end: every frame left is genuine, but the last one is missing.
        try stored.prefix(2 * (5 + 28 + 100_000)).write(to: file)
        await #expect {
            _ = try await read(place.sink(), id)
        } throws: { error in
            "\(error)".contains("was cut short")
        }
    }

    @Test func anArtifactMovedToAnotherNameIsDamage() async throws {
        let place = try Place()
        defer { place.remove() }
        let id = try await backUp(Array(repeating: 9, count: 1000), to: try place.sink())
        let data = place.store.appendingPathComponent("\(id)/data")
        try FileManager.default.moveItem(
            at: data.appendingPathComponent("000001-public.secrets.copy"), to: data.appendingPathComponent("000002-public.other.copy"))
        let reader = try await place.sink().openArtifact(backupID: id, name: "data/000002-public.other.copy")
        await #expect { _ = try await reader.read() } throws: { "\($0)".contains("encrypted with another key, or changed") }
        await reader.close()
    }

    @Test func aLargeWriteIsSplitIntoFramesAReaderAccepts() async throws {
        let place = try Place()
        defer { place.remove() }
        let bytes = (0..<(70 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let id = try await backUp(bytes, to: try place.sink(), chunk: bytes.count)
        #expect(try await read(place.sink(), id) == bytes)
    }

    @Test func aKeyReachedThroughASymbolicLinkIsAccepted() throws {
        let place = try Place()
        defer { place.remove() }
        let link = place.folder.appendingPathComponent("link.key").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: place.keyFile)
        _ = try EncryptedSink(
            target: TargetConfig(name: "offsite", url: "encrypted://", options: ["inner": place.store.path, "key_file": link]),
            registry: .builtIn)
    }

    @Test func aKeyOthersCanReadOrAShortKeyIsRefused() throws {
        let open = try Place(mode: 0o644)
        defer { open.remove() }
        #expect { _ = try open.sink() } throws: { "\($0)".contains("can be read by other users; chmod 600 it") }
        let short = try Place()
        defer { short.remove() }
        try short.writeKey(Data(repeating: 1, count: 16))
        #expect { _ = try short.sink() } throws: { "\($0)".contains("must hold 32 bytes in base64") }
    }
}
