import Crypto

/// Running SHA-256 and byte count of a stream: what manifests record, and what a sink may check its program
/// or service against.
public struct StreamDigest {
    private var hasher = SHA256()
    /// The bytes seen so far.
    public private(set) var byteCount = 0

    /// Starts an empty digest.
    public init() {}

    /// Adds the next bytes of the stream.
    public mutating func update(_ chunk: [UInt8]) {
        hasher.update(data: chunk)
        byteCount += chunk.count
    }

    /// The lowercase hex SHA-256 of everything seen.
    public func hexDigest() -> String {
        hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
