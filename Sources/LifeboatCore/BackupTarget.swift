/// One place a backup run writes to, with how its artifacts are encoded and whether the run must succeed there.
public struct BackupTarget: Sendable {
    /// Where the backup goes.
    public let sink: any Sink
    /// The target's encoding setting. Targets with equal settings share one encoder: their bytes are encoded once.
    public let compression: CompressionConfig
    /// The codec made from ``compression``; `nil` stores raw bytes.
    public let codec: (any StreamCodec)?
    /// A failing required target fails the run; a failing optional one is recorded and the run goes on.
    public let required: Bool
    /// Bytes that may wait for this target per artifact being written, before the run slows down to its pace.
    public let bufferBytes: Int

    /// The default of ``bufferBytes``: 4 MiB.
    public static let defaultBufferBytes = 4 << 20

    /// Creates a target.
    public init(
        sink: any Sink, compression: CompressionConfig, codec: (any StreamCodec)?, required: Bool = true,
        bufferBytes: Int = BackupTarget.defaultBufferBytes
    ) {
        self.sink = sink
        self.compression = compression
        self.codec = codec
        self.required = required
        self.bufferBytes = bufferBytes
    }
}
