internal import CLibPQ
import Foundation
import LifeboatCore

/// A libpq connection confined to its own thread. Every libpq call runs on `worker`, never on Swift's pool.
final class PGConnection: @unchecked Sendable {
    /// The size of the batches COPY data moves in.
    static let chunkSize = 1 << 20

    private let worker: BlockingWorker
    // Touched only on `worker`'s thread.
    private let handle: OpaquePointer
    private var copyFinished = false
    private var closed = false
    /// Cancels the statement in progress; libpq allows this from any thread.
    private let cancelHandle: OpaquePointer?
    /// The connection's target, for messages.
    let info: ConnectionInfo

    private init(worker: BlockingWorker, handle: OpaquePointer, info: ConnectionInfo) {
        self.worker = worker
        self.handle = handle
        self.info = info
        cancelHandle = PQgetCancel(handle)
    }

    deinit {
        PQfreeCancel(cancelHandle)
        if !closed { PQfinish(handle) }
    }

    /// Runs libpq calls on the connection's thread; if the task is cancelled meanwhile, asks the server to cancel
    /// the statement, so that a blocked query (waiting for a lock, say) cannot hold up Ctrl-C.
    private func interruptible<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try await worker.run(body)
        } onCancel: {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancelHandle, &message, Int32(message.count))
        }
    }

    /// Closes the connection on its own thread.
    func close() async {
        await worker.runCleanup {
            guard !self.closed else { return }
            self.closed = true
            PQfinish(self.handle)
        }
    }

    /// Opens a connection.
    /// - Throws: ``LifeboatError`` saying whether the server is unreachable, the password wrong, or the
    ///   database missing.
    static func connect(_ info: ConnectionInfo, purpose: String) async throws -> PGConnection {
        let worker = BlockingWorker(name: "lifeboat-pg-\(purpose)")
        let box = try await worker.run { () -> HandleBox in
            let handle = PQconnectdb(info.conninfoForLibpq)!
            guard PQstatus(handle) == CONNECTION_OK else {
                let message = String(cString: PQerrorMessage(handle))
                PQfinish(handle)
                throw PostgresErrors.connectionFailure(message, info: info)
            }
            // Server notices ("drop cascades to ...") would reach stderr as extra lines; Lifeboat reports its own.
            PQsetNoticeProcessor(handle, { _, _ in }, nil)
            return HandleBox(handle: handle)
        }
        return PGConnection(worker: worker, handle: box.handle, info: info)
    }

    /// Connects, runs `body`, and closes the connection before returning or throwing (a connection left to close
    /// later would still count as another session of the database).
    static func using<T>(_ info: ConnectionInfo, purpose: String, _ body: (PGConnection) async throws -> T)
        async throws -> T
    {
        let session = try await connect(info, purpose: purpose)
        do {
            let result = try await body(session)
            await session.close()
            return result
        } catch {
            await session.close()
            throw error
        }
    }

    /// The server's version number, e.g. 150018.
    func serverVersion() async throws -> Int {
        try await interruptible { Int(PQserverVersion(self.handle)) }
    }

    /// Runs SQL and returns its rows as text (`nil` for NULL).
    @discardableResult
    func query(_ sql: String) async throws -> [[String?]] {
        try await interruptible { try self.execute(sql) }
    }

    /// Runs each statement in order.
    func run(_ statements: [String]) async throws {
        try await interruptible { for sql in statements { _ = try self.execute(sql) } }
    }

    private func execute(_ sql: String) throws -> [[String?]] {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK: return []
        case PGRES_TUPLES_OK:
            return (0..<PQntuples(result)).map { row in
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                }
            }
        default: throw PostgresErrors.serverError(result, handle)
        }
    }

    // MARK: COPY TO STDOUT

    /// Runs `COPY ... TO STDOUT` and hands the data to `output` in chunks of about 1 MiB, reading the next chunk
    /// while `output` handles the current one.
    /// - Returns: The number of rows copied.
    func copyOut(_ sql: String, to output: @Sendable ([UInt8]) async throws -> Void) async throws -> Int {
        try await interruptible { try self.startCopy(sql, expecting: PGRES_COPY_OUT) }
        var chunk = try await interruptible { try self.readCopyChunk() }
        while !chunk.isEmpty {
            async let next = interruptible { try self.readCopyChunk() }
            try await output(chunk)
            chunk = try await next
        }
        return try await interruptible { try self.finishCopy() }
    }

    private func startCopy(_ sql: String, expecting status: ExecStatusType) throws {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        guard PQresultStatus(result) == status else { throw PostgresErrors.serverError(result, handle) }
        copyFinished = false
    }

    private func readCopyChunk() throws -> [UInt8] {
        var chunk: [UInt8] = []
        guard !copyFinished else { return chunk }
        chunk.reserveCapacity(Self.chunkSize + 65_536)
        while chunk.count < Self.chunkSize {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(handle, &buffer, 0)
            if length > 0, let buffer {
                buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
                    chunk.append(contentsOf: UnsafeBufferPointer(start: $0, count: Int(length)))
                }
                PQfreemem(buffer)
            } else if length == -1 {
                copyFinished = true
                break
            } else {
                throw PostgresErrors.connectionLost(handle)
            }
        }
        return chunk
    }

    /// Reads the COPY's final result and returns its row count.
    private func finishCopy() throws -> Int {
        var rows = 0
        var failure: (any Error)?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if failure == nil {
                failure = PostgresErrors.serverError(result, handle)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return rows
    }

    // MARK: COPY FROM STDIN

    /// Starts `COPY ... FROM STDIN`.
    func beginCopyIn(_ sql: String) async throws {
        try await interruptible { try self.startCopy(sql, expecting: PGRES_COPY_IN) }
    }

    /// Sends one chunk of COPY data.
    func putCopyData(_ chunk: [UInt8]) async throws {
        try await interruptible {
            let sent = chunk.withUnsafeBytes { buffer in
                PQputCopyData(self.handle, buffer.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(buffer.count))
            }
            guard sent == 1 else { throw PostgresErrors.connectionLost(self.handle) }
        }
    }

    /// Ends the COPY successfully and returns the number of rows loaded.
    func endCopyIn() async throws -> Int {
        try await interruptible {
            guard PQputCopyEnd(self.handle, nil) == 1 else { throw PostgresErrors.connectionLost(self.handle) }
            return try self.finishCopy()
        }
    }

    /// Aborts the COPY so that none of its rows are kept.
    func failCopyIn(reason: String) async {
        await worker.runCleanup {
            _ = PQputCopyEnd(self.handle, reason)
            _ = try? self.finishCopy()
        }
    }
}

/// Carries a fresh connection handle from its worker thread to its owner.
private struct HandleBox: @unchecked Sendable {
    let handle: OpaquePointer
}
