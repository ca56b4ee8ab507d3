import LifeboatCore

/// Encrypts an artifact on its way to the inner target, in frames of at most ``frameSize`` bytes. The latest frame
/// is held back until the next write or the commit, which seals it as the last.
final class EncryptingWriter: ArtifactWriter, @unchecked Sendable {
    /// The most plaintext one frame holds, well under what a reader accepts.
    static let frameSize = 1 << 20
    private let inner: any ArtifactWriter
    private let sealing: Sealing
    // Touched by one caller at a time: the engine awaits each write before the next.
    private var pending: [UInt8]?
    private var index = 0

    init(inner: any ArtifactWriter, sealing: Sealing) {
        self.inner = inner
        self.sealing = sealing
    }

    func write(_ chunk: [UInt8]) async throws {
        for start in stride(from: 0, to: chunk.count, by: Self.frameSize) {
            if let pending { try await flush(pending, last: false) }
            pending = Array(chunk[start..<min(chunk.count, start + Self.frameSize)])
        }
    }

    func commit() async throws {
        try await flush(pending ?? [], last: true)
        pending = nil
        try await inner.commit()
    }

    func abort() async { await inner.abort() }

    private func flush(_ plaintext: [UInt8], last: Bool) async throws {
        try await inner.write(try sealing.seal(plaintext, index: index, last: last))
        index += 1
    }
}

/// Decrypts an artifact read from the inner target, frame by frame; a stream that ends before its last frame, or
/// goes on after it, is an error.
final class DecryptingReader: ArtifactReader, @unchecked Sendable {
    private let inner: any ArtifactReader
    private let sealing: Sealing
    // Touched by one caller at a time: readers are read in order.
    private var frames = FrameSplitter()
    private var index = 0
    private var sawLast = false

    init(inner: any ArtifactReader, sealing: Sealing) {
        self.inner = inner
        self.sealing = sealing
    }

    func read() async throws -> [UInt8]? {
        while true {
            if let (box, last) = try frames.next(context: sealing.context) {
                guard !sawLast else { throw damaged("goes on after its last frame") }
                let plaintext = try sealing.open(box, index: index, last: last)
                index += 1
                sawLast = last
                if !plaintext.isEmpty { return plaintext }
                continue
            }
            guard let stored = try await inner.read() else {
                guard sawLast, !frames.hasLeftovers else { throw damaged("was cut short") }
                return nil
            }
            frames.append(stored)
        }
    }

    func close() async { await inner.close() }

    private func damaged(_ problem: String) -> LifeboatError {
        LifeboatError(.checksumMismatch, "\(sealing.context) \(problem); it is damaged")
    }
}
