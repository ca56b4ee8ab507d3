/// A stream encoding applied to artifacts between the source and every sink, e.g. zstd compression.
///
/// The engine owns the pipeline: raw bytes are hashed, encoded once, hashed again and handed to the sinks, so
/// targets that share a codec setting share the encoded bytes. Encoders and decoders run their C library on a
/// thread of their own.
public protocol StreamCodec: Sendable {
    /// The name recorded in the manifest, e.g. `zstd`.
    var name: String { get }
    /// The compression level recorded in the manifest, if the codec has one.
    var level: Int? { get }
    /// The suffix of encoded artifact names, e.g. `.zst`.
    var fileExtension: String { get }

    /// Starts encoding one artifact.
    func makeEncoder() throws -> any StreamEncoder
    /// Starts decoding one artifact.
    func makeDecoder() throws -> any StreamDecoder
}

/// Encodes one stream.
public protocol StreamEncoder: AnyObject, Sendable {
    /// Encodes a chunk; returns the encoded bytes ready so far (possibly none).
    func encode(_ chunk: [UInt8]) async throws -> [UInt8]
    /// Ends the stream; returns the remaining encoded bytes.
    func finish() async throws -> [UInt8]
}

/// Decodes one stream, in bounded pieces whatever the compression ratio.
public protocol StreamDecoder: AnyObject, Sendable {
    /// Decodes a chunk, handing the decoded bytes to `output` in pieces of bounded size.
    /// - Throws: ``CodecError`` for input the codec cannot decode, or what `output` throws.
    func decode(_ chunk: [UInt8], into output: ([UInt8]) async throws -> Void) async throws
    /// Checks that the stream ended cleanly.
    /// - Throws: ``CodecError`` when the input was truncated.
    func finish() async throws
}

/// A stream that cannot be decoded: corrupt, truncated, or not in the codec's format.
public struct CodecError: Error, CustomStringConvertible {
    /// What the codec said, e.g. `zstd: Unknown frame descriptor`.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// How a target's artifacts are encoded: `compression:` in the configuration.
public struct CompressionConfig: Sendable, Hashable {
    /// The codec name; `none` stores the raw bytes.
    public var codec: String
    /// The level, `nil` for the codec's default.
    public var level: Int?
    /// Compression threads, `nil` for the machine's cores.
    public var threads: Int?

    /// Creates a setting.
    public init(codec: String, level: Int? = nil, threads: Int? = nil) {
        self.codec = codec
        self.level = level
        self.threads = threads
    }

    /// No encoding.
    public static let none = CompressionConfig(codec: "none")
    /// The default: zstd at its default level, on every core.
    public static let `default` = CompressionConfig(codec: "zstd")
}
