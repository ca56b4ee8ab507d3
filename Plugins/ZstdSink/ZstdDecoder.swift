internal import CZstd
import LifeboatCore

/// Decompresses one stream of zstd frames on a thread of its own, in pieces of at most 1 MiB, so that memory
/// stays bounded whatever the compression ratio.
final class ZstdDecoder: StreamDecoder, @unchecked Sendable {
    private static let pieceSize = 1 << 20
    private let worker = BlockingWorker(name: "lifeboat-zstd-decode")
    // Touched only on `worker`'s thread, or in deinit.
    private var context: OpaquePointer?
    /// libzstd's last hint: 0 once a frame is complete and flushed.
    private var pending = 1

    init() throws {
        guard let context = ZSTD_createDCtx() else { throw LifeboatError(.internalError, "zstd: out of memory") }
        self.context = context
    }

    deinit {
        if let context { ZSTD_freeDCtx(context) }
    }

    func decode(_ chunk: [UInt8], into output: ([UInt8]) async throws -> Void) async throws {
        var offset = 0
        var outputFull = false
        repeat {
            let start = offset
            let step = try await worker.run { try self.decompress(chunk, from: start) }
            offset = step.consumedUpTo
            outputFull = step.piece.count == Self.pieceSize
            if !step.piece.isEmpty { try await output(step.piece) }
        } while offset < chunk.count || outputFull
    }

    func finish() async throws {
        try await worker.run {
            ZSTD_freeDCtx(self.context)
            self.context = nil
            guard self.pending == 0 else { throw CodecError("zstd: the stream is truncated (its last frame is incomplete)") }
        }
    }

    /// Decompresses from `chunk[start...]` until the input is used up or one piece of output is full.
    private func decompress(_ chunk: [UInt8], from start: Int) throws -> (piece: [UInt8], consumedUpTo: Int) {
        guard let context else { throw LifeboatError(.internalError, "zstd: decoder used after finish") }
        var piece = [UInt8](repeating: 0, count: Self.pieceSize)
        var consumed = start
        let filled = try chunk.withUnsafeBytes { source in
            try piece.withUnsafeMutableBytes { target in
                var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: start)
                var out = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                // Keep going while there is input, or while output still flows from what was already read.
                var progressed = false
                repeat {
                    let before = (input.pos, out.pos)
                    let status = ZSTD_decompressStream(context, &out, &input)
                    try ZstdStatus.check(status)
                    progressed = input.pos > before.0 || out.pos > before.1
                    // A call that moved nothing reports the hint for a next frame, not the state of this one.
                    if progressed { pending = status }
                } while out.pos < out.size && (input.pos < input.size || (progressed && pending != 0))
                consumed = input.pos
                return out.pos
            }
        }
        piece.removeLast(piece.count - filled)
        return (piece, consumed)
    }
}
