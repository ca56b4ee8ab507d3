import Foundation
import LifeboatCore

/// zstd compression for any target, through libzstd's streaming API: standard frames (with content checksums)
/// that `zstd -t` accepts and `zstd -dc` decodes, multithreaded compression, bounded memory both ways.
public struct ZstdCodec: StreamCodec {
    /// The level used when the configuration gives none.
    public static let defaultLevel = 3

    public let name = "zstd"
    public let fileExtension = ".zst"
    /// The compression level, 1...19.
    public let compressionLevel: Int
    /// Compression threads; 1 compresses on the calling worker thread alone.
    public let threads: Int

    public var level: Int? { compressionLevel }

    /// Creates a codec from a `compression:` setting.
    public init(config: CompressionConfig) throws {
        compressionLevel = config.level ?? Self.defaultLevel
        threads = config.threads ?? min(ProcessInfo.processInfo.activeProcessorCount, 64)
        guard (1...19).contains(compressionLevel), (1...64).contains(threads) else {
            throw LifeboatError(.configInvalid, "zstd level must be 1-19 and threads 1-64")
        }
    }

    public func makeEncoder() throws -> any StreamEncoder {
        try ZstdEncoder(level: compressionLevel, threads: threads)
    }

    public func makeDecoder() throws -> any StreamDecoder {
        try ZstdDecoder()
    }
}
