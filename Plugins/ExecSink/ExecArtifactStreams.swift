import LifeboatCore

/// Streams one artifact into `program put ID NAME` and checks the size and SHA-256 it reports having stored. Each
/// chunk, and the reply after the last, must come within the program's timeout.
final class ExecArtifactWriter: ArtifactWriter, @unchecked Sendable {
    /// The most a `put` may print on stdout: its reply is one short line.
    static let replyLimit = 64 << 10
    private let program: ExecProgram
    private let name: String
    private let child: ChildProcess
    /// The program's stdout, read all along so that a chatty program cannot block on a full pipe.
    private let reply: Task<[UInt8]?, any Error>
    // Touched by one caller at a time: the engine awaits each write before the next.
    private var sent = StreamDigest()

    init(program: ExecProgram, backupID: String, name: String) throws {
        self.program = program
        self.name = name
        let child = try program.start("put", [backupID, name], input: true)
        self.child = child
        reply = Task { try await ExecProgram.readAll(child, limit: ExecArtifactWriter.replyLimit) }
    }

    func write(_ chunk: [UInt8]) async throws {
        sent.update(chunk)
        let child = self.child
        do {
            try await program.guarded("put", child) { try await child.writeInput(chunk) }
        } catch let error as LifeboatError where error.code == .io {
            // The program stopped reading: its exit says why.
            await child.closeInput()
            _ = try? await reply.value
            let status = await child.wait()
            throw status.succeeded
                ? program.violation("put", "exited before reading all of its input") : program.failure("put", status)
        }
    }

    func commit() async throws {
        let child = self.child, reply = self.reply
        let (output, status) = try await program.guarded("put", child) {
            await child.closeInput()
            return (try await reply.value, await child.wait())
        }
        guard let output else { throw program.violation("put", "printed more than 64 KiB on stdout") }
        guard case .done = try program.reply(to: "put", status, output: output) else {
            throw program.violation("put", "exited with code \(ExecProgram.absentExitCode)")
        }
        try program.checkStored("put", reply: output, name: name, sent: sent)
    }

    /// Stops the program's process group (a stopped `put` must leave no artifact) and reaps it.
    func abort() async {
        ExecProgram.stop(child)
        await child.closeInput()
        reply.cancel()
        _ = await child.wait()
    }
}

/// Streams one artifact out of `program get ID NAME`; each chunk must come within the program's timeout, and the
/// program's failure after its last byte is an error.
final class ExecArtifactReader: ArtifactReader, @unchecked Sendable {
    private let program: ExecProgram
    private let child: ChildProcess
    // Touched by one caller at a time: readers are read in order.
    private var first: [UInt8]?
    private var finished = false

    private init(program: ExecProgram, child: ChildProcess, first: [UInt8]?) {
        self.program = program
        self.child = child
        self.first = first
        finished = first == nil
    }

    /// Starts the program and reads the first chunk, so that an absent artifact is known at once.
    /// - Returns: `nil` when the program says the artifact is absent.
    static func open(_ program: ExecProgram, backupID: String, name: String) async throws -> ExecArtifactReader? {
        let child = try program.start("get", [backupID, name], input: false)
        let first: [UInt8]?
        do {
            first = try await program.guarded("get", child) { try await child.readOutput() }
        } catch {
            ExecProgram.stop(child)
            _ = await child.wait()
            throw error
        }
        if first == nil, case .absent = try program.reply(to: "get", await child.wait(), output: []) { return nil }
        return ExecArtifactReader(program: program, child: child, first: first)
    }

    func read() async throws -> [UInt8]? {
        if let chunk = first {
            first = nil
            return chunk
        }
        let child = self.child
        if !finished, let chunk = try await program.guarded("get", child, { try await child.readOutput() }) {
            return chunk
        }
        finished = true
        let status = await child.wait()
        guard status.succeeded else {
            throw LifeboatError(.artifactMissing, program.failure("get", status).message)
        }
        return nil
    }

    func close() async {
        ExecProgram.stop(child)
        _ = await child.wait()
    }
}
