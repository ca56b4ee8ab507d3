internal import CZstd
import LifeboatCore

/// Compresses one stream into one zstd frame on a thread of its own (libzstd's workers do the heavy lifting when
/// `threads` > 1).
final class ZstdEncoder: StreamEncoder, @unchecked Sendable {
    private let worker = BlockingWorker(name: "lifeboat-zstd-encode")
    // Touched only on `worker`'s thread, or in deinit.
    private var context: OpaquePointer?
    private var output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())

    init(level: Int, threads: Int) throws {
        guard let context = ZSTD_createCCtx() else { throw LifeboatError(.internalError, "zstd: out of memory") }
        self.context = context
        try ZstdStatus.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
        try ZstdStatus.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        if threads > 1 {
            // A libzstd built without threads refuses this; it then compresses on this worker alone.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(threads))
            // 4 MiB jobs: the same ratio and speed as libzstd's default here, at about half the peak memory.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_jobSize, 4 << 20)
        }
    }

    deinit {
        if let context { ZSTD_freeCCtx(context) }
    }

    func encode(_ chunk: [UInt8]) async throws -> [UInt8] {
        try await worker.run { try self.compress(chunk, directive: ZSTD_e_continue) }
    }

    func finish() async throws -> [UInt8] {
        try await worker.run {
            let tail = try self.compress([], directive: ZSTD_e_end)
            ZSTD_freeCCtx(self.context)
            self.context = nil
            return tail
        }
    }

    /// Feeds all of `chunk`; with `ZSTD_e_end`, also flushes until the frame is complete.
    private func compress(_ chunk: [UInt8], directive: ZSTD_EndDirective) throws -> [UInt8] {
        guard let context else { throw LifeboatError(.internalError, "zstd: encoder used after finish") }
        var result: [UInt8] = []
        try chunk.withUnsafeBytes { source in
            var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            var remaining = 1
            while input.pos < input.size || (directive == ZSTD_e_end && remaining != 0) {
                remaining = try output.withUnsafeMutableBytes { target in
                    var out = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    let status = ZSTD_compressStream2(context, &out, &input, directive)
                    try ZstdStatus.check(status)
                    result.append(contentsOf: target.prefix(out.pos))
                    return status
                }
            }
        }
        return result
    }
}

/// libzstd's size_t results: an error code or a count.
enum ZstdStatus {
    static func check(_ status: Int) throws {
        if ZSTD_isError(status) != 0 { throw CodecError("zstd: " + String(cString: ZSTD_getErrorName(status))) }
    }
}
