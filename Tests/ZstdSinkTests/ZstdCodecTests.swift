import Crypto
import Foundation
import LifeboatCore
import LifeboatZstd
import Testing

@Suite struct ZstdCodecTests {
    func codec(level: Int? = nil, threads: Int? = nil) throws -> ZstdCodec {
        try ZstdCodec(config: CompressionConfig(codec: "zstd", level: level, threads: threads))
    }

    /// Compresses `chunks` and returns the frame.
    func compress(_ chunks: [[UInt8]], with codec: ZstdCodec) async throws -> [UInt8] {
        let encoder = try codec.makeEncoder()
        var stored: [UInt8] = []
        for chunk in chunks { stored += try await encoder.encode(chunk) }
        return stored + (try await encoder.finish())
    }

    /// Decompresses `stored`, fed in pieces of `feed` bytes.
    func decompress(_ stored: [UInt8], feed: Int = 1 << 20) async throws -> [UInt8] {
        let decoder = try codec().makeDecoder()
        var raw: [UInt8] = []
        var offset = 0
        repeat {
            let end = min(stored.count, offset + feed)
            try await decoder.decode(Array(stored[offset..<end])) { raw += $0 }
            offset = end
        } while offset < stored.count
        try await decoder.finish()
        return raw
    }

    static func sample(_ size: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        let words = (0..<64).map { _ in Array("word\(generator.next() % 1000) ".utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var index = 0
        while bytes.count < size {
            bytes += words[(index * 7919) % words.count]
            index += 1
        }
        return Array(bytes.prefix(size))
    }

    @Test(arguments: [(1, 1), (3, 1), (3, 2), (9, 2), (19, 1)])
    func roundTripsAtLevelAndThreads(level: Int, threads: Int) async throws {
        let raw = Self.sample(3 << 20 + 12_345)
        let chunks = stride(from: 0, to: raw.count, by: 1 << 20).map { Array(raw[$0..<min(raw.count, $0 + (1 << 20))]) }
        let stored = try await compress(chunks, with: try codec(level: level, threads: threads))
        #expect(stored.count < raw.count / 2)
        #expect(try await decompress(stored) == raw)
        #expect(try await decompress(stored, feed: 1000) == raw)
    }

    @Test func emptyStreamIsAValidFrame() async throws {
        let stored = try await compress([], with: try codec())
        #expect(!stored.isEmpty)
        #expect(try await decompress(stored).isEmpty)
    }

    @Test func defaultsAreLevel3OnEveryCore() throws {
        let codec = try codec()
        #expect(codec.level == 3)
        #expect(codec.threads == ProcessInfo.processInfo.activeProcessorCount)
        #expect(codec.fileExtension == ".zst")
        #expect(throws: LifeboatError.self) { try self.codec(level: 20) }
    }

    /// 2 GiB, generated as it goes and never stored: the codec streams whatever the size.
    @Test func multiGibibyteStreamRoundTrips() async throws {
        let block = Self.sample(1 << 20)
        let encoder = try codec(level: 1, threads: 2).makeEncoder()
        let decoder = try codec().makeDecoder()
        var rawHash = SHA256(), decodedHash = SHA256()
        var decodedBytes = 0, largestPiece = 0
        for index in 0..<2048 {
            var chunk = block
            withUnsafeBytes(of: index) { chunk.replaceSubrange(0..<$0.count, with: $0) }
            rawHash.update(data: chunk)
            try await decoder.decode(try await encoder.encode(chunk)) { piece in
                decodedHash.update(data: piece)
                decodedBytes += piece.count
                largestPiece = max(largestPiece, piece.count)
            }
        }
        try await decoder.decode(try await encoder.finish()) { piece in
            decodedHash.update(data: piece)
            decodedBytes += piece.count
        }
        try await decoder.finish()
        #expect(decodedBytes == 2 << 30)
        #expect(Array(decodedHash.finalize()) == Array(rawHash.finalize()))
        #expect(largestPiece <= 1 << 20)
    }

    @Test func highlyCompressedInputDecodesInBoundedPieces() async throws {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let stored = try await compress(Array(repeating: zeros, count: 256), with: try codec(level: 19, threads: 1))
        #expect(stored.count < 64 << 10)
        let decoder = try codec().makeDecoder()
        var pieces = 0, total = 0, largest = 0
        try await decoder.decode(stored) { piece in
            pieces += 1
            total += piece.count
            largest = max(largest, piece.count)
        }
        try await decoder.finish()
        #expect(total == 256 << 20)
        #expect(largest <= 1 << 20)
        #expect(pieces >= 256)
    }

    @Test func truncatedFrameIsAnError() async throws {
        let stored = try await compress([Self.sample(500_000)], with: try codec())
        await #expect {
            try await decompress(Array(stored.dropLast(10)))
        } throws: { "\($0)".contains("truncated") }
    }

    @Test func corruptFrameIsAnError() async throws {
        var stored = try await compress([Self.sample(500_000)], with: try codec(threads: 1))
        stored[stored.count / 2] ^= 0xff
        await #expect(throws: CodecError.self) { try await decompress(stored) }
    }

    @Test func nonZstdInputIsAnError() async throws {
        await #expect {
            try await decompress(Array("COPY public.t FROM stdin;\n1\tone\n".utf8))
        } throws: { "\($0)".contains("zstd") }
    }

    @Test func framesWeWriteSatisfyTheZstdCommandLine() async throws {
        let raw = Self.sample(2 << 20)
        let stored = try await compress([raw], with: try codec(threads: 2))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zstd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("a.zst")
        try Data(stored).write(to: file)

        #expect(try await run("/usr/bin/zstd", ["-q", "-t", file.path]).status.succeeded)
        #expect(try await run("/usr/bin/zstd", ["-q", "-dc", file.path]).output == raw)
    }

    @Test func framesFromTheZstdCommandLineDecode() async throws {
        let raw = Self.sample(3 << 20)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("zstd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("raw")
        try Data(raw).write(to: file)
        let first = try await run("/usr/bin/zstd", ["-q", "-19", "-c", file.path]).output
        let second = try await run("/usr/bin/zstd", ["-q", "-1", "-T2", "-c", file.path]).output
        // Two concatenated frames decode to the two inputs one after the other, as `zstd -dc` does.
        #expect(try await decompress(first + second, feed: 70_000) == raw + raw)
    }

    func run(_ program: String, _ arguments: [String]) async throws -> (status: ChildProcess.Status, output: [UInt8]) {
        let child = try ChildProcess(executable: program, arguments: arguments)
        var output: [UInt8] = []
        while let chunk = try await child.readOutput() { output += chunk }
        return (await child.wait(), output)
    }
}
