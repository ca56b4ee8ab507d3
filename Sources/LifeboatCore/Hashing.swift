import Crypto

/// Running SHA-256 and byte count of a stream.
struct StreamDigest {
    private var hasher = SHA256()
    private(set) var byteCount = 0

    mutating func update(_ chunk: [UInt8]) {
        hasher.update(data: chunk)
        byteCount += chunk.count
    }

    /// The lowercase hex SHA-256 of everything seen.
    func hexDigest() -> String {
        hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
