import Crypto
import Foundation
import LifeboatCore

/// The stored form of an encrypted stream: frames of `[length: UInt32 big-endian][last: 0 or 1][AES-GCM box]`,
/// where each box is `nonce || ciphertext || tag` and authenticates, besides its bytes, what it belongs to (backup,
/// artifact), its position, and whether it is the last. So a frame cannot be moved to another artifact or
/// position, and a stream cut short is caught.
struct Sealing: Sendable {
    let key: EncryptionKey
    /// The backup and artifact the frames belong to, e.g. `20250101000000/data/000001-public.t.copy`.
    let context: String

    /// Seals frame number `index` of the stream.
    func seal(_ plaintext: [UInt8], index: Int, last: Bool) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key.symmetric, authenticating: associatedData(index, last))
        let sealed = Array(box.combined!)
        let length = UInt32(sealed.count)
        let header = [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        return header + [last ? 1 : 0] + sealed
    }

    /// Opens frame number `index`.
    /// - Throws: ``LifeboatError`` with code `checksumMismatch` when the frame was not sealed with this key, for
    ///   this place and position.
    func open(_ sealed: [UInt8], index: Int, last: Bool) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return Array(try AES.GCM.open(box, using: key.symmetric, authenticating: associatedData(index, last)))
        } catch {
            throw LifeboatError(
                .checksumMismatch,
                "\(context) cannot be decrypted: it was encrypted with another key, or changed; check key_file")
        }
    }

    private func associatedData(_ index: Int, _ last: Bool) -> [UInt8] {
        Array("lifeboat-encrypted-1 \(context) \(index)\(last ? " last" : "")".utf8)
    }
}

/// A 256-bit key, kept as bytes so that it can cross tasks (swift-crypto's `SymmetricKey` is not `Sendable`).
struct EncryptionKey: Sendable {
    let bytes: [UInt8]

    var symmetric: SymmetricKey { SymmetricKey(data: bytes) }
}

/// Splits stored bytes, arriving in chunks of any size, back into sealed frames.
struct FrameSplitter {
    private var buffer: [UInt8] = []
    /// Frames may not be larger: a length above it means the bytes are not an encrypted stream.
    static let largestFrame = 64 << 20

    /// Adds stored bytes.
    mutating func append(_ chunk: [UInt8]) { buffer += chunk }

    /// The next complete sealed box and whether it says it is the last, if the bytes added so far hold one.
    mutating func next(context: String) throws -> (box: [UInt8], last: Bool)? {
        guard buffer.count >= 5 else { return nil }
        let length = buffer[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length >= 28, length <= Self.largestFrame, buffer[4] <= 1 else {
            throw LifeboatError(.checksumMismatch, "\(context) is not an encrypted stream, or is damaged")
        }
        guard buffer.count >= 5 + length else { return nil }
        let frame = (Array(buffer[5..<5 + length]), buffer[4] == 1)
        buffer.removeFirst(5 + length)
        return frame
    }

    /// Whether bytes of an incomplete frame are left over.
    var hasLeftovers: Bool { !buffer.isEmpty }
}
